// MeshClient end to end: a dev registry, real spearlets as child processes (SIGKILL, SIGSTOP, drain), steady load.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MeshClient } from '../../src/agent/mesh-client.ts';
import { HEARTBEAT_TIMEOUT_MS, MeshHarness, served, steadyLoad, waitFor, type LoadReport } from './mesh-harness.ts';

const TEST_TIMEOUT_MS = 120_000;

type T = { after: (fn: () => Promise<void>) => void };

async function mesh3(
  t: T,
  ids: readonly string[] = ['s1', 's2', 's3'],
  policy: 'round-robin' | 'consistent-hash' = 'round-robin',
): Promise<{ h: MeshHarness; mesh: MeshClient }> {
  const h = new MeshHarness();
  t.after(() => h.close());
  await h.start();
  await Promise.all(ids.map((id) => h.spawn(id)));
  const mesh = await h.client({ policy });
  await waitReady(mesh, ids.length);
  return { h, mesh };
}

function readyCount(mesh: MeshClient): number {
  return mesh.stats().endpoints.filter((e) => e.state === 'READY').length;
}

async function waitReady(mesh: MeshClient, n: number): Promise<void> {
  await waitFor(
    () => readyCount(mesh) >= n,
    30_000,
    `${n} READY endpoints (${JSON.stringify(mesh.stats().endpoints)})`,
  );
}

function summary(r: LoadReport, mesh: MeshClient): string {
  const failures = r.failures.slice(0, 3).map((e) => `${(e as { code?: string }).code}: ${e.message}`);
  return `sent ${r.sent} ok ${r.ok} failed ${r.failures.length} [${failures.join('; ')}] stats ${JSON.stringify(mesh.stats())}`;
}

