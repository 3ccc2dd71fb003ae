// OutlierDetector on a fake clock: consecutive failures, success rate relative to peers, failure percentage, stalls,
// ejection time growing with each ejection (capped), the cap on the ejected share, fail-open, and what counts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.ts';
import { OutlierDetector, verdictOf, type Ejection } from '../../src/balancer/outlier-detector.ts';
import type { OutlierDetectorOptions } from '../../src/balancer/outlier-options.ts';

function detector(ids: readonly string[], options: OutlierDetectorOptions = {}) {
  const clock = { now: 0 };
  const d = new OutlierDetector({
    stallMs: false,
    successRate: false,
    failurePercentage: false,
    ...options,
    now: () => clock.now,
  });
  const ejections: Ejection[] = [];
  d.onEject = (e) => ejections.push(e);
  d.setEndpoints(ids);
  /** `n` attempts on `id` ending with `verdict`. */
  const run = (id: string, verdict: 'success' | 'failure' | 'none', n = 1): boolean[] =>
    Array.from({ length: n }, () => {
      d.attemptStarted(id);
      return d.attemptEnded(id, verdict);
    });
  return { d, clock, ejections, run };
}

describe('OutlierDetector', () => {
  it('ejects after 5 consecutive failures by default; a success resets the count', () => {
    const { d, run, ejections } = detector(['a', 'b', 'c']);
    assert.deepEqual(run('a', 'failure', 4), [false, false, false, false]);
    run('a', 'success');
    assert.deepEqual(run('a', 'failure', 5), [false, false, false, false, true]);
    assert.deepEqual([...d.ejected()], ['a']);
    assert.deepEqual(ejections, [{ id: 'a', reason: 'consecutive', durationMs: 2000 }]);
  });

  it("takes the caller's clock reading when given one, and reads its clock otherwise", () => {
    let reads = 0;
    let now = 0;
    const d = new OutlierDetector({ consecutiveFailures: 2, stallMs: false, now: () => (reads++, now) });
    d.setEndpoints(['a', 'b', 'c']);
    const before = reads;
    d.attemptStarted('a', 5);
    d.attemptEnded('a', 'failure', 6);
    d.attemptStarted('a', 7);
    assert.equal(d.attemptEnded('a', 'failure', 8), true, 'ejected on the second failure');
    assert.equal(reads, before, 'no reading of its own');
    // The ejection ran from the given reading (8): it is over at 8 + baseEjectionMs on the detector's clock.
    now = 8 + 1999;
    assert.equal(d.isEjected('a'), true);
    now = 8 + 2000;
    assert.equal(d.isEjected('a'), false);
    d.attemptStarted('b');
    d.attemptEnded('b', 'success');
    assert.ok(reads > before, 'without a reading it reads its clock');
  });

  it('the n-th ejection lasts n x base, capped at maxEjectionMs; healthy intervals shorten it again', () => {
    const { d, clock, run } = detector(['a', 'b', 'c'], {
      consecutiveFailures: 2,
      baseEjectionMs: 100,
      maxEjectionMs: 350,
      intervalMs: 1000,
    });
    const lengths: number[] = [];
    for (let k = 0; k < 5; k++) {
      assert.deepEqual(run('a', 'failure', 2), [false, true]);
      const until = d.nextExpiryAt()!;
      lengths.push(until - clock.now);
      clock.now = until;
      assert.equal(d.isEjected('a'), false, 'back when the ejection ends');
    }
    assert.deepEqual(lengths, [100, 200, 300, 350, 350]);
    // Whole healthy intervals (no failure, not ejected at any time in them) take one ejection off the count each;
    // the first interval here began during the last ejection, so three of these four count.
    for (let i = 0; i < 4; i++) {
      clock.now += 1000;
      run('a', 'success');
      d.check();
    }
    run('a', 'failure', 2);
    assert.equal(d.nextExpiryAt()! - clock.now, 300, 'five ejections less three healthy intervals: the third length');
  });

  it('answers that arrive while ejected do not extend or repeat the ejection', () => {
    const { d, run, ejections } = detector(['a', 'b', 'c'], { consecutiveFailures: 1 });
    run('a', 'failure');
    assert.deepEqual(run('a', 'failure', 3), [false, false, false]);
    assert.equal(ejections.length, 1);
    assert.ok(d.isEjected('a'));
  });

  it('never ejects more than maxEjectionPercent of the endpoints (default 50%)', () => {
    const { d, run } = detector(['a', 'b', 'c', 'd'], { consecutiveFailures: 1, failOpenPercent: 100 });
    assert.deepEqual(
      ['a', 'b', 'c', 'd'].map((id) => run(id, 'failure')[0]),
      [true, true, false, false],
    );
    assert.deepEqual([...d.ejected()].sort(), ['a', 'b']);
  });

  it('fails open when more than failOpenPercent of the endpoints look bad', () => {
    const { d, run } = detector(['a', 'b', 'c'], { consecutiveFailures: 2, maxEjectionPercent: 100 });
    run('a', 'failure', 2);
    assert.deepEqual([...d.ejected()], ['a']);
    run('b', 'failure', 2);
    // two of three look bad: more than half, so nothing is ejected from the picker's point of view
    assert.deepEqual([...d.ejected()], []);
  });

  it('a spearlet kept in by the cap still counts as bad for fail-open', () => {
    const { d, run } = detector(['a', 'b', 'c', 'd'], { consecutiveFailures: 1, maxEjectionPercent: 25 });
    run('a', 'failure');
    run('b', 'failure');
    assert.deepEqual([...d.ejected()], ['a'], 'b is flagged, not ejected: two of four is not more than half');
    run('c', 'failure');
    assert.deepEqual([...d.ejected()], [], 'three of four look bad: fail open');
  });

  it('forgets endpoints that left and never ejects the only endpoint at the default share', () => {
    const { d, run } = detector(['a'], { consecutiveFailures: 1 });
    assert.deepEqual(run('a', 'failure'), [false]);
    d.setEndpoints(['b', 'c']);
    assert.deepEqual(run('a', 'failure'), [false]);
    assert.deepEqual(run('b', 'failure'), [true]);
  });

  it('success rate: ejects a spearlet well below the others once per interval, not one close to them', () => {
    const { d, clock, run, ejections } = detector(['a', 'b', 'c', 'd'], {
      consecutiveFailures: 1000,
      intervalMs: 1000,
      successRate: { requestVolume: 20 },
    });
    for (let i = 0; i < 20; i++) {
      run('a', i % 2 === 0 ? 'failure' : 'success'); // 50%
      run('b', i === 0 ? 'failure' : 'success'); // 95%: within 10 points of the others
      run('c', 'success');
      run('d', 'success');
    }
    assert.equal(d.check(), false, 'nothing is judged before the interval ends');
    clock.now = 1000;
    assert.equal(d.check(), true);
    assert.deepEqual(ejections, [{ id: 'a', reason: 'success-rate', durationMs: 2000 }]);
    assert.deepEqual([...d.ejected()], ['a']);
  });

  it('success rate: needs requestVolume attempts and minimumHosts judged spearlets', () => {
    const { d, clock, run } = detector(['a', 'b'], {
      consecutiveFailures: 1000,
      successRate: { requestVolume: 10 },
    });
    for (let i = 0; i < 10; i++) {
      run('a', 'failure');
      run('b', 'success');
    }
    clock.now = 1000;
    assert.equal(d.check(), false, 'two spearlets are fewer than minimumHosts (3)');
    const three = detector(['a', 'b', 'c'], { consecutiveFailures: 1000, successRate: { requestVolume: 10 } });
    for (let i = 0; i < 9; i++) for (const id of ['a', 'b', 'c']) three.run(id, id === 'a' ? 'failure' : 'success');
    three.clock.now = 1000;
    assert.equal(three.d.check(), false, 'nine attempts are below requestVolume');
  });

  it('failure percentage: ejects at the threshold with enough volume, counts restart every interval', () => {
    const { d, clock, run, ejections } = detector(['a', 'b', 'c'], {
      consecutiveFailures: 1000,
      failurePercentage: { threshold: 80, requestVolume: 10 },
    });
    for (let i = 0; i < 10; i++) {
      run('a', i < 7 ? 'failure' : 'success'); // 70%: below the threshold
      run('b', 'success');
    }
    clock.now = 1000;
    assert.equal(d.check(), false);
    for (let i = 0; i < 10; i++) {
      run('a', i < 8 ? 'failure' : 'success'); // 80%
      run('b', 'success');
    }
    clock.now = 2000;
    assert.equal(d.check(), true);
    assert.deepEqual(ejections, [{ id: 'a', reason: 'failure-percentage', durationMs: 2000 }]);
  });

  it('stall: a spearlet that owes answers for stallMs while another answers is ejected', () => {
    const { d, clock, run, ejections } = detector(['a', 'b', 'c'], { stallMs: 300 });
    d.attemptStarted('a');
    clock.now = 200;
    run('b', 'success');
    assert.equal(d.check(), false);
    clock.now = 299;
    assert.equal(d.check(), false);
    clock.now = 300;
    assert.equal(d.check(), true);
    assert.deepEqual(ejections, [{ id: 'a', reason: 'stall', durationMs: 2000 }]);
    // The stalled attempt is then moved away: it ends saying nothing about the spearlet.
    assert.equal(d.attemptEnded('a', 'none'), false);
  });

  it('with the cap full, a spearlet that fails takes the place of one ejected for stalling, not the reverse', () => {
    const { d, clock, run, ejections } = detector(['a', 'b', 'c'], { stallMs: 300, consecutiveFailures: 5 });
    // a stalls (a starved machine can make a healthy spearlet look like this) and takes the only slot of three.
    d.attemptStarted('a');
    clock.now = 200;
    run('b', 'success');
    assert.equal(d.check(), false);
    clock.now = 300;
    assert.equal(d.check(), true);
    assert.deepEqual([...d.ejected()], ['a']);
    // c answers every request with a failure: it is ejected in a's place, and a is picked again.
    assert.deepEqual(run('c', 'failure', 5), [false, false, false, false, true]);
    assert.deepEqual([...d.ejected()], ['c']);
    assert.deepEqual(
      ejections.map((e) => `${e.id}:${e.reason}`),
      ['a:stall', 'c:consecutive'],
    );
    // A stall never displaces a failure ejection: b stalls now and is only flagged. A stall flag does not count
    // towards fail-open (a starved machine makes healthy spearlets stall), so c stays out.
    d.attemptEnded('a', 'none');
    d.attemptStarted('b');
    for (const t of [400, 500, 600, 700]) {
      clock.now = t;
      run('a', 'success');
      assert.equal(d.check(), false, `at ${t} ms`);
    }
    assert.deepEqual(
      ejections.map((e) => `${e.id}:${e.reason}`),
      ['a:stall', 'c:consecutive'],
    );
    assert.deepEqual([...d.ejected()], ['c'], 'b flagged for a stall, c ejected for failures: c stays out');
    // b failing as well (flagged for failures) makes two of three bad: the picker fails open.
    run('b', 'failure', 5);
    assert.deepEqual([...d.ejected()], [], 'c ejected and b flagged for failures: fail open');
  });

  it('stall: attempts cancelled before any answer (hedges that won elsewhere) do not restart the stall clock', () => {
    const { d, clock, run } = detector(['a', 'b', 'c'], { stallMs: 300 });
    for (let t = 0; t < 300; t += 50) {
      clock.now = t;
      d.attemptStarted('a');
      clock.now = t + 40;
      assert.equal(d.attemptEnded('a', 'none'), false);
      run('b', 'success');
      assert.equal(d.check(), false);
    }
    clock.now = 300;
    d.attemptStarted('a');
    assert.equal(d.check(), true, 'owing since 0 with no answer: stalled');
    const healthy = detector(['a', 'b', 'c'], { stallMs: 300 });
    healthy.d.attemptStarted('a');
    healthy.d.attemptEnded('a', 'none');
    healthy.clock.now = 1000;
    healthy.run('b', 'success');
    healthy.d.attemptStarted('a');
    healthy.d.check(); // late (the first in 1000 ms): judges nothing, but the next one is on time
    healthy.clock.now = 1100;
    assert.equal(healthy.d.check(), false, 'a cancel long ago does not count against a new attempt');
  });

  it('stall: not judged by a check that comes late (our event loop was blocked, answers may be unread)', () => {
    const { d, clock, run } = detector(['a', 'b', 'c'], { stallMs: 300 });
    d.attemptStarted('a');
    clock.now = 100;
    run('b', 'success');
    assert.equal(d.check(), false);
    clock.now = 400; // 300 ms since the last check: more than half of stallMs
    assert.equal(d.check(), false);
    clock.now = 450; // on time again, and still nothing from a
    assert.equal(d.check(), true);
  });

  it('stall: not when nobody answered either (the problem is on our side), nor with stallMs false', () => {
    const quiet = detector(['a', 'b', 'c'], { stallMs: 300 });
    quiet.d.attemptStarted('a');
    quiet.d.attemptStarted('b');
    quiet.clock.now = 1000;
    assert.equal(quiet.d.check(), false);
    const off = detector(['a', 'b', 'c'], { stallMs: false });
    off.d.attemptStarted('a');
    off.clock.now = 5000;
    off.run('b', 'success');
    assert.equal(off.d.check(), false);
  });

  it('connection losses and request outcomes feed the same consecutive count', () => {
    const { d, run } = detector(['a', 'b', 'c'], { consecutiveFailures: 3 });
    d.recordFailure('a');
    run('a', 'failure');
    assert.equal(d.recordFailure('a'), true);
  });

  it("counts spearlet failures, never a caller's own error; cancellations say nothing", () => {
    for (const code of ['SPEARLET_LOST', 'OVERLOADED', 'HANDLER_ERROR', 'DEADLINE_EXCEEDED'])
      assert.equal(verdictOf(code), 'failure', code);
    for (const code of ['METHOD_NOT_FOUND', 'INVALID_PAYLOAD', 'FORBIDDEN_METHOD', 'TASK_NOT_FOUND'])
      assert.equal(verdictOf(code), 'success', code);
    for (const code of ['CANCELLED', 'CONNECTION_CLOSED', 'DRAINING', 'REQUEST_TOO_LARGE', 'TOKEN_EXPIRED', undefined])
      assert.equal(verdictOf(code), 'none', String(code));
    const { d, run } = detector(['a', 'b', 'c'], { consecutiveFailures: 2 });
    run('a', 'failure');
    run('a', 'none', 5);
    assert.equal(d.isEjected('a'), false, 'a cancelled attempt neither resets nor adds to the count');
    assert.deepEqual(run('a', 'failure'), [true]);
  });

  it('rejects nonsense options, naming the option', () => {
    const bad: [OutlierDetectorOptions, RegExp][] = [
      [{ consecutiveFailures: 0 }, /outlier\.consecutiveFailures/],
      [{ baseEjectionMs: 100, maxEjectionMs: 50 }, /outlier\.maxEjectionMs/],
      [{ maxEjectionPercent: 101 }, /outlier\.maxEjectionPercent/],
      [{ failOpenPercent: -1 }, /outlier\.failOpenPercent/],
      [{ stallMs: 0 }, /outlier\.stallMs/],
      [{ successRate: { stdevFactor: -1 } }, /outlier\.successRate\.stdevFactor/],
      [{ successRate: { minimumHosts: 1 } }, /outlier\.successRate\.minimumHosts/],
      [{ failurePercentage: { threshold: 120 } }, /outlier\.failurePercentage\.threshold/],
      [{ intervalMs: 0 }, /outlier\.intervalMs/],
      [{ bogus: 1 } as OutlierDetectorOptions, /outlier\.bogus/],
    ];
    for (const [o, re] of bad) {
      assert.throws(
        () => new OutlierDetector(o),
        (e: unknown) => e instanceof ConfigError && re.test(e.message),
        JSON.stringify(o),
      );
    }
  });
});
