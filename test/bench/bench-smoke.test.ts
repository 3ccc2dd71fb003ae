// Smoke test for the benchmark suite: one fast benchmark with tiny counts returns the documented shape, and the
// report helpers judge targets. Timings are not asserted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runMeshVsRawBench } from '../../bench/echo-bench.ts';
import { figure, formatTable } from '../../bench/lib/report.ts';
import { SUITES } from '../../bench/suites.ts';

test('mesh vs raw echo with tiny counts has one row per transport, payload and in-flight count', { timeout: 20_000 }, async () => {
  const r = await runMeshVsRawBench({ transports: ['tcp', 'unix'], payloads: [64], inFlight: [1, 4], durationMs: 30, warmupMs: 10, serialRequests: 20, rounds: 1 });
  assert.equal(r.arrangement, 'in-process');
  assert.equal(r.throughput.length, 4);
  assert.deepEqual(
    r.throughput.map((row) => `${row.transport}/${row.payloadBytes}/${row.inFlight}`),
    ['tcp/64/1', 'tcp/64/4', 'unix/64/1', 'unix/64/4'],
  );
  for (const row of r.throughput) {
    assert.ok((row.opsPerSec.raw ?? 0) > 0 && (row.opsPerSec.mesh ?? 0) > 0, 'both sides completed requests');
    assert.ok(Number.isFinite(row.ratio) && row.ratio > 0);
  }
  assert.equal(r.latency.length, 2);
  for (const row of r.latency) {
    assert.ok((row.p50Us.raw ?? 0) > 0 && (row.p50Us.mesh ?? 0) > 0);
    assert.ok(Number.isFinite(row.p50Ratio));
  }
});

test('figures carry a verdict only when they have a target; the table lists them all', () => {
  const f = [figure('s', 'a', 3, 'x', { op: '>=', value: 2 }), figure('s', 'b', 300, 'ms', { op: '<', value: 200 }), figure('s', 'c', 1, 'x')];
  assert.deepEqual(f.map((x) => x.pass), [true, false, undefined]);
  const table = formatTable(f);
  assert.match(table, /PASS/);
  assert.match(table, /MISS/);
  assert.equal(table.split('\n').length, 5);
});

test('every suite has a unique name for --only', () => {
  const names = SUITES.map((s) => s.name);
  assert.equal(new Set(names).size, names.length);
  assert.ok(names.includes('mesh') && names.includes('failover'));
});
