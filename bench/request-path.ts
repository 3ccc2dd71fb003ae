// The spearlet's request path in one process, without socket I/O: a real Spearlet and one authenticated session,
// then chunks of 16 echo REQUESTs emitted on the session's server-side socket while the socket's write() discards what
// it is given. What is left is the JavaScript per request (framing, decode, dispatch, handler, metrics, the RESPONSE
// encoded into the frame writer): nanoseconds of CPU per request, stable to a few percent, where the echo suites'
// figures move by tens of percent with the machine. Compiled, as the suites run:
//   npx tsc -p tsconfig.test.json && node .tmp/test-build/bench/request-path.js [chunks per round]
import * as dc from 'node:diagnostics_channel';
import { once } from 'node:events';
import * as net from 'node:net';
import { pathToFileURL } from 'node:url';
import { mintToken } from '../src/auth/mint.ts';
import { Spearlet } from '../src/spearlet/spearlet.ts';
import { MESH_MAGIC, MessageKind, encodeJson, encodeRequest } from '../src/wire/index.ts';

export interface RequestPathResult {
  /** CPU nanoseconds per request of each round, sorted. */
  readonly nsPerRequest: readonly number[];
  readonly medianNs: number;
  /** Bytes the session wrote (RESPONSE frames): 0 would mean the requests were not answered. */
  readonly answeredBytes: number;
}

const IN_FLIGHT = 16;

export async function measureRequestPath(o: { chunks?: number; rounds?: number; payloadBytes?: number } = {}) {
  const chunks = o.chunks ?? 60_000;
  const rounds = o.rounds ?? 5;
  // The server side of the one connection, as Node accepts it (diagnostics channel 'net.server.socket').
  let serverSocket: net.Socket | undefined;
  const onAccepted = (message: unknown): void => {
    serverSocket = (message as { socket: net.Socket }).socket;
  };
  dc.subscribe('net.server.socket', onAccepted);
  const secret = Buffer.from('request-path-bench-secret-32-bytes!');
  const spearlet = new Spearlet({
    id: 'request-path',
    listen: { host: '127.0.0.1', port: 0 },
    auth: { secret, issuer: 'bench', audience: 'spear-mesh' },
    consul: null,
  });
  const client = new net.Socket();
  try {
    await spearlet.start();
    const token = await mintToken({ secret, sub: 'bench', iss: 'bench', aud: 'spear-mesh', expiresInSec: 600 });
    client.connect(spearlet.tcpAddress?.port ?? 0, '127.0.0.1');
    await once(client, 'connect');
    client.write(
      Buffer.concat([MESH_MAGIC, encodeJson(MessageKind.HELLO, 0n, { v: 1, token, agent: 'bench', features: [] })]),
    );
    await once(client, 'data'); // WELCOME
    const socket = serverSocket;
    if (socket === undefined) throw new Error('request-path: no server-side socket');
    let answeredBytes = 0;
    // Nothing reaches the kernel: the write completes at once, as a loopback write usually does.
    socket.write = (bytes: Uint8Array): boolean => {
      answeredBytes += bytes.length;
      return true;
    };
    const payload = Buffer.alloc(o.payloadBytes ?? 64, 7);
    // The same 16 ids every time: each is answered before the next chunk arrives (echo answers synchronously).
    const chunk = Buffer.concat(
      Array.from({ length: IN_FLIGHT }, (_, i) => encodeRequest(BigInt(i + 1), 0, 0, 'echo', payload)),
    );
    for (let i = 0; i < Math.min(5000, chunks); i++) socket.emit('data', chunk);
    const ns: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = process.cpuUsage();
      for (let i = 0; i < chunks; i++) socket.emit('data', chunk);
      const t = process.cpuUsage(t0);
      ns.push(((t.user + t.system) * 1000) / (chunks * IN_FLIGHT));
    }
    ns.sort((a, b) => a - b);
    socket.destroy();
    return {
      nsPerRequest: ns.map((x) => Math.round(x)),
      medianNs: Math.round(ns[Math.floor(ns.length / 2)] ?? 0),
      answeredBytes,
    } satisfies RequestPathResult;
  } finally {
    dc.unsubscribe('net.server.socket', onAccepted);
    client.destroy();
    await spearlet.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await measureRequestPath(process.argv[2] === undefined ? {} : { chunks: Number(process.argv[2]) });
  process.stdout.write(
    `spearlet request path, 64 B echo, 16 requests per chunk: ${r.nsPerRequest.join(' ')} ns per request ` +
      `(median ${r.medianNs})${r.answeredBytes > 0 ? '' : ' NOT ANSWERED'}\n`,
  );
}
