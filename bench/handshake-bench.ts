// Handshakes per second against a spearlet child process: connect + preface + HELLO (HS256 or EdDSA JWT) + WELCOME,
// then an orderly close, with a fixed number of handshakes in flight.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { buildJwks, generateSigningKeyPair } from '../src/auth/keys.ts';
import { mintToken } from '../src/auth/mint.ts';
import { quantile, round } from './lib/measure.ts';
import { RawMeshConnection } from './lib/raw-mesh-conn.ts';
import { sampleProc, spawnBenchSpearlet, type BenchSpearletConfig } from './lib/spearlet-process.ts';

export type HandshakeAlg = 'HS256' | 'EdDSA';

export interface HandshakeBenchOptions {
  readonly algs?: readonly HandshakeAlg[];
  readonly durationMs?: number;
  readonly warmupMs?: number;
  /** Handshakes in flight at once (default 16). */
  readonly concurrency?: number;
}

export interface HandshakeRow {
  readonly alg: HandshakeAlg;
  readonly handshakes: number;
  readonly handshakesPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly failures: number;
  /** CPU time (user + system) the spearlet process spent per handshake during the measurement. */
  readonly spearletCpuUsPerHandshake: number;
  /** 1 s / spearletCpuUsPerHandshake: handshakes one fully busy core of the spearlet could do, clients aside. */
  readonly perSpearletCoreSec: number;
}

export interface HandshakeBenchResult {
  readonly arrangement: 'spearlet in a child process, clients in this process';
  readonly concurrency: number;
  readonly rows: readonly HandshakeRow[];
}

const ISSUER = 'bench';
const AUDIENCE = 'spear-mesh';

async function setup(alg: HandshakeAlg): Promise<{ cfg: BenchSpearletConfig; token: string }> {
  const base = {
    id: `bench-hs-${alg.toLowerCase()}`,
    issuer: ISSUER,
    audience: AUDIENCE,
    maxConnections: 20_000,
    maxConnectionsPerAgent: 20_000,
  };
  const claims = { sub: 'bench', iss: ISSUER, aud: AUDIENCE, expiresInSec: 3600 };
  if (alg === 'HS256') {
    const secret = randomBytes(32).toString('hex');
    return { cfg: { ...base, secret }, token: await mintToken({ ...claims, secret: Buffer.from(secret, 'utf8') }) };
  }
  const pair = await generateSigningKeyPair('EdDSA');
  return {
    cfg: { ...base, jwks: buildJwks([pair.publicJwk]) },
    token: await mintToken({ ...claims, privateKey: pair.privateJwk }),
  };
}

async function loop(
  port: number,
  token: string,
  concurrency: number,
  durationMs: number,
): Promise<{ lat: number[]; failures: number; elapsedMs: number }> {
  const lat: number[] = [];
  let failures = 0;
  const started = performance.now();
  const end = started + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          const conn = await RawMeshConnection.open({ port }, token, 10_000);
          lat.push(performance.now() - t0);
          conn.close();
        } catch {
          failures++;
        }
      }
    }),
  );
  return { lat, failures, elapsedMs: performance.now() - started };
}

export async function runHandshakeBench(options: HandshakeBenchOptions = {}): Promise<HandshakeBenchResult> {
  const algs = options.algs ?? ['HS256', 'EdDSA'];
  const durationMs = options.durationMs ?? 2000;
  const warmupMs = options.warmupMs ?? 300;
  const concurrency = options.concurrency ?? 16;
  const rows: HandshakeRow[] = [];
  for (const alg of algs) {
    const { cfg, token } = await setup(alg);
    const spearlet = await spawnBenchSpearlet(cfg);
    try {
      await loop(spearlet.port, token, concurrency, warmupMs);
      const before = await sampleProc(spearlet.pid);
      const r = await loop(spearlet.port, token, concurrency, durationMs);
      const after = await sampleProc(spearlet.pid);
      const cpuUs = ((after.cpuSec - before.cpuSec) * 1e6) / Math.max(1, r.lat.length);
      const sorted = r.lat.sort((a, b) => a - b);
      rows.push({
        alg,
        handshakes: sorted.length,
        handshakesPerSec: Math.round((sorted.length * 1000) / r.elapsedMs),
        p50Ms: round(quantile(sorted, 0.5), 2),
        p99Ms: round(quantile(sorted, 0.99), 2),
        failures: r.failures,
        spearletCpuUsPerHandshake: Math.round(cpuUs),
        perSpearletCoreSec: cpuUs > 0 ? Math.round(1e6 / cpuUs) : NaN,
      });
    } finally {
      await spearlet.close();
    }
  }
  return { arrangement: 'spearlet in a child process, clients in this process', concurrency, rows };
}
