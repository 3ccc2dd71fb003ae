// Gray-fault drills against real spearlet processes: slow, error and flap, --deadline-ms, and --policy all.
// The client's outcome-driven ejection is not in this branch: these tests check that each fault takes effect and that
// nothing is lost or duplicated, not the success targets (docs/benchmarks.md reports what was measured).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './run-cli.ts';
import type { DrillReport } from '../../src/drill/report.ts';

type Row = DrillReport & { policy: string; deadlineMs: number; withinDeadline: number };
const common = ['--duration', '3s', '--fault-for', '1s', '--rate', '100', '--json'];

// Each drill starts its own local mesh on ephemeral ports: two run at a time.
describe('gray drills', { concurrency: 2 }, () => {
  it('error: the target answers HANDLER_ERROR while the fault lasts; nothing lost', async () => {
    const res = await runCli(['drill', '--fault', 'error', ...common]);
    const r = JSON.parse(res.stdout) as Row;
    assert.equal(r.fault, 'error');
    assert.ok((r.errors.HANDLER_ERROR ?? 0) > 0, JSON.stringify(r.errors));
    assert.deepEqual([r.lost, r.duplicated], [0, 0]);
    assert.equal(r.policy, 'least-outstanding');
    assert.ok('detectionMs' in r);
  });

  it('slow: requests to the target take --slow-ms longer, within --deadline-ms; nothing lost', async () => {
    const res = await runCli(['drill', '--fault', 'slow', '--slow-ms', '400', '--deadline-ms', '3000', ...common]);
    const r = JSON.parse(res.stdout) as Row;
    assert.equal(r.deadlineMs, 3000);
    assert.ok((r.latency.overall.maxMs ?? 0) >= 400, `max latency ${r.latency.overall.maxMs} ms`);
    assert.deepEqual([r.lost, r.duplicated, r.failed], [0, 0, 0]);
  });

  it('flap: the target flips in Consul while serving; nothing lost or failed', async () => {
    const res = await runCli(['drill', '--fault', 'flap', ...common]);
    const r = JSON.parse(res.stdout) as Row;
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual([r.lost, r.duplicated, r.failed], [0, 0, 0]);
  });

  it('--policy all runs once per policy and prints one table', async () => {
    const json = await runCli(['drill', '--fault', 'error', '--policy', 'all', ...common]);
    const rows = JSON.parse(json.stdout) as Row[];
    assert.deepEqual(
      rows.map((r) => r.policy),
      ['round-robin', 'least-outstanding', 'peak-ewma'],
    );
    for (const r of rows) {
      for (const k of ['sent', 'succeeded', 'failed', 'lost', 'duplicated', 'detectionMs'] as const)
        assert.ok(k in r, k);
      assert.equal(r.lost, 0);
    }
  });

  it('rejects an unknown policy, naming the option', async () => {
    const res = await runCli(['drill', '--fault', 'error', '--policy', 'fastest']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /--policy: must be all or one of round-robin/);
  });
});
