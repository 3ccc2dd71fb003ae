// Every drill fault against a local mesh: nothing lost, nothing duplicated, and a drain fails nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './run-cli.ts';
import { FAULTS, type DrillReport } from '../../src/drill/report.ts';

// Each drill starts its own local mesh (registry port 0, ephemeral spearlet ports), so two run at a time: the file
// takes about half as long, at the price of two drills' processes sharing the CPU (detection stays bounded below).
describe('spear-mesh drill', { concurrency: 2 }, () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'drill-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const fault of FAULTS) {
    it(`${fault}: reports lost = 0 with the documented fields`, async () => {
      const reportFile = join(dir, `${fault}.json`);
      const res = await runCli([
        'drill',
        '--fault',
        fault,
        '--duration',
        '4s',
        '--fault-for',
        '1s',
        '--rate',
        '100',
        '--json',
        '--report',
        reportFile,
      ]);
      const report = JSON.parse(res.stdout) as DrillReport;
      assert.equal(res.code, report.passed ? 0 : 1, 'the exit code follows the verdict');
      assert.equal(report.fault, fault);
      assert.equal(report.target, 'spearlet-1');
      assert.ok(report.sent >= 300, `sent ${report.sent}`);
      assert.equal(report.lost, 0);
      assert.equal(report.duplicated, 0);
      assert.equal(report.succeeded + report.failed, report.sent);
      if (fault === 'drain') assert.equal(report.failed, 0);
      assert.equal(report.passed, true);
      for (const phase of ['before', 'during', 'after'] as const)
        assert.equal(typeof report.latency[phase].count, 'number');
      assert.ok(report.timeline.length > 0 && report.timeline.every((p) => typeof p.tMs === 'number'));
      if (fault === 'kill' || fault === 'freeze' || fault === 'drain' || fault === 'partition') {
        assert.equal(typeof report.detectionMs, 'number', 'the client noticed the fault');
        // Generous upper bound: heartbeat timeout (600 ms) plus scheduling slack on a loaded machine.
        assert.ok(report.detectionMs! < 5000, `detected after ${report.detectionMs} ms`);
      }
      assert.deepEqual(JSON.parse(await readFile(reportFile, 'utf8')), report);
      assert.match(
        await readFile(join(dir, `${fault}.svg`), 'utf8'),
        /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/,
      );
    });
  }

  it('rejects an unknown fault, naming the option', async () => {
    const res = await runCli(['drill', '--fault', 'meteor']);
    assert.equal(res.code, 2);
    assert.match(
      res.stderr,
      /--fault: must be one of kill, freeze, drain, partition, registry-down, slow, error, flap/,
    );
  });
});
