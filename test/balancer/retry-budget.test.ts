import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.ts';
import { RetryBudget } from '../../src/balancer/retry-budget.ts';

describe('RetryBudget', () => {
  it('allows ratio x requests plus the floor over the window, and refills as the window slides', () => {
    let now = 0;
    const b = new RetryBudget({ ratio: 0.2, minRetriesPerSecond: 0.1, windowMs: 10_000, now: () => now });
    // floor: 0.1/s * 10 s = 1 retry with no traffic at all
    assert.deepEqual([b.tryRetry(), b.tryRetry()], [true, false]);
    for (let i = 0; i < 20; i++) b.recordRequest();
    // 0.2 * 20 + 1 = 5 in total, 1 used
    const got = Array.from({ length: 5 }, () => b.tryRetry());
    assert.deepEqual(got, [true, true, true, true, false]);
    assert.equal(b.available(), 0);
    now = 10_500; // everything above has slid out of the window
    assert.equal(b.available(), 1);
  });

  it("counts a request at the caller's clock reading when given one", () => {
    let now = 0;
    const b = new RetryBudget({ ratio: 1, minRetriesPerSecond: 0, windowMs: 10_000, now: () => now });
    b.recordRequest(0);
    b.recordRequest(10_500); // the caller's reading, later than the budget's clock (still 0)
    now = 10_500;
    assert.equal(b.available(), 1, 'the first slid out of the window, the second counts at 10,500');
    now = 19_900; // still inside the window, counted in whole 1 s buckets
    assert.equal(b.available(), 1);
    now = 21_000;
    assert.equal(b.available(), 0);
  });

  it('rejects nonsense options', () => {
    assert.throws(() => new RetryBudget({ ratio: -1 }), ConfigError);
    assert.throws(() => new RetryBudget({ windowMs: 1 }), ConfigError);
  });
});
