// Smoke test for the benchmark suite: one fast benchmark with tiny counts returns the documented shape, and the
// report helpers judge targets. Timings are not asserted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runMeshVsRawBench, type CpuPerRequest } from '../../bench/echo-bench.ts';
import { figure, formatTable } from '../../bench/lib/report.ts';
import { RawEchoClient, startRawEchoServer } from '../../bench/raw-echo.ts';
import { measureRequestPath } from '../../bench/request-path.ts';
import { SUITES } from '../../bench/suites.ts';

test(
  'mesh vs raw echo with tiny counts: servers in child processes by default, one row per cell, CPU per request',
  { timeout: 120_000 },
  async () => {
    const r = await runMeshVsRawBench({
      transports: ['tcp', 'unix'],
      payloads: [64],
      inFlight: [1, 4],
      durationMs: 60,
      warmupMs: 10,
      serialRequests: 20,
      rounds: 1,
    });
    assert.equal(r.arrangement, 'child-process');
    assert.equal(r.throughput.length, 4);
    assert.deepEqual(
      r.throughput.map((row) => `${row.transport}/${row.payloadBytes}/${row.inFlight}`),
      ['tcp/64/1', 'tcp/64/4', 'unix/64/1', 'unix/64/4'],
    );
    for (const row of r.throughput) {
      assert.ok((row.opsPerSec.raw ?? 0) > 0 && (row.opsPerSec.mesh ?? 0) > 0, 'both sides completed requests');
      assert.ok(Number.isFinite(row.ratio) && row.ratio > 0);
      for (const side of ['raw', 'mesh']) {
        const cpu = row.cpuPerRequest[side];
        assert.ok(cpu !== undefined && cpu.clientUs > 0, `${side}: client CPU measured`);
        assert.ok(
          cpu.serverUs >= 0 && Math.abs(cpu.totalUs - (cpu.clientUs + cpu.serverUs)) <= 0.011,
          `${side}: total = client + server`,
        );
        // Every request and every answer crossed a socket in some write: at most inFlight of them per write.
        for (const perWrite of [cpu.requestsPerClientWrite, cpu.requestsPerServerWrite]) {
          assert.ok(
            perWrite !== null && perWrite > 0 && perWrite <= row.inFlight,
            `${side}: requests per write ${perWrite}`,
          );
        }
      }
    }
    // /proc has 10 ms resolution: over all cells together each server child shows CPU time.
    assert.ok(
      r.throughput.some((row) => (row.cpuPerRequest.mesh?.serverUs ?? 0) > 0),
      'server CPU read from /proc',
    );
    assert.equal(r.latency.length, 2);
    for (const row of r.latency) {
      assert.ok((row.p50Us.raw ?? 0) > 0 && (row.p50Us.mesh ?? 0) > 0);
      assert.ok(Number.isFinite(row.p50Ratio) && Number.isFinite(row.p99Ratio));
    }
  },
);

test('in process the whole CPU cost is the client side', { timeout: 60_000 }, async () => {
  const r = await runMeshVsRawBench({
    transports: ['tcp'],
    payloads: [64],
    inFlight: [4],
    durationMs: 40,
    warmupMs: 10,
    serialRequests: 20,
    rounds: 1,
    separateProcesses: false,
  });
  assert.equal(r.arrangement, 'in-process');
  const row = r.throughput[0];
  assert.ok(row !== undefined);
  for (const side of ['raw', 'mesh']) {
    const cpu: CpuPerRequest | undefined = row.cpuPerRequest[side];
    assert.ok(cpu !== undefined);
    assert.equal(cpu.serverUs, 0);
    assert.equal(cpu.requestsPerServerWrite, null, 'in process the server writes are the client process own');
  }
});

test(
  'the raw baseline coalesces the frames of one tick into one socket.write, and echoes them in order',
  { timeout: 30_000 },
  async (t) => {
    const server = await startRawEchoServer();
    t.after(() => {
      server.close();
    });
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    const client = await RawEchoClient.connect(address.port);
    t.after(() => {
      client.close();
    });
    // A spy that calls through to the real write.
    const write = t.mock.method(client.socket, 'write');
    const answers = await Promise.all([1, 2, 3].map((n) => client.request(Buffer.alloc(n * 100, n))));
    assert.equal(write.mock.callCount(), 1, 'three requests of one tick left in one write');
    assert.deepEqual(
      answers.map((b) => [b.length, b[0]]),
      [
        [100, 1],
        [200, 2],
        [300, 3],
      ],
    );
  },
);

test('figures carry a verdict only when they have a target; the table lists them all', () => {
  const f = [
    figure('s', 'a', 3, 'x', { op: '>=', value: 2 }),
    figure('s', 'b', 300, 'ms', { op: '<', value: 200 }),
    figure('s', 'c', 1, 'x'),
  ];
  assert.deepEqual(
    f.map((x) => x.pass),
    [true, false, undefined],
  );
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

test('the request-path bench answers every chunk through a real session and reports CPU per request', async () => {
  const r = await measureRequestPath({ chunks: 300, rounds: 2 });
  // 16 RESPONSE frames of 8 + 12 + 64 bytes per chunk, for the warm-up and both rounds.
  assert.equal(r.answeredBytes, (300 + 2 * 300) * 16 * (8 + 12 + 64));
  assert.equal(r.nsPerRequest.length, 2);
  assert.ok(r.medianNs > 0 && Number.isFinite(r.medianNs), String(r.medianNs));
});
