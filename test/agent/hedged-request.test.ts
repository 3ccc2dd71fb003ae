// hedgedRequest on a fake clock with scripted attempts: the hedge goes out after afterMs to another target, is
// charged to the budget, the first answer wins and the loser's signal is aborted (the connection then sends CANCEL),
// at most one hedge, and none when the budget is spent or the first attempt fails before the hedge is due.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { hedgedRequest, LOST_HEDGE, type HedgeOptions } from '../../src/agent/hedged-request.ts';
import { MeshError } from '../../src/errors.ts';

interface Target {
  readonly id: string;
}

interface Attempt {
  readonly target: string;
  readonly signal: AbortSignal;
  resolve(body: string): void;
  reject(err: Error): void;
}

function setup(t: TestContext, overrides: Partial<HedgeOptions<Target>> = {}) {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  const attempts: Attempt[] = [];
  const hedges: string[] = [];
  let budget = 1;
  const others = ['b', 'c'];
  const options: HedgeOptions<Target> = {
    method: 'echo',
    first: { id: 'a' },
    afterMs: 100,
    deadlineAt: 0,
    signal: undefined,
    exclude: new Set(),
    attempt: (target, signal) =>
      new Promise<Buffer>((resolve, reject) => {
        signal.addEventListener('abort', () => {
          reject(new MeshError('CANCELLED', 'cancelled'));
        });
        attempts.push({
          target: target.id,
          signal,
          resolve: (b) => {
            resolve(Buffer.from(b));
          },
          reject,
        });
      }),
    pickOther: (id) => {
      const o = others.find((x) => x !== id);
      return o === undefined ? undefined : { id: o };
    },
    tryBudget: () => budget-- > 0,
    onHedge: (target) => hedges.push(target.id),
    ...overrides,
  };
  return { attempts, hedges, options, p: () => hedgedRequest(options) };
}

/** Lets promise callbacks run (the fake clock does not). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('hedgedRequest', () => {
  it('no hedge when the first attempt answers in time', async (t) => {
    const { attempts, hedges, p } = setup(t);
    const result = p();
    t.mock.timers.tick(99);
    attempts[0]!.resolve('first');
    assert.equal((await result).toString(), 'first');
    t.mock.timers.tick(1000);
    assert.deepEqual([attempts.length, hedges], [1, []]);
  });

  it('after afterMs one hedge goes to another target; the hedge wins and the first attempt is cancelled', async (t) => {
    const { attempts, hedges, p } = setup(t);
    const result = p();
    t.mock.timers.tick(100);
    assert.deepEqual(
      attempts.map((a) => a.target),
      ['a', 'b'],
    );
    assert.deepEqual(hedges, ['b']);
    attempts[1]!.resolve('hedge');
    assert.equal((await result).toString(), 'hedge');
    assert.equal(attempts[0]!.signal.aborted, true, 'the loser was cancelled');
    assert.equal(attempts[0]!.signal.reason, LOST_HEDGE);
    t.mock.timers.tick(10_000);
    assert.equal(attempts.length, 2, 'never more than one hedge');
  });

  it('the first attempt may still win after the hedge went out; then the hedge is cancelled', async (t) => {
    const { attempts, p } = setup(t);
    const result = p();
    t.mock.timers.tick(150);
    attempts[0]!.resolve('first');
    assert.equal((await result).toString(), 'first');
    assert.equal(attempts[1]!.signal.aborted, true);
  });

  it('one failed attempt waits for the other; both failing rejects with the first error and excludes both', async (t) => {
    const { attempts, options, p } = setup(t);
    const result = p();
    t.mock.timers.tick(100);
    attempts[1]!.reject(new MeshError('HANDLER_ERROR', 'hedge failed'));
    await settle();
    attempts[0]!.reject(new MeshError('DEADLINE_EXCEEDED', 'first failed'));
    await assert.rejects(result, { code: 'HANDLER_ERROR' });
    assert.deepEqual([...options.exclude].sort(), ['a', 'b']);
  });

  it('a first attempt failing before the hedge is due rejects at once, with no hedge', async (t) => {
    const { attempts, hedges, p } = setup(t);
    const result = p();
    attempts[0]!.reject(new MeshError('HANDLER_ERROR', 'boom'));
    await assert.rejects(result, { code: 'HANDLER_ERROR' });
    t.mock.timers.tick(1000);
    assert.deepEqual([attempts.length, hedges], [1, []]);
  });

  it('charged to the retry budget: no hedge when it is spent, nor past the deadline, nor without another target', (t) => {
    const spent = setup(t, { tryBudget: () => false });
    void spent.p();
    t.mock.timers.tick(500);
    assert.equal(spent.attempts.length, 1);
    spent.attempts[0]!.resolve('x');
    t.mock.timers.reset();

    const late = setup(t, { deadlineAt: 1_000_050 });
    void late.p();
    t.mock.timers.tick(100);
    assert.equal(late.attempts.length, 1);
    late.attempts[0]!.resolve('x');
    t.mock.timers.reset();

    const alone = setup(t, { pickOther: () => undefined });
    void alone.p();
    t.mock.timers.tick(100);
    assert.equal(alone.attempts.length, 1);
    alone.attempts[0]!.resolve('x');
  });

  it("the caller's abort cancels every attempt", async (t) => {
    const ctl = new AbortController();
    const { attempts, p } = setup(t, { signal: ctl.signal });
    const result = p();
    t.mock.timers.tick(100);
    ctl.abort('caller gave up');
    await assert.rejects(result, { code: 'CANCELLED' });
    assert.ok(attempts.every((a) => a.signal.aborted));
  });
});
