// Failover detection: a MeshClient holds a READY connection to a spearlet child process; the process is SIGKILLed
// or SIGSTOPped and the time from the signal until the client no longer counts the connection READY is measured.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { MeshClient } from '../src/agent/mesh-client.ts';
import { mintToken } from '../src/auth/mint.ts';
import { median, round } from './lib/measure.ts';
import { spawnBenchSpearlet } from './lib/spearlet-process.ts';

export interface FailoverBenchOptions {
  readonly killRounds?: number;
  readonly stopRounds?: number;
  readonly heartbeatMs?: number;
  readonly heartbeatTimeoutMs?: number;
}

export interface FailoverRow {
  readonly signal: 'SIGKILL' | 'SIGSTOP';
  readonly rounds: number;
  readonly detectMs: readonly number[];
  readonly medianMs: number;
  readonly maxMs: number;
  /** The target: 50 ms for SIGKILL, heartbeat timeout + 100 ms for SIGSTOP. */
  readonly limitMs: number;
}

export interface FailoverBenchResult {
  readonly arrangement: 'spearlet in a child process, MeshClient in this process';
  readonly heartbeatMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly rows: readonly FailoverRow[];
}

const ISSUER = 'bench';
const AUDIENCE = 'spear-mesh';

/** Resolves with the milliseconds from now until `cond()` holds, polled every millisecond. */
function timeUntil(cond: () => boolean, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      const dt = performance.now() - t0;
      if (cond()) resolve(dt);
      else if (dt > timeoutMs) reject(new Error(`bench: not detected within ${timeoutMs} ms`));
      else setTimeout(poll, 1);
    };
    poll();
  });
}

async function oneRound(
  signal: 'SIGKILL' | 'SIGSTOP',
  heartbeatMs: number,
  heartbeatTimeoutMs: number,
): Promise<number> {
  const secret = randomBytes(32).toString('hex');
  const spearlet = await spawnBenchSpearlet({
    id: 'bench-failover',
    issuer: ISSUER,
    audience: AUDIENCE,
    secret,
    heartbeatMs,
    heartbeatTimeoutMs,
  });
  let client: MeshClient | undefined;
  try {
    const token = await mintToken({
      secret: Buffer.from(secret, 'utf8'),
      sub: 'bench',
      iss: ISSUER,
      aud: AUDIENCE,
      expiresInSec: 3600,
    });
    client = await MeshClient.connect({
      endpoints: [`127.0.0.1:${spearlet.port}`],
      token,
      closeGraceMs: 0,
      readyTimeoutMs: 30_000,
    });
    const c = client;
    // A few requests so the connection has carried traffic, then idle as a connection usually is between calls.
    for (let i = 0; i < 20; i++) await c.request('echo', 'x');
    const ready = (): boolean => c.stats().endpoints.some((e) => e.state === 'READY');
    if (!ready()) throw new Error('bench: no READY connection before the signal');
    spearlet.signal(signal);
    return await timeUntil(() => !ready(), heartbeatTimeoutMs * 3);
  } finally {
    await client?.close();
    await spearlet.close();
  }
}

export async function runFailoverBench(options: FailoverBenchOptions = {}): Promise<FailoverBenchResult> {
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 3 * heartbeatMs;
  const rows: FailoverRow[] = [];
  for (const [signal, rounds, limitMs] of [
    ['SIGKILL', options.killRounds ?? 5, 50],
    ['SIGSTOP', options.stopRounds ?? 3, heartbeatTimeoutMs + 100],
  ] as const) {
    const detectMs: number[] = [];
    for (let i = 0; i < rounds; i++) detectMs.push(round(await oneRound(signal, heartbeatMs, heartbeatTimeoutMs), 1));
    rows.push({
      signal,
      rounds,
      detectMs,
      medianMs: round(median(detectMs), 1),
      maxMs: Math.max(...detectMs),
      limitMs,
    });
  }
  return {
    arrangement: 'spearlet in a child process, MeshClient in this process',
    heartbeatMs,
    heartbeatTimeoutMs,
    rows,
  };
}
