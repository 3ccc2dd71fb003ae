// `spear-mesh up` (the `npm start` job) end to end, with status and call run against it as a user would.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { runCli, startCli, type LiveCli } from './run-cli.ts';

async function processesMatching(pattern: string): Promise<string[]> {
  try {
    const { stdout } = await promisify(execFile)('pgrep', ['-f', pattern]);
    return stdout.split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describe('spear-mesh up', () => {
  let up: LiveCli | undefined;
  after(async () => {
    if (up !== undefined && up.child.exitCode === null) {
      up.child.kill('SIGKILL');
      await up.exited;
    }
  });

  it('starts a healthy local mesh, serves status and call, and shuts down cleanly on SIGINT', async () => {
    up = startCli(['up', '--registry-port', '0', '--interval-ms', '250', '--rate', '40', '--heartbeat-ms', '500']);
    const consul = (await up.waitForLine(/export CONSUL_HTTP_ADDR=(\S+)/))[1]!;
    const token = (await up.waitForLine(/export SPEAR_TOKEN=(\S+)/))[1]!;
    const secretFile = (await up.waitForLine(/secret file (\S+)\)/))[1]!;
    const adminTokenFile = (await up.waitForLine(/admin API token file: (\S+);/))[1]!;
    const dashboard = (await up.waitForLine(/^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/))[1]!;
    // The first all-passing line can come before the demo agent's third session (seen on a loaded machine): wait for
    // the line that shows a session on every spearlet.
    await up.waitForLine(
      /spearlets=3\/3 passing sessions=([3-9]|\d{2,}) req\/s=\S+ errors=0 .* sent=[1-9]\d* failed=0/,
    );

    // up's spearlets need its admin token: without it status says so in one line and exits 1.
    const refused = await runCli(['status', '--json', '--consul', consul], { SPEAR_ADMIN_TOKEN: '' });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^spear-mesh status: ADMIN_UNAUTHORIZED: .* answered 401/);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    const status = await runCli(['status', '--json', '--consul', consul, '--admin-token-file', adminTokenFile]);
    assert.equal(status.code, 0, status.stderr);
    const report = JSON.parse(status.stdout) as {
      consul: string;
      service: string;
      spearlets: Record<string, unknown>[];
    };
    assert.equal(report.service, 'spearlet');
    assert.equal(report.spearlets.length, 3);
    for (const s of report.spearlets) {
      assert.match(String(s.id), /^spearlet-\d$/);
      assert.equal(s.health, 'passing');
      assert.equal(s.ready, true);
      assert.equal(typeof s.port, 'number');
      assert.equal(typeof s.sessions, 'number');
      assert.ok(Array.isArray(s.checks));
    }

    // The dashboard `up` serves shows the same three spearlets and the demo agent's client metrics.
    const snapshot = (await (await fetch(`${dashboard}api/snapshot`)).json()) as {
      spearlets: { id: string }[];
      agents: { name: string }[];
    };
    assert.deepEqual(
      snapshot.spearlets.map((s) => s.id),
      ['spearlet-1', 'spearlet-2', 'spearlet-3'],
    );
    assert.deepEqual(
      snapshot.agents.map((a) => a.name),
      ['demo-agent'],
    );

    const one = await runCli(['call', '--method', 'echo', '--data', 'ping', '--json'], {
      CONSUL_HTTP_ADDR: consul,
      SPEAR_TOKEN: token,
    });
    assert.equal(one.code, 0, one.stderr);
    const answer = JSON.parse(one.stdout) as { ok: boolean; body: string; latencyMs: number };
    assert.deepEqual([answer.ok, answer.body], [true, 'ping']);
    assert.equal(typeof answer.latencyMs, 'number');

    const many = await runCli(
      ['call', '--method', 'echo', '--count', '50', '--concurrency', '5', '--idempotent', '--json', '--consul', consul],
      {
        SPEAR_TOKEN: token,
      },
    );
    assert.equal(many.code, 0, many.stderr);
    const summary = JSON.parse(many.stdout) as {
      count: number;
      succeeded: number;
      failed: number;
      latencyMs: Record<string, number>;
    };
    assert.deepEqual([summary.count, summary.succeeded, summary.failed], [50, 50, 0]);
    assert.ok(summary.latencyMs.p50! > 0 && summary.latencyMs.p99! >= summary.latencyMs.p50!);

    const bad = await runCli(['call', '--method', 'echo', '--json', '--consul', consul], { SPEAR_TOKEN: `${token}x` });
    assert.equal(bad.code, 1, 'a tampered token fails the call');

    assert.equal((await processesMatching(secretFile)).length, 3, 'three spearlet processes');

    // A drill against this running mesh signals its spearlet processes (they run on this host).
    const drill = await runCli([
      'drill',
      '--consul',
      consul,
      '--token',
      token,
      '--admin-token-file',
      adminTokenFile,
      '--fault',
      'kill',
      '--duration',
      '3s',
      '--rate',
      '100',
      '--json',
    ]);
    const drillReport = JSON.parse(drill.stdout) as {
      fault: string;
      target: string;
      lost: number;
      sent: number;
      passed: boolean;
    };
    assert.deepEqual(
      [drillReport.fault, drillReport.target, drillReport.lost, drillReport.passed],
      ['kill', 'spearlet-1', 0, true],
    );
    assert.equal(drill.code, 0, drill.stderr);
    assert.equal((await processesMatching(secretFile)).length, 2, 'the drill killed one spearlet');

    up.child.kill('SIGINT');
    const { code } = await up.exited;
    assert.equal(code, 0);
    await up.waitForLine(/^stopped cleanly: demo agent sent \d+ requests, 0 failed$/);
    assert.deepEqual(await processesMatching(secretFile), [], 'no spearlet process outlives up');
  });
});
