// `node --import tsx bench/preauth-flood.ts [--connections N] [--seconds S]`: issue 12's pre-authentication figure.
// A spearlet child process (default limits) faces N unauthenticated connections spread over 127.0.0.0/8 source
// addresses; each sends the preface, a frame header announcing a HELLO of exactly --max-hello-size bytes, then
// trickles one byte per second. Meanwhile one authenticated client sends echo requests at 100/s. Prints the spearlet's
// peak RSS (VmHWM) and the echo latency percentiles; pass = peak RSS < 512 MiB and echo p99 < 50 ms.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mintToken } from '../src/auth/mint.ts';
import { DEFAULT_MAX_HELLO_SIZE } from '../src/spearlet/options.ts';
import { MESH_MAGIC, writeFrameHeader } from '../src/wire/index.ts';
import { RawClient } from '../test/spearlet/raw-client.ts';

const { values } = parseArgs({
  options: { connections: { type: 'string', default: '10000' }, seconds: { type: 'string', default: '20' } },
});
const N = Number(values.connections);
const SECONDS = Number(values.seconds);
const BIN = fileURLToPath(new URL('../bin/spear-mesh.js', import.meta.url));

const dir = await mkdtemp(join(tmpdir(), 'preauth-flood-'));
const secret = randomBytes(32);
await writeFile(join(dir, 'secret'), secret);
const child = spawn(
  process.execPath,
  [BIN, 'spearlet', '--id', 'flood', '--no-consul', '--issuer', 'i', '--audience', 'a'].concat([
    '--token-secret-file',
    join(dir, 'secret'),
  ]),
  { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SPEAR_LOG_LEVEL: 'error' } },
);
const line = await new Promise<string>((resolve) => {
  createInterface({ input: child.stdout }).on('line', (l) => {
    if (l.startsWith('spearlet flood listening')) resolve(l);
  });
});
const m = /tcp=(\S+):(\d+)/.exec(line);
const target = { host: m?.[1] ?? '127.0.0.1', port: Number(m?.[2]) };

const header = Buffer.alloc(8);
writeFrameHeader(header, 0, DEFAULT_MAX_HELLO_SIZE);
const opening = Buffer.concat([MESH_MAGIC, header]);
const sockets = new Set<Socket>();
let opened = 0;
let refused = 0;
function attacker(i: number): void {
  // 64 per address is the default per-source cap; spread the flood as a botnet would.
  const localAddress = `127.0.${Math.floor(i / 250) % 250}.${(i % 250) + 2}`;
  const s = connect({ ...target, localAddress });
  s.on('error', () => undefined);
  s.on('connect', () => {
    opened++;
    s.write(opening);
  });
  s.on('close', () => {
    sockets.delete(s);
    refused++;
  });
  sockets.add(s);
}
for (let i = 0; i < N; i++) {
  attacker(i);
  if (i % 500 === 499) await new Promise((r) => setImmediate(r));
}
const trickle = setInterval(() => {
  for (const s of sockets) if (!s.destroyed && s.writable) s.write(Buffer.from([0x7b]));
}, 1000);

const token = await mintToken({ secret, sub: 'bench', iss: 'i', aud: 'a', expiresInSec: 600 });
const { client } = await RawClient.open(target, token);
const latencies: number[] = [];
let id = 0n;
const until = Date.now() + SECONDS * 1000;
let peakPending = 0;
while (Date.now() < until) {
  const t0 = performance.now();
  client.request(++id, 'echo', 'x');
  await client.nextMessage(10_000, { skipPings: true });
  latencies.push(performance.now() - t0);
  peakPending = Math.max(peakPending, sockets.size);
  await new Promise((r) => setTimeout(r, 10));
}
clearInterval(trickle);
const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
const hwmKiB = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]);
latencies.sort((a, b) => a - b);
const pct = (p: number): number =>
  latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
const result = {
  connections: N,
  connected: opened,
  closedBySpearlet: refused,
  attackerSocketsOpenAtPeak: peakPending,
  spearletPeakRssMiB: Math.round(hwmKiB / 1024),
  echo: {
    count: latencies.length,
    p50Ms: +pct(50).toFixed(2),
    p99Ms: +pct(99).toFixed(2),
    maxMs: +pct(100).toFixed(2),
  },
};
const pass = result.spearletPeakRssMiB < 512 && result.echo.p99Ms < 50;
process.stdout.write(`${JSON.stringify(result)}\n${pass ? 'PASS' : 'FAIL'}: peak RSS < 512 MiB and echo p99 < 50 ms\n`);
client.destroy();
for (const s of sockets) s.destroy();
child.kill('SIGKILL');
await rm(dir, { recursive: true, force: true });
process.exit(pass ? 0 : 1);
