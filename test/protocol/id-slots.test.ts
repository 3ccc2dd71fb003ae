import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IdSlots } from '../../src/protocol/id-slots.ts';

describe('IdSlots', () => {
  it('holds the same entries as a Map for any mix of adds (increasing ids) and takes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(-1), fc.nat({ max: 300 })), { maxLength: 600 }),
        fc.integer({ min: 1, max: 2 ** 52 }),
        (ops, firstId) => {
          const slots = new IdSlots<string>();
          const model = new Map<number, string>();
          let next = firstId;
          for (const op of ops) {
            if (op === -1) {
              slots.set(next, `v${next}`);
              model.set(next, `v${next}`);
              next++;
            } else {
              // Take some id: a pending one when there is any (every k-th in order), else one never added.
              const ids = [...model.keys()];
              const id = ids.length === 0 ? next + op : (ids[op % ids.length] ?? 0);
              assert.equal(slots.take(id), model.get(id));
              model.delete(id);
            }
            assert.equal(slots.size, model.size);
          }
          assert.deepEqual(
            slots.entries(),
            [...model].sort((a, b) => a[0] - b[0]),
          );
        },
      ),
    );
  });

  it('keeps an entry that stays pending while many later ids come and go (its slot is reused through the overflow)', () => {
    const slots = new IdSlots<number>();
    slots.set(1, 1);
    for (let id = 2; id < 1000; id++) {
      slots.set(id, id);
      assert.equal(slots.take(id), id);
    }
    assert.equal(slots.size, 1);
    assert.equal(slots.take(1), 1);
    assert.equal(slots.take(1), undefined, 'taken once');
    assert.equal(slots.size, 0);
    assert.deepEqual(slots.entries(), []);
  });
});
