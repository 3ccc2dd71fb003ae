import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryHttpError } from '../../src/errors.ts';
import { createConsulClient } from '../../src/registry/consul-client.ts';
import { ConsulResolver, type ConsulResolverOptions } from '../../src/discovery/consul-resolver.ts';
import type { Endpoint } from '../../src/discovery/endpoint.ts';
import type { ResolverState } from '../../src/discovery/resolver.ts';
import {
  healthEntry,
  startFakeConsul,
  type FakeConsul,
  type FakeReply,
  type FakeRequest,
} from '../registry/fake-consul.ts';

type TestCtx = { after: (fn: () => Promise<void> | void) => void };

async function setup(
  t: TestCtx,
  handler: (r: FakeRequest) => FakeReply | Promise<FakeReply>,
  opts: Partial<ConsulResolverOptions> = {},
) {
  const f: FakeConsul = await startFakeConsul(handler);
  t.after(() => f.close());
  const consul = createConsulClient({ addr: f.addr, requestTimeoutMs: 2000 });
  t.after(() => {
    consul.close();
  });
  const resolver = new ConsulResolver({
    consul,
    waitMs: 5000,
    minIntervalMs: 0,
    retry: { initialMs: 20, maxMs: 100 },
    ...opts,
  });
  t.after(() => resolver.close());
  const updates: (readonly Endpoint[])[] = [];
  const states: [ResolverState, Error | undefined][] = [];
  resolver.on('update', (e) => updates.push(e));
  resolver.on('state', (s, err) => states.push([s, err]));
  return { f, resolver, updates, states };
}

function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = (): void => {
      if (cond()) {
        resolve();
        return;
      }
      if (Date.now() - started > timeoutMs) {
        reject(new Error('condition not met in time'));
        return;
      }
      setTimeout(tick, 5);
    };
    tick();
  });
}

/** Replies to non-blocking queries at once; holds blocking ones until release() (or the test ends). */
function scripted(): {
  handler: (r: FakeRequest) => Promise<FakeReply>;
  set: (reply: FakeReply) => void;
  release: () => void;
} {
  let reply: FakeReply = { body: [], headers: { 'X-Consul-Index': '1' } };
  let waiting: (() => void)[] = [];
  return {
    handler: async (r) => {
      if (r.query.get('index') !== null) await new Promise<void>((res) => waiting.push(res));
      return reply;
    },
    set: (next) => {
      reply = next;
    },
    release: () => {
      const w = waiting;
      waiting = [];
      for (const fn of w) fn();
    },
  };
}

const idx = (n: string): Record<string, string> => ({ 'X-Consul-Index': n });

