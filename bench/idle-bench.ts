// One spearlet child process holding many idle authenticated connections that heartbeat every second: the
// spearlet's RSS and CPU from /proc while nothing but heartbeats flows. The same run against the floor
// (bench/idle-floor-server.ts) shows what the least a Node server can do costs for the same traffic.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { mintToken } from '../src/auth/mint.ts';
import { round } from './lib/measure.ts';
import { RawMeshConnection } from './lib/raw-mesh-conn.ts';
import { sampleProc, spawnBenchSpearlet } from './lib/spearlet-process.ts';

/** What holds the connections: the spearlet, or the floor (bench/idle-floor-server.ts, a minimal hand-written server). */
export type IdleServer = 'spearlet' | 'floor';

export interface IdleBenchOptions {
  readonly server?: IdleServer;
  readonly connections?: number;
  readonly heartbeatMs?: number;
  /** After the last connection is up, wait this long before sampling. */
  readonly settleMs?: number;
  /** CPU is averaged over this window. */
  readonly sampleMs?: number;
  /** Handshakes in flight while connecting. */
  readonly connectConcurrency?: number;
}

export interface IdleBenchResult {
  readonly arrangement: 'server in a child process, raw protocol clients in this process';
  readonly server: IdleServer;
  readonly connections: number;
  readonly connected: number;
  readonly heartbeatMs: number;
  readonly connectSec: number;
  readonly rssBeforeMb: number;
  readonly rssMb: number;
  readonly rssPerConnKb: number;
  /** Cores used by the spearlet over the sample window (1 = one core busy). */
  readonly cpuCores: number;
  /** The user-space part of cpuCores (utime); the rest is system time. */
  readonly cpuUserCores: number;
  /** Server CPU per frame the clients received (a PONG per PING here), microseconds. */
  readonly cpuUsPerFrame: number;
  readonly sampleSec: number;
  /** Connections the spearlet closed during the run (heartbeat timeouts would show here). */
  readonly dropped: number;
  readonly framesReceivedPerSec: number;
  readonly fdLimit: number;
}

const FLOOR = fileURLToPath(new URL('./idle-floor-server.ts', import.meta.url));
const ISSUER = 'bench';
const AUDIENCE = 'spear-mesh';

function fdLimits(): { soft: number; hard: number } {
  const out = execFileSync('bash', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' }).trim().split('\n');
  const parse = (s: string | undefined): number => (s === 'unlimited' ? 1 << 20 : Number(s));
  return { soft: parse(out[0]), hard: parse(out[1]) };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runIdleBench(options: IdleBenchOptions = {}): Promise<IdleBenchResult> {
  const count = options.connections ?? 10_000;
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const settleMs = options.settleMs ?? 3000;
  const sampleMs = options.sampleMs ?? 10_000;
  const concurrency = options.connectConcurrency ?? 32;
  const server = options.server ?? 'spearlet';
  const limits = fdLimits();
  const needed = count + 256;
  if (limits.soft < needed && limits.hard < needed) {
    throw new Error(`bench: ${count} connections need ${needed} file descriptors; the hard limit is ${limits.hard}`);
  }
  if (limits.soft < needed)
    throw new Error(
      `bench: this process needs ulimit -n >= ${needed} (now ${limits.soft}); run \`ulimit -n ${Math.min(limits.hard, 65_536)}\` first`,
    );
  const fdLimit = Math.min(limits.hard, Math.max(needed, 65_536));
  const secret = randomBytes(32).toString('hex');
  const spearlet = await spawnBenchSpearlet(
    {
      id: 'bench-idle',
      issuer: ISSUER,
      audience: AUDIENCE,
      secret,
      heartbeatMs,
      heartbeatTimeoutMs: heartbeatMs * 3,
      maxConnections: count + 100,
      maxConnectionsPerAgent: count + 100,
    },
    { fdLimit, ...(server === 'floor' ? { entry: FLOOR } : {}) },
  );
  const conns: RawMeshConnection[] = [];
  let ticker: NodeJS.Timeout | undefined;
  try {
    const before = await sampleProc(spearlet.pid);
    const token = await mintToken({
      secret: Buffer.from(secret, 'utf8'),
      sub: 'bench',
      iss: ISSUER,
      aud: AUDIENCE,
      expiresInSec: 3600,
    });
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) {
          next++;
          conns.push(await RawMeshConnection.open({ port: spearlet.port }, token, 60_000));
        }
      }),
    );
    const connectSec = (performance.now() - t0) / 1000;
    // Each connection PINGs once per heartbeat interval, spread evenly over the interval (20 slices).
    const slices = 20;
    let slice = 0;
    ticker = setInterval(() => {
      for (let i = slice; i < conns.length; i += slices) conns[i]?.ping();
      slice = (slice + 1) % slices;
    }, heartbeatMs / slices);
    await sleep(settleMs);
    const receivedAtStart = conns.reduce((n, c) => n + c.received, 0);
    const a = await sampleProc(spearlet.pid);
    await sleep(sampleMs);
    const b = await sampleProc(spearlet.pid);
    const receivedAtEnd = conns.reduce((n, c) => n + c.received, 0);
    const elapsedSec = (b.atMs - a.atMs) / 1000;
    const connected = conns.filter((c) => !c.closed).length;
    return {
      arrangement: 'server in a child process, raw protocol clients in this process',
      server,
      connections: count,
      connected,
      heartbeatMs,
      connectSec: round(connectSec, 2),
      rssBeforeMb: round(before.rssBytes / 1048576, 1),
      rssMb: round(b.rssBytes / 1048576, 1),
      rssPerConnKb: round((b.rssBytes - before.rssBytes) / 1024 / count, 2),
      cpuCores: round((b.cpuSec - a.cpuSec) / elapsedSec, 3),
      cpuUserCores: round((b.userSec - a.userSec) / elapsedSec, 3),
      cpuUsPerFrame: round(((b.cpuSec - a.cpuSec) * 1e6) / Math.max(1, receivedAtEnd - receivedAtStart), 1),
      sampleSec: round(elapsedSec, 2),
      dropped: count - connected,
      framesReceivedPerSec: Math.round((receivedAtEnd - receivedAtStart) / elapsedSec),
      fdLimit,
    };
  } finally {
    if (ticker !== undefined) clearInterval(ticker);
    for (const c of conns) c.destroy();
    await spearlet.close();
  }
}
