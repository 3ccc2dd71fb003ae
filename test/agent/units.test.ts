// Direct unit tests of the agent's pure logic on fake clocks: the wait queue, the endpoint pool, the balancer front.
// The connections here are small fakes with the fields the pool reads (state, outstanding, welcome): the pool's
// choices depend only on those, and the real connection has its own tests against a stand-in server.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { EndpointBalancer } from '../../src/agent/endpoint-balancer.ts';
import { EndpointPool } from '../../src/agent/endpoint-pool.ts';
import { WaitQueue } from '../../src/agent/wait-queue.ts';
import { OutlierDetector } from '../../src/balancer/outlier-detector.ts';
import { createPolicy } from '../../src/balancer/policies.ts';
import type { MeshConnection } from '../../src/conn/mesh-connection.ts';
import { ConnState } from '../../src/conn/states.ts';
import { MeshError } from '../../src/errors.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { fakeEndpoint } from './fake-endpoint.ts';

class FakeConn extends EventEmitter {
  state: ConnState = ConnState.IDLE;
  outstanding = 0;
  welcome: { maxInFlight: number } | undefined = { maxInFlight: 4 };
  writeBacklogBytes = 0;
  closed = 0;
  readonly description = 'tcp:127.0.0.1:1';
  get ready(): boolean {
    return this.state === ConnState.READY && this.outstanding < (this.welcome?.maxInFlight ?? Infinity);
  }
  connect(): void {
    this.state = ConnState.CONNECTING;
  }
  open(): void {
    const from = this.state;
    this.state = ConnState.READY;
    this.emit('state', ConnState.READY, from, undefined);
  }
  fail(err: Error): void {
    const from = this.state;
    this.state = ConnState.TRANSIENT_FAILURE;
    this.emit('state', ConnState.TRANSIENT_FAILURE, from, err);
  }
  close(): Promise<void> {
    this.closed++;
    this.state = ConnState.CLOSED;
    return Promise.resolve();
  }
}

const endpoint = fakeEndpoint;

function fakeClock(t: TestContext, start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
  let now = start;
  return {
    now: () => now,
    advance: (ms) => {
      now += ms;
      t.mock.timers.tick(ms);
    },
  };
}

describe('WaitQueue', () => {
  it('serves waiters in arrival order, expires the rest on the tick, and refuses beyond maxSize', async (t) => {
    const clock = fakeClock(t);
    const targets: string[] = [];
    const q = new WaitQueue<string>({
      maxSize: 3,
      tickMs: 20,
      pick: () => targets.shift(),
      knownEndpoints: () => 1,
      now: clock.now,
    });
    const a = q.wait({}, 'a', clock.now() + 1000, undefined);
    const b = q.wait({}, 'b', clock.now() + 1000, undefined);
    const c = q.wait({}, 'c', clock.now() + 50, undefined);
    await assert.rejects(q.wait({}, 'd', clock.now() + 1000, undefined), { code: 'QUEUE_FULL' });
    targets.push('t1', 't2');
    q.serve();
    assert.deepEqual(await Promise.all([a, b]), ['t1', 't2']);
    assert.equal(q.size, 1);
    clock.advance(40);
    assert.equal(q.size, 1, 'not expired before its time');
    clock.advance(20);
    await assert.rejects(c, { code: 'NO_SPEARLET_AVAILABLE' });
    assert.equal(q.size, 0);
  });

  it('cancels an aborted waiter and rejects everything after close', async (t) => {
    const clock = fakeClock(t);
    const q = new WaitQueue<string>({
      maxSize: 10,
      tickMs: 20,
      pick: () => undefined,
      knownEndpoints: () => 0,
      now: clock.now,
    });
    const ac = new AbortController();
    const w = q.wait({}, 'm', clock.now() + 1000, ac.signal);
    const other = q.wait({}, 'n', clock.now() + 1000, undefined);
    ac.abort();
    await assert.rejects(w, { code: 'CANCELLED' });
    q.close(new MeshError('CLIENT_CLOSED', 'closed'));
    await assert.rejects(other, { code: 'CLIENT_CLOSED' });
    await assert.rejects(q.wait({}, 'x', clock.now() + 1000, undefined), { code: 'CLIENT_CLOSED' });
  });
});

function pool(conns: FakeConn[], max = 3): EndpointPool {
  return new EndpointPool(endpoint('e1'), {
    createConnection: () => {
      const c = new FakeConn();
      conns.push(c);
      return c as unknown as MeshConnection;
    },
    onConnection: () => undefined,
    maxConnections: max,
  });
}

