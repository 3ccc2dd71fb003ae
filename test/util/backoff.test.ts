import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../../src/util/backoff.ts';

describe('Backoff', () => {
  it('grows by the multiplier up to the cap, without jitter', () => {
    const b = new Backoff({ initialMs: 100, multiplier: 2, maxMs: 500, jitter: 0 });
    assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 500, 500]);
    assert.equal(b.attempts, 5);
    b.reset();
    assert.equal(b.next(), 100);
  });

  it('keeps jitter within the configured share', () => {
    const lo = new Backoff({ initialMs: 1000, jitter: 0.2, random: () => 0 });
    const hi = new Backoff({ initialMs: 1000, jitter: 0.2, random: () => 0.999999 });
    assert.equal(lo.next(), 800);
    assert.equal(hi.next(), 1200);
  });

  it('rejects nonsense options', () => {
    assert.throws(() => new Backoff({ initialMs: 0 }), TypeError);
    assert.throws(() => new Backoff({ jitter: 1 }), TypeError);
    assert.throws(() => new Backoff({ initialMs: 10, maxMs: 5 }), TypeError);
  });
});
