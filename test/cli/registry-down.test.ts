// registry-down: traffic keeps flowing while the dev registry is down and after it comes back empty (the client holds
// back removals until the spearlets have re-registered). Real spearlet processes, real drill.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './run-cli.ts';
import type { DrillReport } from '../../src/drill/report.ts';

describe('drill --fault registry-down', () => {
  it('fails nothing and keeps throughput at the steady rate through the outage and the restart', async () => {
    const rate = 200;
    const res = await runCli([
      'drill',
      '--fault',
      'registry-down',
      '--duration',
      '6s',
      '--fault-for',
      '2s',
      '--rate',
      String(rate),
      '--json',
    ]);
    const r = JSON.parse(res.stdout) as DrillReport;
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual([r.lost, r.failed, r.duplicated], [0, 0, 0]);
    // Throughput is judged over the whole window after the fault: on a loaded machine single 100 ms buckets dip
    // with scheduling (the endpoint set itself is checked event by event in test/discovery/registry-restart.test.ts).
    const after = r.timeline.filter((p) => p.tMs >= r.faultAtMs);
    const completed = after.reduce((n, p) => n + p.ok, 0);
    const expected = (after.length * rate) / 10;
    assert.ok(completed >= expected * 0.9, `${completed} completions after the fault, expected about ${expected}`);
  });
});
