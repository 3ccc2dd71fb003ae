// Gray failures under a closed loop, through the public API: three spearlets, one of them faulty (its handler throws
// on every request, or answers after --slow-ms), W workers each sending the next idempotent request as soon as the
// last one ended, with a deadline. Per policy: success within the deadline, p50/p99 and throughput against the same
// policy with no fault, in the same run. (`drill` measures the same faults open-loop at a fixed rate; a closed loop
// shows what a slow spearlet does to callers who wait for it.)
//
//   npx tsx bench/gray-closed-loop.ts [--seconds 10] [--workers 16] [--deadline-ms 1000] [--slow-ms 2000]
//                                      [--hedge-after-ms N] [--json]
//
// The spearlets run in the bench process (one event loop with the client), so the healthy rate is CPU-bound.
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { mintToken } from '../src/auth/mint.ts';
import { MeshClient } from '../src/agent/mesh-client.ts';
import { Spearlet } from '../src/spearlet/spearlet.ts';
import { MeshError } from '../src/errors.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    workers: { type: 'string', default: '16' },
    'deadline-ms': { type: 'string', default: '1000' },
    'slow-ms': { type: 'string', default: '2000' },
    'hedge-after-ms': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const workers = Number(values.workers);
const deadlineMs = Number(values['deadline-ms']);
const slowMs = Number(values['slow-ms']);
const hedgeAfterMs = values['hedge-after-ms'] === undefined ? undefined : Number(values['hedge-after-ms']);

const SECRET = new TextEncoder().encode('gray-closed-loop-bench-secret-0123456789');
const auth = { secret: SECRET, issuer: 'bench', audience: 'spear-mesh' };
type Fault = 'none' | 'error' | 'slow';
const POLICIES = ['round-robin', 'least-outstanding', 'peak-ewma'] as const;

interface Row {
  fault: Fault;
  policy: string;
  sent: number;
  succeeded: number;
  successPercent: number;
  perSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: Record<string, number>;
}

async function once(fault: Fault, policy: string): Promise<Row> {
  const spearlets = ['s1', 's2', 's3'].map(
    (id) => new Spearlet({ id, listen: { host: '127.0.0.1', port: 0 }, auth, consul: null }),
  );
  const faulty = spearlets[0];
  for (const s of spearlets) {
    if (s === faulty && fault === 'error') {
      s.handle('work', () => {
        throw new Error('injected failure');
      });
    } else if (s === faulty && fault === 'slow') {
      s.handle('work', async ({ body, signal }) => {
        const copy = Buffer.from(body); // body is a view of the frame, valid only until the handler returns
        await sleep(slowMs, undefined, { signal }).catch(() => undefined);
        return copy;
      });
    } else {
      s.handle('work', ({ body }) => body);
    }
  }
  await Promise.all(spearlets.map((s) => s.start()));
  const endpoints = spearlets.map((s) => {
    const a = s.tcpAddress;
    if (a === undefined) throw new Error('no tcp address');
    return `${a.host}:${String(a.port)}`;
  });
  const mesh = await MeshClient.connect({
    endpoints,
    tokenProvider: () =>
      mintToken({ secret: SECRET, sub: 'bench', iss: 'bench', aud: 'spear-mesh', expiresInSec: 600 }),
    policy: policy as 'round-robin',
    hedgeAfterMs,
    closeGraceMs: 0,
  });
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let sent = 0;
  const body = Buffer.alloc(64, 1);
  const end = performance.now() + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      sent++;
      const t0 = performance.now();
      try {
        await mesh.request('work', body, { idempotent: true, deadlineMs });
        latencies.push(performance.now() - t0);
      } catch (err) {
        const code = err instanceof MeshError ? err.code : 'OTHER';
        errors[code] = (errors[code] ?? 0) + 1;
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: workers }, worker));
  const elapsedSec = (performance.now() - t0) / 1000;
  await mesh.close();
  await Promise.all(spearlets.map((s) => s.close()));
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number => Math.round((latencies[Math.floor((latencies.length - 1) * p)] ?? NaN) * 10) / 10;
  return {
    fault,
    policy,
    sent,
    succeeded: latencies.length,
    successPercent: Math.round((latencies.length / sent) * 1e5) / 1e3,
    perSec: Math.round(latencies.length / elapsedSec),
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    errors,
  };
}

// A discarded first round, so the JIT is warm before the first measured (healthy) round.
await once('none', 'round-robin');
const rows: Row[] = [];
for (const policy of POLICIES) {
  for (const fault of ['none', 'error', 'slow'] as const) {
    const row = await once(fault, policy);
    rows.push(row);
    if (!values.json) process.stderr.write(`${policy} ${fault}: ${JSON.stringify(row)}\n`);
  }
}
if (values.json) {
  process.stdout.write(`${JSON.stringify({ seconds, workers, deadlineMs, slowMs, hedgeAfterMs, rows }, null, 2)}\n`);
} else {
  process.stdout.write(
    `| fault | policy | success within deadline | p50 ms | p99 ms | sent | req/s | vs healthy |\n|---|---|--:|--:|--:|--:|--:|--:|\n`,
  );
  for (const r of rows) {
    const healthy = rows.find((h) => h.policy === r.policy && h.fault === 'none')?.perSec ?? NaN;
    process.stdout.write(
      `| ${r.fault} | ${r.policy} | ${r.successPercent.toFixed(3)}% | ${String(r.p50Ms)} | ${String(r.p99Ms)} | ${String(r.sent)} | ${String(r.perSec)} | ${((r.perSec / healthy) * 100).toFixed(1)}% |\n`,
    );
  }
}
