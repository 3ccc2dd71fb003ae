// Echo servers and clients for every stack the benchmarks compare (raw framing, mesh, grpc-js, Moleculer), in this
// process or in a child process, behind one small interface.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Server } from 'node:net';
import { MeshClient } from '../../src/agent/mesh-client.ts';
import { mintToken } from '../../src/auth/mint.ts';
import { Spearlet } from '../../src/spearlet/spearlet.ts';
import { RawEchoClient, startRawEchoServer } from '../raw-echo.ts';
import {
  connectGrpcEchoClient,
  connectMoleculerEchoClient,
  startGrpcEchoServer,
  startMoleculerEchoServer,
  type MoleculerPorts,
} from './peers.ts';

export type EchoKind = 'raw' | 'mesh' | 'grpc' | 'moleculer';
export type EchoTransport = 'tcp' | 'unix';

export const BENCH_ISSUER = 'bench';
export const BENCH_AUDIENCE = 'spear-mesh';

export interface EchoServerConfig {
  readonly kind: EchoKind;
  readonly transport: EchoTransport;
  /** Required for transport 'unix'. */
  readonly socketPath?: string;
  /** HS256 secret of the spearlet (mesh). */
  readonly secret: string;
  /** Required for moleculer. */
  readonly moleculerPorts?: MoleculerPorts;
}

/** Where a started server listens; plain JSON so a child process can hand it back. */
export interface EchoEndpoint {
  readonly kind: EchoKind;
  readonly transport: EchoTransport;
  readonly port?: number;
  readonly path?: string;
  readonly address?: string;
  readonly moleculerPorts?: MoleculerPorts;
}

export interface EchoServer {
  readonly endpoint: EchoEndpoint;
  /** The child's pid when the server runs in a child process. */
  readonly pid?: number;
  close(): Promise<void>;
}

export interface EchoClient {
  request(payload: Buffer): Promise<unknown>;
  close(): Promise<void>;
}

function closeNetServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
  });
}

export async function startEchoServer(cfg: EchoServerConfig): Promise<EchoServer> {
  const unixPath = (): string => {
    if (cfg.socketPath === undefined) throw new TypeError(`${cfg.kind} over unix needs socketPath`);
    return cfg.socketPath;
  };
  switch (cfg.kind) {
    case 'raw': {
      const server = await startRawEchoServer(cfg.transport === 'unix' ? unixPath() : undefined);
      const a = server.address();
      const endpoint: EchoEndpoint =
        cfg.transport === 'unix'
          ? { kind: 'raw', transport: 'unix', path: unixPath() }
          : { kind: 'raw', transport: 'tcp', port: a !== null && typeof a === 'object' ? a.port : 0 };
      return { endpoint, close: () => closeNetServer(server) };
    }
    case 'mesh': {
      const spearlet = new Spearlet({
        id: 'bench-echo',
        listen: cfg.transport === 'tcp' ? { host: '127.0.0.1', port: 0 } : null,
        ...(cfg.transport === 'unix' ? { socketPath: unixPath() } : {}),
        auth: { secret: Buffer.from(cfg.secret, 'utf8'), issuer: BENCH_ISSUER, audience: BENCH_AUDIENCE },
        consul: null,
      });
      await spearlet.start();
      const endpoint: EchoEndpoint =
        cfg.transport === 'unix'
          ? { kind: 'mesh', transport: 'unix', path: unixPath() }
          : { kind: 'mesh', transport: 'tcp', port: spearlet.tcpAddress?.port ?? 0 };
      return { endpoint, close: () => spearlet.close() };
    }
    case 'grpc': {
      if (cfg.transport !== 'tcp') throw new TypeError('the grpc peer runs over TCP only');
      const s = await startGrpcEchoServer();
      return { endpoint: { kind: 'grpc', transport: 'tcp', address: s.address }, close: () => s.close() };
    }
    case 'moleculer': {
      if (cfg.transport !== 'tcp' || cfg.moleculerPorts === undefined)
        throw new TypeError('moleculer needs tcp and moleculerPorts');
      const s = await startMoleculerEchoServer(cfg.moleculerPorts);
      return {
        endpoint: { kind: 'moleculer', transport: 'tcp', moleculerPorts: cfg.moleculerPorts },
        close: () => s.close(),
      };
    }
  }
}

/** `idempotent`: the mesh client marks its requests idempotent (by default they then carry the move signal). */
export interface EchoClientOptions {
  readonly idempotent?: boolean;
}

export async function connectEchoClient(
  endpoint: EchoEndpoint,
  secret: string,
  options: EchoClientOptions = {},
): Promise<EchoClient> {
  switch (endpoint.kind) {
    case 'raw': {
      const c = await RawEchoClient.connect(
        endpoint.transport === 'unix' ? (endpoint.path ?? '') : (endpoint.port ?? 0),
      );
      return {
        request: (p) => c.request(p),
        close: () => {
          c.close();
          return Promise.resolve();
        },
      };
    }
    case 'mesh': {
      const token = await mintToken({
        secret: Buffer.from(secret, 'utf8'),
        sub: 'bench',
        iss: BENCH_ISSUER,
        aud: BENCH_AUDIENCE,
        expiresInSec: 3600,
      });
      const target = endpoint.transport === 'unix' ? `unix:${endpoint.path ?? ''}` : `127.0.0.1:${endpoint.port ?? 0}`;
      const c = await MeshClient.connect({ endpoints: [target], token, closeGraceMs: 0 });
      if (!c.stats().endpoints.some((e) => e.state === 'READY')) {
        await c.close();
        throw new Error(`bench: MeshClient did not get READY on ${target}`);
      }
      const o = options.idempotent === true ? { idempotent: true } : {};
      return { request: (p) => c.request('echo', p, o), close: () => c.close() };
    }
    case 'grpc':
      return connectGrpcEchoClient(endpoint.address ?? '');
    case 'moleculer':
      if (endpoint.moleculerPorts === undefined) throw new TypeError('moleculer endpoint without ports');
      return connectMoleculerEchoClient(endpoint.moleculerPorts);
  }
}

/** Compiled (this module is JavaScript): the server-child.js beside it; else server-child.ts under tsx. */
const COMPILED = import.meta.url.endsWith('.js');
const CHILD = fileURLToPath(new URL(COMPILED ? './server-child.js' : './server-child.ts', import.meta.url));

/**
 * Starts the server in a child process that runs as this module does: plain JavaScript when this module is compiled
 * (the mesh and peers suites of `npm run bench`, see suite-process.ts), else `node --import tsx
 * bench/echo/server-child.ts`. close() sends SIGTERM (the child exits at once, which writes a --cpu-prof profile)
 * and SIGKILL after 2 s. BENCH_SERVER_NODE_ARGS adds node flags to the child, e.g. '--cpu-prof --cpu-prof-dir=/abs/dir'.
 */
export async function startEchoServerProcess(cfg: EchoServerConfig): Promise<EchoServer> {
  const extra = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(process.execPath, [...extra, ...(COMPILED ? [] : ['--import', 'tsx']), CHILD], {
    // stdin is a pipe the child watches: it exits when this process goes away.
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, BENCH_ECHO_SERVER: JSON.stringify(cfg) },
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  const endpoint = await new Promise<EchoEndpoint>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (line.startsWith('ready ')) resolve(JSON.parse(line.slice(6)) as EchoEndpoint);
    });
    child.once('exit', (code) => {
      reject(new Error(`bench: ${cfg.kind} echo server child exited with ${String(code)}`));
    });
  });
  return {
    endpoint,
    ...(child.pid !== undefined ? { pid: child.pid } : {}),
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
