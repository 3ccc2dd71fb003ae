import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.ts';
import { roundRobinPolicy } from '../../src/balancer/round-robin.ts';
import { leastOutstandingPolicy } from '../../src/balancer/least-outstanding.ts';
import { PeakEwma, peakEwmaPolicy } from '../../src/balancer/peak-ewma.ts';
import { buildPicker, createPolicy, POLICY_NAMES } from '../../src/balancer/policies.ts';
import { scripted, target } from './fakes.ts';

const ids = (picks: readonly ({ id: string } | undefined)[]): (string | undefined)[] => picks.map((p) => p?.id);

describe('round-robin', () => {
  it('cycles from the random start and skips targets that are not ready', () => {
    const a = target('a');
    const b = target('b');
    const c = target('c');
    const picker = roundRobinPolicy({ random: () => 0.5 }).build([a, b, c]);
    const seq = [picker.pick({}), picker.pick({}), picker.pick({})];
    b.ready = false;
    seq.push(picker.pick({}), picker.pick({}), picker.pick({}));
    assert.deepEqual(ids(seq), ['b', 'c', 'a', 'c', 'a', 'c']);
  });

  it('honours exclusions and returns undefined when nothing is eligible', () => {
    const picker = roundRobinPolicy({ random: () => 0 }).build([target('a'), target('b')]);
    assert.deepEqual(ids([picker.pick({ exclude: new Set(['a']) }), picker.pick({ exclude: new Set(['a']) })]), [
      'b',
      'b',
    ]);
    assert.equal(picker.pick({ exclude: new Set(['a', 'b']) }), undefined);
    assert.equal(roundRobinPolicy().build([]).pick({}), undefined);
  });
});

describe('least-outstanding (two random choices)', () => {
  it('takes the less loaded of the two random candidates, the first on a tie', () => {
    const a = target('a', { outstanding: 3 });
    const b = target('b', { outstanding: 1 });
    const c = target('c', { outstanding: 0 });
    // random pairs: (0.0 -> a, 0.0 -> b), (0.9 -> c, 0.0 -> a), (0.4 -> b, 0.6 -> c)
    const picker = leastOutstandingPolicy({ random: scripted([0, 0, 0.9, 0, 0.4, 0.6]) }).build([a, b, c]);
    assert.deepEqual(ids([picker.pick({}), picker.pick({}), picker.pick({})]), ['b', 'c', 'c']);
    const tie = leastOutstandingPolicy({ random: scripted([0, 0]) }).build([target('x'), target('y')]);
    assert.equal(tie.pick({})?.id, 'x');
  });

  it('falls back to a scan when both random candidates are unusable', () => {
    const a = target('a', { ready: false });
    const b = target('b', { ready: false });
    const c = target('c', { outstanding: 9 });
    const picker = leastOutstandingPolicy({ random: scripted([0, 0]) }).build([a, b, c]);
    assert.equal(picker.pick({})?.id, 'c');
    c.ready = false;
    assert.equal(picker.pick({}), undefined);
  });
});

describe('peak-ewma', () => {
  it('jumps to a higher sample at once and decays towards lower samples over time', () => {
    const e = new PeakEwma(1000);
    e.observe(10, 0);
    assert.equal(e.valueMs, 10);
    e.observe(50, 100);
    assert.equal(e.valueMs, 50);
    e.observe(10, 1100);
    // one decay period: 50 * e^-1 + 10 * (1 - e^-1)
    assert.ok(Math.abs(e.valueMs - (50 * Math.exp(-1) + 10 * (1 - Math.exp(-1)))) < 1e-9);
  });

  it('weighs latency by load: a fast busy target can lose to a slow idle one', () => {
    const fast = target('fast', { ewmaMs: 2, outstanding: 9 }); // cost 20
    const slow = target('slow', { ewmaMs: 10, outstanding: 0 }); // cost 10
    const mid = target('mid', { ewmaMs: 4, outstanding: 1 }); // cost 8
    const picker = peakEwmaPolicy({ random: scripted([0, 0, 0, 0.9, 0.5, 0.9]) }).build([fast, slow, mid]);
    assert.deepEqual(ids([picker.pick({}), picker.pick({}), picker.pick({})]), ['slow', 'mid', 'mid']);
  });

  it('separates unmeasured targets by outstanding count', () => {
    const picker = peakEwmaPolicy({ random: scripted([0, 0]) }).build([target('a', { outstanding: 2 }), target('b')]);
    assert.equal(picker.pick({})?.id, 'b');
  });
});

describe('policy registry and composition', () => {
  it('creates every named policy and rejects unknown names', () => {
    for (const name of POLICY_NAMES) assert.equal(createPolicy(name).name, name);
    // @ts-expect-error unknown policy name on purpose
    assert.throws(() => createPolicy('random'), ConfigError);
  });

  it('prefers the local zone and falls back to others when no local target is usable', () => {
    const a = target('a', { zone: 'z1' });
    const b = target('b', { zone: 'z2' });
    const c = target('c', { zone: 'z1' });
    const picker = buildPicker(roundRobinPolicy({ random: () => 0 }), [a, b, c], { zone: 'z1' });
    const seq = [picker.pick({}), picker.pick({}), picker.pick({})];
    a.ready = false;
    seq.push(picker.pick({}));
    c.ready = false;
    seq.push(picker.pick({}), picker.pick({}));
    seq.push(picker.pick({ exclude: new Set(['b']) }));
    assert.deepEqual(ids(seq), ['a', 'c', 'a', 'c', 'b', 'b', undefined]);
  });

  it('filters by tags per request, and finds nothing when no target has them', () => {
    const a = target('a', { tags: ['gpu', 'zone-x'] });
    const b = target('b', { tags: ['cpu'] });
    const c = target('c', { tags: ['gpu'] });
    const picker = buildPicker(roundRobinPolicy({ random: () => 0 }), [a, b, c]);
    const seq = [picker.pick({ tags: ['gpu'] }), picker.pick({ tags: ['gpu'] }), picker.pick({ tags: ['gpu'] })];
    seq.push(picker.pick({ tags: ['gpu', 'zone-x'] }), picker.pick({ tags: ['cpu'] }), picker.pick({ tags: ['tpu'] }));
    assert.deepEqual(ids(seq), ['a', 'c', 'a', 'a', 'b', undefined]);
    assert.equal(buildPicker(roundRobinPolicy(), []).pick({}), undefined);
  });
});