describe('ConsulResolver', () => {
  it('publishes the passing set, then blocks on the returned index', async (t) => {
    const s = scripted();
    s.set({
      body: [
        healthEntry({
          id: 'spearlet-b',
          address: '10.0.0.2',
          meta: { spearlet_id: 'b', zone: 'z1', socket: '/run/b.sock', tls: 'true' },
          tags: ['spear-mesh'],
        }),
        healthEntry({ id: 'spearlet-a', nodeAddress: '10.9.9.9', port: 7001 }),
      ],
      headers: idx('10'),
    });
    const { f, resolver, updates, states } = await setup(t, s.handler, {
      tags: ['spear-mesh'],
      filter: 'Service.Meta.proto == "1"',
    });
    resolver.start();
    assert.equal(resolver.state, 'resolving');
    await until(() => resolver.state === 'ready');
    assert.equal(updates.length, 1);
    const [b, a] = resolver.current(); // sorted by id: 'b' < 'spearlet-a'
    assert.deepEqual(
      { ...a, tags: [...a!.tags], meta: { ...a!.meta } },
      { id: 'spearlet-a', serviceId: 'spearlet-a', address: '10.9.9.9', port: 7001, tls: false, tags: [], meta: {} },
      'Node.Address when Service.Address is empty; service ID when no spearlet_id',
    );
    assert.equal(b!.id, 'b');
    assert.equal(b!.address, '10.0.0.2');
    assert.equal(b!.socketPath, '/run/b.sock');
    assert.equal(b!.zone, 'z1');
    assert.equal(b!.tls, true);
    assert.ok(Object.isFrozen(resolver.current()) && Object.isFrozen(b));
    const blocking = await f.waitForRequest((r) => r.query.get('index') === '10');
    assert.equal(blocking.query.get('wait'), '5000ms');
    assert.equal(blocking.query.get('passing'), 'true');
    assert.deepEqual(blocking.query.getAll('tag'), ['spear-mesh']);
    assert.equal(blocking.query.get('filter'), 'Service.Meta.proto == "1"');
    assert.deepEqual(
      states.map(([st]) => st),
      ['resolving', 'ready'],
    );
  });

  it('emits update only when the set really changed', async (t) => {
    const s = scripted();
    const one = healthEntry({ id: 'spearlet-a', address: '10.0.0.1' });
    const two = healthEntry({ id: 'spearlet-b', address: '10.0.0.2' });
    s.set({ body: [one, two], headers: idx('5') });
    const { f, resolver, updates } = await setup(t, s.handler);
    resolver.start();
    await until(() => updates.length === 1);
    s.set({ body: [two, one], headers: idx('6') }); // same set, other order (?passing order is not stable)
    s.release();
    await f.waitForRequest((r) => r.query.get('index') === '6');
    assert.equal(updates.length, 1);
    s.set({ body: [two, healthEntry({ id: 'spearlet-a', address: '10.0.0.1', tags: ['gpu'] })], headers: idx('7') });
    s.release();
    await until(() => updates.length === 2);
    assert.deepEqual(updates[1]!.find((e) => e.id === 'spearlet-a')!.tags, ['gpu']);
    s.set({ body: [two], headers: idx('8') });
    s.release();
    await until(() => updates.length === 3);
    assert.deepEqual(
      resolver.current().map((e) => e.id),
      ['spearlet-b'],
    );
  });

  it('resets the index to 0 when it goes backwards', async (t) => {
    const s = scripted();
    s.set({ body: [], headers: idx('100') });
    const { f, resolver } = await setup(t, s.handler);
    resolver.start();
    await f.waitForRequest((r) => r.query.get('index') === '100');
    s.set({ body: [], headers: idx('3') }); // e.g. a snapshot restore or a fresh registry
    const before = f.requests.length;
    s.release();
    await until(() => f.requests.length >= before + 2);
    const next = f.requests[before]!;
    assert.equal(next.query.get('index'), null, 'the query after a backwards index is non-blocking');
    await f.waitForRequest((r) => r.query.get('index') === '3');
    assert.ok(resolver.stats().indexResets >= 1);
  });

  it('does not block on a missing or zero index, and the rate limit keeps it from spinning', async (t) => {
    let n = 0;
    const { f, resolver } = await setup(
      t,
      () => {
        n++;
        return n % 2 === 0 ? { body: [] } : { body: [], headers: idx('0') };
      },
      { minIntervalMs: 100 },
    );
    resolver.start();
    await new Promise((r) => setTimeout(r, 1000));
    await resolver.close();
    assert.ok(
      f.requests.every((r) => r.query.get('index') === null),
      'never blocks on 0 or a missing index',
    );
    // burst of 2, then one per 100 ms: about 12 in one second; allow slack for a loaded machine.
    assert.ok(f.requests.length >= 3 && f.requests.length <= 14, `requests: ${f.requests.length}`);
  });

  it('rate-limits a churning service', async (t) => {
    let index = 1;
    const { f, resolver, updates } = await setup(
      t,
      () => {
        index++;
        return { body: [healthEntry({ id: `spearlet-${index}`, address: '10.0.0.1' })], headers: idx(String(index)) };
      },
      { minIntervalMs: 200 },
    );
    resolver.start();
    await new Promise((r) => setTimeout(r, 1000));
    await resolver.close();
    assert.ok(f.requests.length <= 8, `requests: ${f.requests.length}`);
    assert.ok(updates.length >= 3, 'still follows the changes');
  });

  it('keeps the last good set while Consul fails, says so, and recovers', async (t) => {
    let mode: 'ok' | 'down' | 'http' | 'garbage' = 'ok';
    let index = 10;
    const { resolver, updates, states } = await setup(t, async (r) => {
      if (mode === 'down') return { destroy: true };
      if (mode === 'http') return { status: 500, body: 'No cluster leader' };
      if (mode === 'garbage') return { body: '{"oops', headers: { 'content-type': 'application/json' } };
      if (r.query.get('index') !== null) await new Promise((res) => setTimeout(res, 50));
      return { body: [healthEntry({ id: 'spearlet-a', address: '10.0.0.1' })], headers: idx(String(index)) };
    });
    resolver.start();
    await until(() => resolver.state === 'ready');
    mode = 'http';
    await until(() => resolver.state === 'stale');
    const staleErr = states.find(([st]) => st === 'stale')![1];
    assert.ok(staleErr instanceof RegistryHttpError && staleErr.statusCode === 500);
    assert.equal(resolver.current().length, 1, 'still serving the last good set');
    mode = 'down';
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(resolver.state, 'stale');
    assert.equal(states.filter(([st]) => st === 'stale').length, 1, 'one state change for a whole outage');
    mode = 'garbage';
    await new Promise((r) => setTimeout(r, 100));
    index = 3; // the registry came back with fewer writes: index went "backwards", and the fresh read handles it
    mode = 'ok';
    await until(() => resolver.state === 'ready');
    assert.equal(updates.length, 1, 'same set after recovery: no update');
    assert.ok(resolver.stats().failures >= 2);
  });

  it('close aborts the blocking query at once and stops emitting', async (t) => {
    const s = scripted();
    s.set({ body: [], headers: idx('9') });
    const { f, resolver, states } = await setup(t, s.handler, { waitMs: 600_000 });
    resolver.start();
    await f.waitForRequest((r) => r.query.get('index') === '9');
    const started = performance.now();
    await resolver.close();
    assert.ok(performance.now() - started < 500, 'close did not wait for the blocking query');
    assert.equal(resolver.state, 'closed');
    await resolver.close();
    assert.deepEqual(
      states.map(([st]) => st),
      ['resolving', 'ready', 'closed'],
    );
  });
});
