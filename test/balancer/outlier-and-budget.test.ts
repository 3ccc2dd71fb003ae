import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.ts';
import { OutlierDetector } from '../../src/balancer/outlier-detector.ts';
import { RetryBudget } from '../../src/balancer/retry-budget.ts';

describe('OutlierDetector', () => {
  it('ejects after N consecutive failures for base * 2^k, and a success resets the count', () => {
    let now = 0;
    const d = new OutlierDetector({
      consecutiveFailures: 3,
      baseEjectionMs: 100,
      maxEjectionMs: 1000,
      maxEjectionPercent: 50,
      now: () => now,
    });
    d.setEndpoints(['a', 'b', 'c', 'd']);
    assert.deepEqual([d.recordFailure('a'), d.recordFailure('a')], [false, false]);
    d.recordSuccess('a');
    assert.deepEqual([d.recordFailure('a'), d.recordFailure('a'), d.recordFailure('a')], [false, false, true]);
    assert.deepEqual([...d.ejected()], ['a']);
    assert.equal(d.nextExpiryAt(), 100);
    now = 100;
    assert.equal(d.isEjected('a'), false);
    // second ejection lasts twice as long, third four times, capped at max
    const lengths: number[] = [];
    for (let k = 0; k < 4; k++) {
      d.recordFailure('a');
      d.recordFailure('a');
      assert.equal(d.recordFailure('a'), true);
      const until = d.nextExpiryAt()!;
      lengths.push(until - now);
      now = until;
    }
    assert.deepEqual(lengths, [200, 400, 800, 1000]);
  });

  it('never ejects more than maxEjectionPercent of the endpoints', () => {
    const d = new OutlierDetector({
      consecutiveFailures: 1,
      maxEjectionPercent: 50,
      failOpenPercent: 100,
      now: () => 0,
    });
    d.setEndpoints(['a', 'b', 'c', 'd']);
    assert.deepEqual(
      ['a', 'b', 'c', 'd'].map((id) => d.recordFailure(id)),
      [true, true, false, false],
    );
    assert.deepEqual([...d.ejected()].sort(), ['a', 'b']);
  });

  it('fails open when most endpoints look bad', () => {
    const d = new OutlierDetector({
      consecutiveFailures: 2,
      maxEjectionPercent: 100,
      failOpenPercent: 50,
      now: () => 0,
    });
    d.setEndpoints(['a', 'b', 'c']);
    d.recordFailure('a');
    d.recordFailure('a');
    assert.deepEqual([...d.ejected()], ['a']);
    d.recordFailure('b');
    d.recordFailure('b');
    // two of three look bad: more than half, so nothing is ejected from the picker's point of view
    assert.deepEqual([...d.ejected()], []);
  });

  it('forgets endpoints that left and never ejects the only endpoint at the default share', () => {
    const d = new OutlierDetector({ consecutiveFailures: 1, now: () => 0 });
    d.setEndpoints(['a']);
    assert.equal(d.recordFailure('a'), false);
    d.setEndpoints(['b', 'c']);
    assert.equal(d.recordFailure('a'), false);
    assert.equal(d.recordFailure('b'), true);
  });
});

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

  it('rejects nonsense options', () => {
    assert.throws(() => new RetryBudget({ ratio: -1 }), ConfigError);
    assert.throws(() => new RetryBudget({ windowMs: 1 }), ConfigError);
  });
});