describe('EndpointPool', () => {
  it('opens one connection, grows only when the chosen one is saturated and none is connecting', () => {
    const conns: FakeConn[] = [];
    const p = pool(conns);
    assert.equal(conns.length, 1);
    assert.equal(p.ready, false);
    assert.equal(p.connection(), conns[0], 'the primary when none is ready');
    conns[0]!.open();
    assert.equal(p.ready, true);
    conns[0]!.outstanding = 2; // 2 + 1 >= 4 x 0.75: saturated
    p.connection();
    assert.equal(conns.length, 2);
    p.connection();
    assert.equal(conns.length, 2, 'no second extra while one is connecting');
    conns[1]!.open();
    assert.equal(p.connection(), conns[1], 'the ready connection with the fewest in flight');
    conns[0]!.outstanding = 1;
    conns[1]!.outstanding = 3;
    assert.equal(p.outstanding, 4, 'outstanding counts every pooled connection');
    assert.equal(p.connection(), conns[0]);
  });

  it('keeps one latency estimate for the endpoint across its connections', () => {
    const p = pool([]);
    const seen: number[] = [p.ewmaMs];
    p.observeLatency(10, 1000);
    p.observeLatency(50, 1001); // a peak replaces the average at once
    seen.push(p.ewmaMs);
    p.observeLatency(10, 30_000); // then decays towards lower samples
    seen.push(Math.round(p.ewmaMs));
    assert.equal(seen[0], 0);
    assert.equal(seen[1], 50);
    assert.ok((seen[2] ?? 99) < 20, `ewma ${seen[2]}`);
  });

  it('ejected endpoints are not ready; close closes every connection', async () => {
    const conns: FakeConn[] = [];
    const p = pool(conns);
    conns[0]!.open();
    p.ejected = true;
    assert.equal(p.ready, false);
    await p.close(0);
    assert.deepEqual(
      conns.map((c) => c.closed),
      [1],
    );
  });
});

describe('EndpointBalancer', () => {
  function balancer(conns: Map<string, FakeConn[]>, outlier?: OutlierDetector): EndpointBalancer {
    return new EndpointBalancer({
      policy: createPolicy('round-robin', {}),
      zone: undefined,
      requiredTags: [],
      outlier,
      drainGraceMs: 0,
      maxConnectionsPerSpearlet: 1,
      logger: silentLogger(),
      createConnection: (e) => {
        const c = new FakeConn();
        const list = conns.get(e.id) ?? [];
        list.push(c);
        conns.set(e.id, list);
        return c as unknown as MeshConnection;
      },
    });
  }

  it('connects new endpoints, publishes a picker when one becomes READY, and retires endpoints that left', async () => {
    const conns = new Map<string, FakeConn[]>();
    const b = balancer(conns);
    let pickers = 0;
    b.on('picker', () => pickers++);
    b.update([endpoint('a'), endpoint('b')]);
    assert.equal(b.size, 2);
    assert.equal(b.pick({}), undefined, 'nothing READY yet');
    conns.get('a')![0]!.open();
    assert.ok(pickers >= 2);
    assert.equal(b.pick({})?.id, 'a');
    assert.equal(b.pick({ spearletId: 'b' }), undefined, 'a pin to a spearlet that is not ready finds nothing');
    b.update([endpoint('b')]);
    assert.equal(b.size, 1);
    assert.equal(conns.get('a')![0]!.closed, 1, 'the retired endpoint was closed');
    conns.get('b')![0]!.open();
    assert.equal(b.pick({ spearletId: 'b' })?.id, 'b');
    await b.close(0, new MeshError('CLIENT_CLOSED', 'closed'));
    assert.equal(b.pick({}), undefined);
  });

  it('ejects an endpoint after consecutive failures and uses it again after the ejection', (t) => {
    const clock = fakeClock(t);
    const conns = new Map<string, FakeConn[]>();
    const outlier = new OutlierDetector({ consecutiveFailures: 2, baseEjectionMs: 1000, now: clock.now });
    const b = balancer(conns, outlier);
    b.update([endpoint('a'), endpoint('b'), endpoint('c')]);
    for (const list of conns.values()) list[0]!.open();
    b.recordFailure('a');
    assert.equal(b.stats().find((s) => s.id === 'a')?.ejected, false);
    b.recordFailure('a');
    assert.equal(b.stats().find((s) => s.id === 'a')?.ejected, true);
    const picked = new Set<string>();
    for (let i = 0; i < 6; i++) picked.add(b.pick({})!.id);
    assert.deepEqual([...picked].sort(), ['b', 'c']);
    clock.advance(1001);
    assert.equal(b.stats().find((s) => s.id === 'a')?.ejected, false, 'back after the ejection time');
    void b.close(0, new MeshError('CLIENT_CLOSED', 'closed'));
  });
});