/** The spearlet that answered `info`. */
async function whoAnswers(mesh: MeshClient, affinityKey: string): Promise<string> {
  const info = JSON.parse((await mesh.request('info', '', { affinityKey, idempotent: true })).toString()) as {
    spearlet: string;
  };
  return info.spearlet;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Every test has its own harness (registry, spearlets, temp dir): two run at a time.
describe('MeshClient with real spearlets', { concurrency: 2 }, () => {
  it(
    'loses nothing when one of three spearlets is SIGKILLed under steady idempotent load',
    { timeout: TEST_TIMEOUT_MS },
    async (t) => {
      const { h, mesh } = await mesh3(t);
      const load = steadyLoad(mesh, { concurrency: 8, sleepMs: 20, idempotent: true });
      await waitFor(() => served(mesh, 's2') >= 20, 20_000, 's2 to serve');
      await h.spearlets.get('s2')!.kill('SIGKILL');
      const okAtKill = load.report.ok;
      const [s1AtKill, s3AtKill] = [served(mesh, 's1'), served(mesh, 's3')];
      await waitFor(() => load.report.ok >= okAtKill + 150, 30_000, 'traffic after the kill');
      const r = await load.stop();
      assert.equal(r.failures.length, 0, summary(r, mesh));
      assert.ok(served(mesh, 's1') > s1AtKill && served(mesh, 's3') > s3AtKill, summary(r, mesh));
    },
  );

  it(
    'fails only non-idempotent requests in flight on a killed spearlet, each with SPEARLET_LOST',
    { timeout: TEST_TIMEOUT_MS },
    async (t) => {
      const { h, mesh } = await mesh3(t);
      const load = steadyLoad(mesh, { concurrency: 9, sleepMs: 50, idempotent: (i) => i % 2 === 0 });
      await waitFor(() => served(mesh, 's2') >= 6, 20_000, 's2 to serve');
      // Three non-idempotent requests certainly in flight on s2 when it dies.
      const pinned = [1, 2, 3].map(() =>
        mesh.request('sleep', '5000', { spearletId: 's2' }).then(
          () => 'completed',
          (err: unknown) => (err as { code?: string }).code,
        ),
      );
      await waitFor(
        () => (mesh.stats().endpoints.find((e) => e.id === 's2')?.outstanding ?? 0) >= 3,
        10_000,
        'the pinned requests on s2',
      );
      await h.spearlets.get('s2')!.kill('SIGKILL');
      assert.deepEqual(await Promise.all(pinned), ['SPEARLET_LOST', 'SPEARLET_LOST', 'SPEARLET_LOST']);
      const okAtKill = load.report.ok;
      await waitFor(() => load.report.ok >= okAtKill + 60, 30_000, 'traffic after the kill');
      const r = await load.stop();
      assert.equal(r.idempotentFailures, 0, summary(r, mesh));
      for (const err of r.failures) {
        assert.equal((err as { code?: string }).code, 'SPEARLET_LOST', summary(r, mesh));
        assert.match(err.message, /may have run/);
      }
    },
  );

  it(
    'detects a SIGSTOPped spearlet within the heartbeat timeout, fails no idempotent request, and uses it again after SIGCONT',
    { timeout: TEST_TIMEOUT_MS },
    async (t) => {
      const { h, mesh } = await mesh3(t);
      const load = steadyLoad(mesh, { concurrency: 6, sleepMs: 10, idempotent: true });
      await waitFor(() => served(mesh, 's2') >= 10, 20_000, 's2 to serve');
      const s2 = h.spearlets.get('s2')!;
      const stoppedAt = Date.now();
      s2.child.kill('SIGSTOP');
      await waitFor(
        () => mesh.stats().endpoints.find((e) => e.id === 's2')?.state !== 'READY',
        10_000,
        's2 to leave READY',
      );
      const detectedMs = Date.now() - stoppedAt;
      // The timeout itself plus one heartbeat tick and scheduling slack on a loaded machine.
      assert.ok(detectedMs < HEARTBEAT_TIMEOUT_MS + 2400, `detected after ${detectedMs} ms`);
      // The load goes on without s2: the others answer 20 more requests while it is stopped.
      const others = (): number => served(mesh, 's1') + served(mesh, 's3');
      const othersAtDetection = others();
      await waitFor(() => others() >= othersAtDetection + 20, 20_000, 's1 and s3 to serve while s2 is stopped');
      const servedByS2 = served(mesh, 's2');
      s2.child.kill('SIGCONT');
      await waitFor(() => served(mesh, 's2') > servedByS2, 30_000, 's2 to serve again after SIGCONT');
      const r = await load.stop();
      assert.equal(r.failures.length, 0, summary(r, mesh));
    },
  );

  it('drains a spearlet with zero failures of any kind, idempotent or not', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { h, mesh } = await mesh3(t);
    const load = steadyLoad(mesh, { concurrency: 8, sleepMs: 30, idempotent: (i) => i % 2 === 0 });
    await waitFor(() => served(mesh, 's2') >= 10, 20_000, 's2 to serve');
    const s2 = h.spearlets.get('s2')!;
    assert.equal(await s2.stop(), 0, s2.stderr());
    const okAtExit = load.report.ok;
    await waitFor(() => load.report.ok >= okAtExit + 100, 30_000, 'traffic after the drain');
    const r = await load.stop();
    assert.equal(r.failures.length, 0, summary(r, mesh));
    await waitFor(() => mesh.stats().endpoints.every((e) => e.id !== 's2'), 20_000, 's2 to leave the endpoint set');
  });

  it('sends traffic to a spearlet that registers while the client runs', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { h, mesh } = await mesh3(t, ['s1', 's2']);
    const load = steadyLoad(mesh, { concurrency: 4, sleepMs: 5 });
    await h.spawn('s3');
    await waitFor(() => served(mesh, 's3') >= 10, 30_000, 'the new spearlet to get traffic');
    const r = await load.stop();
    assert.equal(r.failures.length, 0, summary(r, mesh));
  });

  it(
    'keeps affinity keys on their spearlet and moves only the keys of a spearlet that leaves',
    { timeout: TEST_TIMEOUT_MS },
    async (t) => {
      const { h, mesh } = await mesh3(t, ['s1', 's2', 's3'], 'consistent-hash');
      const keys = Array.from({ length: 40 }, (_, i) => `tenant-${i}`);
      const homes = async (): Promise<Map<string, string>> => {
        const m = new Map<string, string>();
        for (const k of keys) m.set(k, await whoAnswers(mesh, k));
        return m;
      };
      const before = await homes();
      assert.equal(new Set(before.values()).size, 3, 'keys spread over all three spearlets');
      assert.deepEqual(await homes(), before);
      const victim = before.get('tenant-0')!;
      await h.spearlets.get(victim)!.kill('SIGKILL');
      await waitFor(
        () => mesh.stats().endpoints.find((e) => e.id === victim)?.state !== 'READY',
        10_000,
        'the victim to be seen gone',
      );
      const after = await homes();
      for (const k of keys) {
        if (before.get(k) === victim) assert.notEqual(after.get(k), victim, `${k} still on the dead spearlet`);
        else assert.equal(after.get(k), before.get(k), `${k} moved although its spearlet stayed`);
      }
      assert.deepEqual(await homes(), after);
    },
  );

  it(
    'keeps serving from the last known spearlets while the registry is down',
    { timeout: TEST_TIMEOUT_MS },
    async (t) => {
      const { h, mesh } = await mesh3(t);
      await h.registry.close();
      const load = steadyLoad(mesh, { concurrency: 6, sleepMs: 5 });
      await waitFor(() => load.report.ok >= 300, 30_000, 'traffic with the registry down');
      const r = await load.stop();
      assert.equal(r.failures.length, 0, summary(r, mesh));
      assert.ok(
        ['s1', 's2', 's3'].every((id) => served(mesh, id) > 0),
        summary(r, mesh),
      );
      assert.equal(mesh.stats().endpoints.length, 3);
    },
  );

  it('reaches a local spearlet over the Unix socket it advertises', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const h = new MeshHarness();
    t.after(() => h.close());
    await h.start();
    await h.spawn('u1', ['--socket', h.socketPath('u1.sock')]);
    const mesh = await h.client();
    await waitReady(mesh, 1);
    assert.equal(mesh.stats().endpoints[0]?.transport, 'unix');
    assert.equal((await mesh.request('echo', 'over unix')).toString(), 'over unix');
  });

  it(
    'keeps its session past the token expiry by sending REAUTH with a fresh token',
    { timeout: TEST_TIMEOUT_MS },
    async (t) => {
      const h = new MeshHarness();
      t.after(() => h.close());
      await h.start();
      const s1 = await h.spawn('s1');
      let minted = 0;
      const mesh = await h.client({
        tokenProvider: () => {
          minted++;
          return h.mint(3);
        },
      });
      await waitReady(mesh, 1);
      const sessions = async (): Promise<{ session: string; tokenExp: number | null }[]> => {
        const res = await fetch(`${s1.adminUrl}/v1/sessions`);
        return ((await res.json()) as { sessions: { session: string; tokenExp: number | null }[] }).sessions;
      };
      const [first] = await sessions();
      assert.ok(first !== undefined);
      // The first token expires 3 s after it was minted (at tokenExp, in whole seconds); keep working until a second
      // past that.
      assert.ok(first.tokenExp !== null && first.tokenExp * 1000 - Date.now() < 4000, 'the first token expires soon');
      const until = first.tokenExp * 1000 + 1000;
      while (Date.now() < until) {
        assert.equal((await mesh.request('echo', 'still here')).toString(), 'still here');
        await sleep(100);
      }
      const now = await sessions();
      assert.deepEqual(
        now.map((x) => x.session),
        [first.session],
        'the same session throughout: no GOAWAY, no reconnect',
      );
      assert.ok((now[0]?.tokenExp ?? 0) > first.tokenExp, 'the spearlet holds a later expiry');
      assert.ok(minted >= 2);
      assert.equal(mesh.stats().failed, 0);
    },
  );
});
