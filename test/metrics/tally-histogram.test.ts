import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { TallyHistogram } from '../../src/metrics/tally-histogram.ts';

describe('TallyHistogram', () => {
  it('renders the same exposition text and JSON as prom-client Histogram for the same observations', async () => {
    const buckets = [0.001, 0.01, 0.1, 1];
    const observations: [string, number][] = [
      ['echo', 0.0004],
      ['echo', 0.001],
      ['echo', 0.05],
      ['sleep', 2],
      ['echo', 0.0101],
      ['sleep', 0.5],
    ];
    const theirs = new Registry();
    const mine = new Registry();
    for (const r of [theirs, mine]) r.setDefaultLabels({ spearlet: 's1' });
    const h = new Histogram({ name: 'd_seconds', help: 'd', labelNames: ['method'], buckets, registers: [theirs] });
    const t = new TallyHistogram({ name: 'd_seconds', help: 'd', label: 'method', buckets, registry: mine });
    for (const [method, v] of observations) {
      h.observe({ method }, v);
      t.observe(method, v);
    }
    assert.equal(await mine.metrics(), await theirs.metrics());
    assert.deepEqual(await mine.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
    const held = t.series('echo');
    t.reset();
    h.reset();
    assert.equal(await mine.metrics(), await theirs.metrics());
    // A series held across the reset keeps counting into the exposition (the spearlet keeps one per session).
    held.observe(0.05);
    h.observe({ method: 'echo' }, 0.05);
    assert.equal(await mine.metrics(), await theirs.metrics());
    // observeMany(v, n) is n observations of v (a value whose sums are exact, so the two expositions can match).
    t.series('many').observeMany(0.5, 3);
    for (let i = 0; i < 3; i++) h.observe({ method: 'many' }, 0.5);
    assert.equal(await mine.metrics(), await theirs.metrics());
  });
});
