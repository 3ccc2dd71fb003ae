// The outcome feed of EndpointBalancer and EndpointPool, with stand-in connections (a MeshConnection needs a peer;
// these tests are about bookkeeping only): failures feed the one per-spearlet peak-EWMA without lowering it, outcomes
// reach the outlier detector, and an ejection aborts the pool's move signal.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { EndpointBalancer } from '../../src/agent/endpoint-balancer.ts';
import { MOVED } from '../../src/agent/endpoint-pool.ts';
import { OutlierDetector } from '../../src/balancer/outlier-detector.ts';
import { peakEwmaCost } from '../../src/balancer/peak-ewma.ts';
import { createPolicy } from '../../src/balancer/policies.ts';
import type { MeshConnection } from '../../src/conn/mesh-connection.ts';
import { ConnState } from '../../src/conn/states.ts';
import { MeshError } from '../../src/errors.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { fakeEndpoint } from './fake-endpoint.ts';

class StandInConn extends EventEmitter {
  state: ConnState = ConnState.IDLE;
  outstanding = 0;
  welcome = { maxInFlight: 100 };
  writeBacklogBytes = 0;
  readonly description = 'tcp:127.0.0.1:1';
  get ready(): boolean {
    return this.state === ConnState.READY;
  }
  connect(): void {
    const from = this.state;
    this.state = ConnState.READY;
    queueMicrotask(() => this.emit('state', ConnState.READY, from, undefined));
  }
  close(): Promise<void> {
    this.state = ConnState.CLOSED;
    return Promise.resolve();
  }
}

const endpoint = fakeEndpoint;

function balancer(outlier?: OutlierDetector): EndpointBalancer {
  const b = new EndpointBalancer({
    policy: createPolicy('peak-ewma', {}),
    zone: undefined,
    requiredTags: [],
    outlier,
    drainGraceMs: 0,
    maxConnectionsPerSpearlet: 1,
    logger: silentLogger(),
    createConnection: () => new StandInConn() as unknown as MeshConnection,
  });
  b.update([endpoint('a'), endpoint('b'), endpoint('c')]);
  return b;
}

const pool = (b: EndpointBalancer, id: string) => [...b.pools()].find((p) => p.id === id)!;

describe('outcome feed', () => {
  it('failures feed the peak-EWMA with their elapsed time but never lower it', (t) => {
    const b = balancer();
    t.after(() => b.close(0, new MeshError('CLIENT_CLOSED', 'closed')));
    const a = pool(b, 'a');
    const c = pool(b, 'c');
    for (const p of [a, c]) {
      b.attemptStarted(p);
      b.attemptEnded(p, true, 'success', 10, 0);
    }
    // a now fails fast: its estimate stays at 10 ms, so it does not look cheaper than c.
    for (let i = 1; i <= 4; i++) {
      b.attemptStarted(a);
      b.attemptEnded(a, false, 'failure', 0.2, i);
    }
    assert.equal(a.ewmaMs, 10);
    assert.ok(peakEwmaCost(a) >= peakEwmaCost(c));
    // A deadline exceeded after 1000 ms raises it at once (peak).
    b.attemptStarted(a);
    b.attemptEnded(a, false, 'failure', 1000, 5);
    assert.equal(a.ewmaMs, 1000);
    // A success lowers it again (with decay).
    b.attemptStarted(a);
    b.attemptEnded(a, true, 'success', 10, 10_000);
    assert.ok(a.ewmaMs < 1000);
    assert.deepEqual([a.succeeded, a.failed, a.attempts], [2, 5, 7]);
  });

  it("outcomes reach the outlier detector; an ejection aborts the ejected pool's move signal", async (t) => {
    let now = 0;
    const outlier = new OutlierDetector({ consecutiveFailures: 3, now: () => now });
    const b = balancer(outlier);
    t.after(() => b.close(0, new MeshError('CLIENT_CLOSED', 'closed')));
    await new Promise((resolve) => setImmediate(resolve));
    const a = pool(b, 'a');
    const signal = a.moveSignal;
    for (let i = 0; i < 2; i++) {
      b.attemptStarted(a);
      b.attemptEnded(a, false, 'failure', 1, now);
    }
    // A caller's own error is an answer: it resets the count.
    b.attemptStarted(a);
    b.attemptEnded(a, false, 'success', 1, now);
    for (let i = 0; i < 2; i++) {
      b.attemptStarted(a);
      b.attemptEnded(a, false, 'failure', 1, now);
    }
    assert.equal(a.ejected, false);
    assert.equal(signal.aborted, false);
    b.attemptStarted(a);
    b.attemptEnded(a, false, 'failure', 1, now);
    assert.equal(a.ejected, true);
    assert.equal(signal.aborted, true);
    assert.equal(signal.reason, MOVED);
    assert.equal(a.moveSignal.aborted, false, 'later attempts get a fresh signal');
    for (let i = 0; i < 6; i++) assert.notEqual(b.pick({})?.id, 'a');
    now = 2000;
    assert.equal(outlier.isEjected('a'), false, 'back after baseEjectionMs');
  });
});
