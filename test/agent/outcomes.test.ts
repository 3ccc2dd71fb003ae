// Balancing from request outcomes, against real spearlet processes (drill gray faults through their admin API): an
// erroring spearlet is ejected and idempotent traffic succeeds under every policy, a stalled one is ejected and its
// in-flight requests move, hedging sends at most one extra attempt and cancels the loser, and an unknown method is
// tried on one spearlet only.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import type { MeshClient } from '../../src/agent/mesh-client.ts';
import type { PolicyName } from '../../src/balancer/policies.ts';
import { postGrayFault } from '../../src/drill/injectors.ts';
import { MeshHarness } from './mesh-harness.ts';
import { waitFor } from '../helpers/wait-for.ts';

const IDS = ['s1', 's2', 's3'] as const;

/** Sum of a spearlet's spear_mesh_requests_total samples whose labels include every `match` string. */
async function spearletCount(adminUrl: string, ...match: string[]): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('spear_mesh_requests_total{') && match.every((m) => line.includes(m)))
      n += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return n;
}

/** `total` idempotent echo requests, `concurrency` at a time; resolves with how many failed, by code. */
async function load(mesh: MeshClient, total: number, concurrency: number, deadlineMs: number) {
  const failed: Record<string, number> = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const body = `r${next++}`;
        try {
          const out = await mesh.request('echo', body, { idempotent: true, deadlineMs });
          assert.equal(out.toString(), body);
        } catch (err) {
          const code = (err as { code?: string }).code ?? 'UNKNOWN';
          failed[code] = (failed[code] ?? 0) + 1;
        }
      }
    }),
  );
  return failed;
}

const endpoint = (mesh: MeshClient, id: string) => mesh.stats().endpoints.find((e) => e.id === id);

describe('balancing from outcomes (real spearlets)', { timeout: 300_000 }, () => {
  const h = new MeshHarness();
  const admin = new Map<string, string>();
  const fault = (id: string, f: 'slow' | 'error' | 'none', durationMs = 60_000, slowMs = 0) =>
    postGrayFault(admin.get(id)!, f, durationMs, slowMs);

  before(async () => {
    await h.start();
    const children = await Promise.all(IDS.map((id) => h.spawn(id, ['--enable-drills'])));
    for (const c of children) admin.set(c.id, c.adminUrl);
  });
  after(() => h.close());

  async function client(options: Parameters<MeshHarness['client']>[0] = {}): Promise<MeshClient> {
    const mesh = await h.client(options);
    await waitFor(() => mesh.stats().endpoints.filter((e) => e.state === 'READY').length === 3, 60_000, 'three READY');
    return mesh;
  }

  it('a call to an unknown method reaches exactly one spearlet (METHOD_NOT_FOUND is not retryable)', async () => {
    const mesh = await client({ policy: 'round-robin' });
    const before = await Promise.all(IDS.map((id) => spearletCount(admin.get(id)!, 'status="404"')));
    await assert.rejects(mesh.request('no.such.method', 'x', { idempotent: true }), {
      code: 'METHOD_NOT_FOUND',
      retryable: false,
    });
    const attempts = mesh.stats().endpoints.reduce((n, e) => n + e.attempts, 0);
    assert.equal(attempts, 1, JSON.stringify(mesh.stats().endpoints));
    const afterCounts = await Promise.all(IDS.map((id) => spearletCount(admin.get(id)!, 'status="404"')));
    assert.equal(afterCounts.reduce((a, b) => a + b, 0) - before.reduce((a, b) => a + b, 0), 1);
    // A caller's own error says nothing bad about the spearlet.
    for (let i = 0; i < 6; i++) await assert.rejects(mesh.request('no.such.method', 'x'), { code: 'METHOD_NOT_FOUND' });
    assert.ok(mesh.stats().endpoints.every((e) => !e.ejected));
  });

  for (const policy of ['round-robin', 'least-outstanding', 'peak-ewma'] as const satisfies readonly PolicyName[]) {
    it(`${policy}: a spearlet whose handler fails every request is ejected; idempotent traffic all succeeds`, async () => {
      const registry = new Registry();
      const mesh = await client({ policy, metricsRegistry: registry });
      await fault('s1', 'error');
      try {
        const failed = await load(mesh, 300, 8, 5000);
        assert.deepEqual(failed, {});
        const s1 = endpoint(mesh, 's1')!;
        assert.equal(s1.ejected, true, JSON.stringify(s1));
        // Five failures in a row eject it; at most the attempts already in flight then add to that.
        assert.ok(s1.attempts <= 5 + 8, `s1 got ${s1.attempts} attempts`);
        const text = await registry.metrics();
        assert.match(text, /spear_mesh_client_ejections_total\{spearlet="s1"\} [1-9]/);
      } finally {
        await fault('s1', 'none');
      }
    });
  }

  it('a stalled spearlet is ejected and the idempotent requests waiting on it move elsewhere in time', async () => {
    const mesh = await client({ policy: 'round-robin' });
    await fault('s1', 'slow', 60_000, 4000);
    try {
      const started = performance.now();
      const failed = await load(mesh, 120, 6, 3000);
      assert.deepEqual(failed, {});
      assert.equal(endpoint(mesh, 's1')?.ejected, true);
      assert.ok(mesh.stats().retried >= 1, 'requests waiting on s1 were moved (retried on the budget)');
      assert.ok(performance.now() - started < 60_000);
    } finally {
      await fault('s1', 'none');
    }
  });

  it('hedging: one extra attempt after hedgeAfterMs, charged to the budget, the loser cancelled; none when not idempotent', async () => {
    const mesh = await client({
      policy: 'round-robin',
      outlier: false,
      hedgeAfterMs: 100,
      retryBudget: { windowMs: 600_000, minRetriesPerSecond: 10 },
    });
    const cancelledBefore = await spearletCount(admin.get('s1')!, 'method="echo"', 'status="499"');
    await fault('s1', 'slow', 60_000, 1500);
    try {
      const n = 9;
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        assert.equal((await mesh.request('echo', `h${i}`, { idempotent: true, deadlineMs: 5000 })).toString(), `h${i}`);
        assert.ok(performance.now() - t0 < 1500, `request ${i} waited for the slow spearlet`);
      }
      const { hedged, retried, retryBudgetAvailable } = mesh.stats();
      assert.ok(hedged >= 1 && hedged <= n, `hedged ${hedged} of ${n}`);
      assert.equal(retried, 0);
      // 20% of the requests plus 10/s over the 600 s window, less every hedge.
      assert.equal(retryBudgetAvailable, Math.floor(0.2 * n + 6000 - hedged));
      // The hedges that raced an attempt on s1 won (it answers after 1.5 s): s1 counts those attempts cancelled.
      // (On a loaded machine a hedge may also race a slow answer from s2 or s3, hence at most `hedged`.)
      let cancelled = 0;
      await waitFor(
        async () => {
          cancelled = (await spearletCount(admin.get('s1')!, 'method="echo"', 'status="499"')) - cancelledBefore;
          return cancelled >= 1;
        },
        30_000,
        's1 to count a cancelled request',
      );
      assert.ok(cancelled <= hedged, `${cancelled} cancelled on s1, ${hedged} hedges`);
      let slow = 0;
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        await mesh.request('echo', `n${i}`, { deadlineMs: 5000 });
        if (performance.now() - t0 >= 1500) slow++;
      }
      assert.equal(mesh.stats().hedged, hedged, 'requests not flagged idempotent are never hedged');
      assert.equal(slow, 1, 'round-robin sent one of three to the slow spearlet, and it was waited for');
    } finally {
      await fault('s1', 'none');
    }
  });
});
