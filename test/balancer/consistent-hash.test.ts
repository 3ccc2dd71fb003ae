import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.ts';
import { consistentHashPolicy, hash32 } from '../../src/balancer/consistent-hash.ts';
import type { PickTarget } from '../../src/balancer/picker.ts';
import { target, type FakeTarget } from './fakes.ts';

const KEYS = Array.from({ length: 300 }, (_, i) => `key-${i}`);

function homes(pick: (key: string) => PickTarget | undefined): Map<string, string | undefined> {
  return new Map(KEYS.map((k) => [k, pick(k)?.id]));
}

describe('consistent-hash with bounded load', () => {
  it('hashes deterministically and spreads keys over all targets', () => {
    assert.equal(hash32('abc'), hash32('abc'));
    assert.notEqual(hash32('abc'), hash32('abd'));
    const ts = [target('s1'), target('s2'), target('s3')];
    const picker = consistentHashPolicy().build(ts);
    const counts = new Map<string, number>();
    for (const id of homes((k) => picker.pick({ affinityKey: k })).values())
      counts.set(id ?? '-', (counts.get(id ?? '-') ?? 0) + 1);
    for (const t of ts) assert.ok((counts.get(t.id) ?? 0) > 50, `s${t.id} got ${counts.get(t.id)} of 300 keys`);
  });

  it('keeps a key on its target across picks and across a new target joining', () => {
    const policy = consistentHashPolicy();
    const ts: FakeTarget[] = [target('s1'), target('s2'), target('s3')];
    const p1 = policy.build(ts);
    const before = homes((k) => p1.pick({ affinityKey: k }));
    assert.deepEqual(
      homes((k) => p1.pick({ affinityKey: k })),
      before,
    );
    const p2 = policy.build([...ts, target('s4')]);
    assert.deepEqual(
      homes((k) => p2.pick({ affinityKey: k })),
      before,
    );
  });

  it('moves only the keys of a target that leaves', () => {
    const policy = consistentHashPolicy();
    const ts = [target('s1'), target('s2'), target('s3')];
    const before = homes((k) => policy.build(ts).pick({ affinityKey: k }));
    const after = homes((k) => policy.build([ts[0]!, ts[2]!]).pick({ affinityKey: k }));
    for (const k of KEYS) {
      if (before.get(k) === 's2') assert.notEqual(after.get(k), 's2');
      else assert.equal(after.get(k), before.get(k), `key ${k} moved although its target stayed`);
    }
    // the new homes stick even after s2 comes back
    const back = homes((k) => policy.build(ts).pick({ affinityKey: k }));
    assert.deepEqual(back, after);
  });

  it('without the table a fresh policy gives the same ring answer (pure consistent hashing)', () => {
    const ts = [target('s1'), target('s2'), target('s3')];
    const a = homes((k) => consistentHashPolicy({ affinityTableSize: 0 }).build(ts).pick({ affinityKey: k }));
    const b = homes((k) =>
      consistentHashPolicy({ affinityTableSize: 0 })
        .build([...ts].reverse())
        .pick({ affinityKey: k }),
    );
    assert.deepEqual(a, b);
  });

  it('spills a request off an overloaded home without moving the key, and returns once the load drops', () => {
    const ts = [target('s1'), target('s2'), target('s3')];
    const picker = consistentHashPolicy({ loadFactor: 1.25 }).build(ts);
    const home = picker.pick({ affinityKey: 'k' })!;
    const h = ts.find((t) => t.id === home.id)!;
    // total 6 outstanding, n 3: bound ceil(1.25 * 7 / 3) = 3; the home holds 6 so it is over the bound
    h.outstanding = 6;
    const spilled = picker.pick({ affinityKey: 'k' });
    assert.notEqual(spilled?.id, home.id);
    h.outstanding = 0;
    assert.equal(picker.pick({ affinityKey: 'k' })?.id, home.id);
  });

  it('moves a key whose home is not ready, and uses least-outstanding without a key', () => {
    const ts = [target('s1'), target('s2', { outstanding: 4 })];
    const picker = consistentHashPolicy({ random: () => 0 }).build(ts);
    const home = picker.pick({ affinityKey: 'x' })!;
    ts.find((t) => t.id === home.id)!.ready = false;
    assert.notEqual(picker.pick({ affinityKey: 'x' })?.id, home.id);
    ts[0]!.ready = true;
    ts[1]!.ready = true;
    assert.equal(picker.pick({})?.id, 's1');
  });

  it('validates its options', () => {
    assert.throws(() => consistentHashPolicy({ loadFactor: 0.5 }), ConfigError);
    assert.throws(() => consistentHashPolicy({ virtualNodes: 0 }), ConfigError);
  });
});
