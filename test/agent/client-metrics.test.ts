// Client-side metrics: a MeshClient given a prom-client registry exports per-spearlet attempts, error codes, latency,
// connection states, retries and the retry budget, against real spearlet processes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { MeshClient } from '../../src/agent/mesh-client.ts';
import { ConfigError } from '../../src/errors.ts';
import { MeshHarness, waitFor } from './mesh-harness.ts';

interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

async function samples(registry: Registry, name: string): Promise<Sample[]> {
  const all = (await registry.getMetricsAsJSON()) as unknown as { name: string; values: Sample[] }[];
  return all.find((m) => m.name === name)?.values ?? [];
}

function value(list: Sample[], labels: Record<string, string>, metricName?: string): number {
  const hit = list.find(
    (s) =>
      (metricName === undefined || s.metricName === metricName) &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return hit?.value ?? 0;
}

describe('MeshClient metricsRegistry', () => {
  it(
    'counts attempts per spearlet, errors by code, latency, states and the retry budget',
    { timeout: 120_000 },
    async (t) => {
      const h = new MeshHarness();
      t.after(() => h.close());
      await h.start();
      await Promise.all([h.spawn('m1'), h.spawn('m2')]);
      const registry = new Registry();
      const mesh = await h.client({ policy: 'round-robin', metricsRegistry: registry });
      await waitFor(() => mesh.stats().endpoints.filter((e) => e.state === 'READY').length === 2, 30_000, 'two READY');

      for (let i = 0; i < 20; i++) await mesh.request('echo', 'x', { idempotent: true });
      await assert.rejects(mesh.request('no-such-method', 'x'), { code: 'METHOD_NOT_FOUND' });

      const attempts = await samples(registry, 'spear_mesh_client_attempts_total');
      const ok1 = value(attempts, { spearlet: 'm1', code: 'OK' });
      const ok2 = value(attempts, { spearlet: 'm2', code: 'OK' });
      assert.equal(ok1 + ok2, 20, JSON.stringify(attempts));
      assert.ok(ok1 >= 9 && ok2 >= 9, `round-robin spreads the attempts: ${ok1} / ${ok2}`);
      const notFound =
        value(attempts, { spearlet: 'm1', code: 'METHOD_NOT_FOUND' }) +
        value(attempts, { spearlet: 'm2', code: 'METHOD_NOT_FOUND' });
      // Every attempt is counted: the first one plus each re-send the client made of it.
      const { retried, rerouted } = mesh.stats();
      assert.equal(notFound, 1 + retried + rerouted);

      const calls = await samples(registry, 'spear_mesh_client_calls_total');
      assert.equal(value(calls, { code: 'OK' }), 20);
      assert.equal(value(calls, { code: 'METHOD_NOT_FOUND' }), 1);

      const duration = await samples(registry, 'spear_mesh_client_attempt_duration_seconds');
      const count =
        value(duration, { spearlet: 'm1' }, 'spear_mesh_client_attempt_duration_seconds_count') +
        value(duration, { spearlet: 'm2' }, 'spear_mesh_client_attempt_duration_seconds_count');
      assert.equal(count, 20 + notFound);
      const callCount = value(
        await samples(registry, 'spear_mesh_client_call_duration_seconds'),
        {},
        'spear_mesh_client_call_duration_seconds_count',
      );
      assert.equal(callCount, 21);

      const states = await samples(registry, 'spear_mesh_client_endpoint_state');
      assert.equal(value(states, { spearlet: 'm1', state: 'READY' }), 1);
      assert.equal(value(states, { spearlet: 'm2', state: 'READY' }), 1);
      assert.equal(value(states, { spearlet: 'm2', state: 'CONNECTING' }), 0);
      const budget = await samples(registry, 'spear_mesh_client_retry_budget_available');
      assert.equal(budget[0]?.value, mesh.stats().retryBudgetAvailable);
      assert.ok(budget.some((s) => s.value > 0));

      // A spearlet killed outright: its state leaves READY in the exported gauge.
      await h.spearlets.get('m2')?.kill('SIGKILL');
      await waitFor(() => mesh.stats().endpoints.find((e) => e.id === 'm2')?.state !== 'READY', 30_000, 'm2 not READY');
      const after = await samples(registry, 'spear_mesh_client_endpoint_state');
      assert.equal(value(after, { spearlet: 'm2', state: 'READY' }), 0);
      const text = await registry.metrics();
      assert.match(text, /spear_mesh_client_retries_total\{kind="retry"\} \d+/);
      assert.match(text, /spear_mesh_client_ejections_total/);

      // close() takes the metrics out, so another client can use the same registry.
      await mesh.close();
      assert.equal(await samples(registry, 'spear_mesh_client_attempts_total').then((s) => s.length), 0);
      const again = await h.client({ metricsRegistry: registry });
      await again.request('echo', 'y', { idempotent: true });
      const second = await samples(registry, 'spear_mesh_client_calls_total');
      assert.equal(value(second, { code: 'OK' }), 1);
    },
  );

  it('refuses a metricsRegistry that is not a prom-client Registry', async () => {
    await assert.rejects(
      MeshClient.connect({ endpoints: ['127.0.0.1:1'], token: 't', metricsRegistry: {} as unknown as Registry }),
      (err: unknown) => err instanceof ConfigError && /metricsRegistry/.test(err.message),
    );
  });
});
