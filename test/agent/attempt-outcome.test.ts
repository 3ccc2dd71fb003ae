// What a failed attempt says about its spearlet: a connection the spearlet closed because this process went silent
// (its HEARTBEAT_TIMEOUT) says nothing; our own heartbeat timeout and other failures still count.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { attemptVerdict, classifyFailure, closedForOurSilence } from '../../src/agent/attempt-outcome.ts';
import { RetryBudget } from '../../src/balancer/retry-budget.ts';
import { CancelledError, HeartbeatTimeoutError, SpearletLostError } from '../../src/conn/errors.ts';
import { parseRemoteError } from '../../src/protocol/errors.ts';

const remote = (code: string) => parseRemoteError('s1', 0, Buffer.from(JSON.stringify({ code, message: 'x' })), false);

describe('attemptVerdict', () => {
  it('the spearlet closed the connection for our silence: no verdict, and no connection failure', () => {
    const lost = new SpearletLostError('s1', 'spearlet error HEARTBEAT_TIMEOUT', remote('HEARTBEAT_TIMEOUT'));
    assert.equal(closedForOurSilence(lost), true);
    assert.equal(closedForOurSilence(remote('HEARTBEAT_TIMEOUT')), true, 'the connection-level error itself');
    assert.equal(attemptVerdict(lost), 'none');
  });

  it('our own heartbeat timeout, other lost connections and failing answers count against the spearlet', () => {
    const ours = new SpearletLostError('s1', 'heartbeat timeout', new HeartbeatTimeoutError('s1', 3000));
    assert.equal(closedForOurSilence(ours), false);
    assert.equal(attemptVerdict(ours), 'failure');
    assert.equal(attemptVerdict(new SpearletLostError('s1', 'socket closed')), 'failure');
    assert.equal(attemptVerdict(new SpearletLostError('s1', 'x', remote('PROTOCOL_ERROR'))), 'failure');
    assert.equal(attemptVerdict(remote('HANDLER_ERROR')), 'failure');
    assert.equal(attemptVerdict(remote('INVALID_PAYLOAD')), 'success');
    assert.equal(attemptVerdict(new CancelledError('echo')), 'none');
    assert.equal(attemptVerdict(new Error('not ours')), 'none');
  });

  it('an idempotent request the spearlet dropped for our silence goes again free; others as before', () => {
    const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0 });
    const a = { method: 'm', attempt: 1, maxReroutes: 3, budget, callerSignal: undefined };
    const dropped = new SpearletLostError('s1', 'spearlet error HEARTBEAT_TIMEOUT', remote('HEARTBEAT_TIMEOUT'));
    assert.equal(classifyFailure(dropped, { ...a, idempotent: true }), 'reroute', 'free, with an empty budget');
    assert.throws(() => classifyFailure(dropped, { ...a, idempotent: false }), { code: 'SPEARLET_LOST' });
    const lost = new SpearletLostError('s1', 'socket closed');
    assert.throws(() => classifyFailure(lost, { ...a, idempotent: true }), { code: 'RETRY_BUDGET_EXHAUSTED' });
    assert.throws(() => classifyFailure(dropped, { ...a, idempotent: true, attempt: 3 }), { code: 'SPEARLET_LOST' });
  });
});
