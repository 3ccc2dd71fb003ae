// MeshClient end to end: a dev registry, real spearlets as child processes (SIGKILL, SIGSTOP, drain), steady load.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MeshClient } from '../../src/agent/mesh-client.ts';
import { HEARTBEAT_TIMEOUT_MS, MeshHarness, steadyLoad, waitFor, type LoadReport } from './mesh-harness.ts';

const TEST_TIMEOUT_MS = 120_000;

type T = { after: (fn: () => Promise<void>) => void };

async function mesh3(t: T, ids: readonly string[] = ['s1', 's2', 's3'], policy: 'round-robin' | 'consistent-hash' = 'round-robin'): Promise<{ h: MeshHarness; mesh: MeshClient }> {
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
  await waitFor(() => readyCount(mesh) >= n, 30_000, `${n} READY endpoints (${JSON.stringify(mesh.stats().endpoints)})`);
}

function summary(r: LoadReport): string {
  return `sent ${r.sent} ok ${r.ok} failed ${r.failures.length} [${r.failures.slice(0, 3).map((e) => `${(e as { code?: string }).code}: ${e.message}`).join('; ')}] served ${JSON.stringify([...r.servedBy])}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('MeshClient with real spearlets', { timeout: TEST_TIMEOUT_MS }, () => {
  it('loses nothing when one of three spearlets is SIGKILLed under steady idempotent load', async (t) => {
    const { h, mesh } = await mesh3(t);
    const load = steadyLoad(mesh, { concurrency: 8, sleepMs: 20, idempotent: true });
    await waitFor(() => (load.report.servedBy.get('s2') ?? 0) >= 20, 20_000, 's2 to serve');
    h.spearlets.get('s2')!.signal('SIGKILL');
    const servedAtKill = load.report.ok;
    await waitFor(() => load.report.ok >= servedAtKill + 150, 30_000, 'traffic after the kill');
    const r = await load.stop();
    assert.equal(r.failures.length, 0, summary(r));
    assert.ok((r.servedBy.get('s1') ?? 0) > 0 && (r.servedBy.get('s3') ?? 0) > 0, summary(r));
  });

  it('detects a SIGSTOPped spearlet within the heartbeat timeout, fails no idempotent request, and uses it again after SIGCONT', async (t) => {
    const { h, mesh } = await mesh3(t);
    const load = steadyLoad(mesh, { concurrency: 6, sleepMs: 10, idempotent: true });
    await waitFor(() => (load.report.servedBy.get('s2') ?? 0) >= 10, 20_000, 's2 to serve');
    const s2 = h.spearlets.get('s2')!;
    const stoppedAt = Date.now();
    s2.signal('SIGSTOP');
    await waitFor(() => mesh.stats().endpoints.find((e) => e.id === 's2')?.state !== 'READY', 10_000, 's2 to leave READY');
    const detectedMs = Date.now() - stoppedAt;
    // The timeout itself plus one heartbeat tick and scheduling slack on a loaded machine.
    assert.ok(detectedMs < HEARTBEAT_TIMEOUT_MS + 1500, `detected after ${detectedMs} ms`);
    await sleep(300);
    const servedByS2 = load.report.servedBy.get('s2') ?? 0;
    s2.signal('SIGCONT');
    await waitFor(() => (load.report.servedBy.get('s2') ?? 0) > servedByS2, 30_000, 's2 to serve again after SIGCONT');
    const r = await load.stop();
    assert.equal(r.failures.length, 0, summary(r));
  });

  it('drains a spearlet with zero failures of any kind, idempotent or not', async (t) => {
    const { h, mesh } = await mesh3(t);
    const load = steadyLoad(mesh, { concurrency: 8, sleepMs: 30, idempotent: (i) => i % 2 === 0 });
    await waitFor(() => (load.report.servedBy.get('s2') ?? 0) >= 10, 20_000, 's2 to serve');
    const s2 = h.spearlets.get('s2')!;
    s2.signal('SIGTERM');
    await s2.exited;
    const okAtExit = load.report.ok;
    await waitFor(() => load.report.ok >= okAtExit + 100, 30_000, 'traffic after the drain');
    const r = await load.stop();
    assert.equal(r.failures.length, 0, summary(r));
    await waitFor(() => mesh.stats().endpoints.every((e) => e.id !== 's2'), 20_000, 's2 to leave the endpoint set');
  });

  it('sends traffic to a spearlet that registers while the client runs', async (t) => {
    const { h, mesh } = await mesh3(t, ['s1', 's2']);
    const load = steadyLoad(mesh, { concurrency: 4, sleepMs: 5 });
    await h.spawn('s3');
    await waitFor(() => (load.report.servedBy.get('s3') ?? 0) >= 10, 30_000, 'the new spearlet to get traffic');
    const r = await load.stop();
    assert.equal(r.failures.length, 0, summary(r));
  });

  it('keeps affinity keys on their spearlet and moves only the keys of a spearlet that leaves', async (t) => {
    const { h, mesh } = await mesh3(t, ['s1', 's2', 's3'], 'consistent-hash');
    const keys = Array.from({ length: 40 }, (_, i) => `tenant-${i}`);
    const homes = async (): Promise<Map<string, string>> => {
      const m = new Map<string, string>();
      for (const k of keys) m.set(k, (await mesh.request('whoami', '0', { affinityKey: k, idempotent: true })).toString());
      return m;
    };
    const before = await homes();
    assert.equal(new Set(before.values()).size, 3, 'keys spread over all three spearlets');
    assert.deepEqual(await homes(), before);
    const victim = before.get('tenant-0')!;
    h.spearlets.get(victim)!.signal('SIGKILL');
    await waitFor(() => mesh.stats().endpoints.find((e) => e.id === victim)?.state !== 'READY', 10_000, 'the victim to be seen gone');
    const after = await homes();
    for (const k of keys) {
      if (before.get(k) === victim) assert.notEqual(after.get(k), victim, `${k} still on the dead spearlet`);
      else assert.equal(after.get(k), before.get(k), `${k} moved although its spearlet stayed`);
    }
    assert.deepEqual(await homes(), after);
  });

  it('keeps serving from the last known spearlets while the registry is down', async (t) => {
    const { h, mesh } = await mesh3(t);
    await h.registry.close();
    const load = steadyLoad(mesh, { concurrency: 6, sleepMs: 5 });
    await waitFor(() => load.report.ok >= 300, 30_000, 'traffic with the registry down');
    const r = await load.stop();
    assert.equal(r.failures.length, 0, summary(r));
    assert.equal(r.servedBy.size, 3, summary(r));
    assert.equal(mesh.stats().endpoints.length, 3);
  });
});
