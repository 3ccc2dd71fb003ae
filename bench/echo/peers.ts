// Peer RPC stacks on the echo workload: @grpc/grpc-js unary echo (raw Buffer serializers, no .proto) and a
// Moleculer 0.14 echo action over its TCP transporter (static URLs on 127.0.0.1, UDP discovery off).
import * as grpc from '@grpc/grpc-js';
import moleculer from 'moleculer';

const ECHO_PATH = '/bench.Echo/Echo';
const identity = (b: Buffer): Buffer => b;

const ECHO_SERVICE: grpc.ServiceDefinition = {
  Echo: {
    path: ECHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

export interface PeerServer {
  /** grpc: 'host:port'; moleculer: unused (the static URL list says where). */
  readonly address: string;
  close(): Promise<void>;
}

export interface PeerClient {
  request(payload: Buffer): Promise<unknown>;
  close(): Promise<void>;
}

export async function startGrpcEchoServer(): Promise<PeerServer> {
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      callback(null, call.request);
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => {
      if (err === null) resolve(p);
      else reject(err);
    });
  });
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => {
          resolve();
        });
      }),
  };
}

export async function connectGrpcEchoClient(address: string): Promise<PeerClient> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  await new Promise<void>((resolve, reject) => {
    client.waitForReady(Date.now() + 10_000, (err) => {
      if (err === undefined) resolve();
      else reject(err);
    });
  });
  const metadata = new grpc.Metadata();
  return {
    request: (payload) =>
      new Promise<Buffer>((resolve, reject) => {
        client.makeUnaryRequest(ECHO_PATH, identity, identity, payload, metadata, (err, res) => {
          if (err === null && res !== undefined) resolve(res);
          else reject(err ?? new Error('grpc: empty response'));
        });
      }),
    close: () => {
      client.close();
      return Promise.resolve();
    },
  };
}

/** Both ends of the Moleculer pair must know both TCP ports up front (static URLs). */
export interface MoleculerPorts {
  readonly server: number;
  readonly client: number;
}

const SERVER_NODE = 'bench-server';
const CLIENT_NODE = 'bench-client';

function broker(nodeID: string, ports: MoleculerPorts): moleculer.ServiceBroker {
  return new moleculer.ServiceBroker({
    nodeID,
    logger: false,
    transporter: {
      type: 'TCP',
      options: {
        udpDiscovery: false,
        urls: [`127.0.0.1:${ports.server}/${SERVER_NODE}`, `127.0.0.1:${ports.client}/${CLIENT_NODE}`],
      },
    },
  });
}

/**
 * Moleculer's default JSON serializer cannot carry a Buffer as bytes, so its echo carries a latin1 string of the
 * same length as the payload (the closest like-for-like it offers without a custom serializer).
 */
export async function startMoleculerEchoServer(ports: MoleculerPorts): Promise<PeerServer> {
  const b = broker(SERVER_NODE, ports);
  b.createService({
    name: 'echo',
    actions: {
      echo: (ctx: moleculer.Context<{ p: string }>) => ctx.params.p,
    },
  });
  await b.start();
  return { address: `127.0.0.1:${ports.server}`, close: () => b.stop() };
}

export async function connectMoleculerEchoClient(ports: MoleculerPorts): Promise<PeerClient> {
  const b = broker(CLIENT_NODE, ports);
  await b.start();
  await b.waitForServices('echo', 30_000);
  let last: Buffer | undefined;
  let text = '';
  return {
    request: (payload) => {
      if (payload !== last) {
        last = payload;
        text = payload.toString('latin1');
      }
      return b.call('echo.echo', { p: text });
    },
    close: () => b.stop(),
  };
}
