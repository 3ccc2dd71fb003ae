import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.ts';
import { createConsulClient } from '../../src/registry/consul-client.ts';
import { SpearletRegistration, type RegistrationState } from '../../src/registry/spearlet-registration.ts';
import { buildSpearletServiceMeta, buildSpearletTags } from '../../src/registry/spearlet-service.ts';
import { healthEntry, startFakeConsul, type FakeConsul, type FakeReply, type FakeRequest } from './fake-consul.ts';

/** A minimal stateful Consul agent: knows registered services and their checks, can forget everything or go down. */
class MiniAgent {
  services = new Map<string, { checkId: string; maintenance: boolean }>();
  down = false;
  /** What GET /v1/health/service answers: another instance's registration, when a test sets one. */
  health: object[] = [];
  handle = (r: FakeRequest): FakeReply => {
    if (this.down) return { destroy: true };
    const [, , kind, verb, id] = r.path.split('/'); // '', 'v1', 'agent', ...
    // The ownership check before registering: no other instance holds the id here.
    if (kind === 'health') return { headers: { 'x-consul-index': '7' }, body: this.health };
    if (kind !== 'agent') return { status: 404 };
    const sub = r.path.slice('/v1/agent/'.length);
    if (sub === 'service/register') {
      const def = JSON.parse(r.body) as { ID: string; Check: { CheckID: string } };
      const prev = this.services.get(def.ID);
      this.services.set(def.ID, { checkId: def.Check.CheckID, maintenance: prev?.maintenance ?? false });
      return {};
    }
    if (sub.startsWith('check/pass/')) {
      const checkId = sub.slice('check/pass/'.length);
      return [...this.services.values()].some((s) => s.checkId === checkId)
        ? {}
        : { status: 404, body: `Unknown check ID "${checkId}"` };
    }
    if (sub.startsWith('service/maintenance/')) {
      const s = this.services.get(sub.slice('service/maintenance/'.length));
      if (!s) return { status: 404 };
      s.maintenance = r.query.get('enable') === 'true';
      return {};
    }
    if (sub.startsWith('service/deregister/')) {
      return this.services.delete(sub.slice('service/deregister/'.length)) ? {} : { status: 404 };
    }
    return { status: 404, body: `no route ${verb ?? ''} ${id ?? ''}` };
  };
}

async function setup(
  t: { after: (fn: () => Promise<void> | void) => void },
  extra: Partial<ConstructorParameters<typeof SpearletRegistration>[0]> = {},
) {
  const agent = new MiniAgent();
  const f: FakeConsul = await startFakeConsul(agent.handle);
  t.after(() => f.close());
  const consul = createConsulClient({ addr: f.addr, requestTimeoutMs: 2000 });
  t.after(() => {
    consul.close();
  });
  const reg = new SpearletRegistration({
    consul,
    id: 'a1',
    address: '127.0.0.1',
    port: 7001,
    tags: buildSpearletTags({ proto: 1, zone: 'z1' }),
    meta: buildSpearletServiceMeta({
      spearletId: 'a1',
      version: '0.1.0',
      proto: 1,
      adminPort: 9001,
      zone: 'z1',
      socketPath: '/tmp/a1.sock',
      maxConns: 100,
      tls: true,
    }),
    ttlMs: 600,
    retry: { initialMs: 50, maxMs: 200 },
    instance: 'i1',
    ...extra,
  });
  t.after(() => reg.close());
  const states: RegistrationState[] = [];
  reg.on('state', (s) => states.push(s));
  return { agent, f, reg, states };
}

function waitState(reg: SpearletRegistration, state: RegistrationState, timeoutMs = 10_000): Promise<void> {
  if (reg.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`state ${state} not reached; now ${reg.state}`));
    }, timeoutMs);
    const on = (s: RegistrationState): void => {
      if (s === state) {
        clearTimeout(timer);
        reg.off('state', on);
        resolve();
      }
    };
    reg.on('state', on);
  });
}

describe('SpearletRegistration', () => {
  it('registers without claiming health, then passes at once, then about every TTL/3', async (t) => {
    const { f, reg, states } = await setup(t);
    assert.equal(reg.serviceId, 'spearlet-a1');
    assert.equal(reg.checkId, 'spearlet:a1:ttl');
    reg.start();
    await waitState(reg, 'registered');
    assert.deepEqual(states, ['registering', 'registered']);
    const [read, first, second] = f.requests;
    assert.equal(read!.path, '/v1/health/service/spearlet');
    assert.equal(read!.query.get('filter'), 'Service.ID == "spearlet-a1"');
    assert.equal(first!.path, '/v1/agent/service/register');
    assert.equal(second!.path, '/v1/agent/check/pass/spearlet:a1:ttl');
    const body = JSON.parse(first!.body) as Record<string, unknown>;
    assert.deepEqual(body, {
      ID: 'spearlet-a1',
      Name: 'spearlet',
      Address: '127.0.0.1',
      Port: 7001,
      Tags: ['spear-mesh', 'proto-1', 'zone-z1'],
      Meta: {
        spearlet_id: 'a1',
        version: '0.1.0',
        proto: '1',
        admin_port: '9001',
        zone: 'z1',
        socket: '/tmp/a1.sock',
        max_conns: '100',
        tls: 'true',
        instance: 'i1',
      },
      Check: {
        CheckID: 'spearlet:a1:ttl',
        Name: 'spearlet a1 TTL',
        TTL: '600ms',
        DeregisterCriticalServiceAfter: '60000ms',
      },
    });
    // TTL 600 ms => a pass every ~200 ms; wait for three more.
    await f.waitForRequest(() => f.requests.filter((r) => r.path.startsWith('/v1/agent/check/pass/')).length >= 4);
    assert.equal(reg.stats().registrations, 1);
    assert.ok(reg.stats().passes >= 3);
  });

  it('registers again when a pass gets 404 (Consul forgot us)', async (t) => {
    const { agent, f, reg } = await setup(t);
    reg.start();
    await waitState(reg, 'registered');
    agent.services.clear();
    await f.waitForRequest(() => f.requests.filter((r) => r.path === '/v1/agent/service/register').length >= 2);
    await waitState(reg, 'registered');
    assert.ok(agent.services.has('spearlet-a1'));
    assert.equal(reg.stats().registrations, 2);
    assert.equal(reg.stats().failures, 0);
  });

  it('keeps retrying while Consul is unreachable and registers once it answers', async (t) => {
    const { agent, reg, states } = await setup(t);
    agent.down = true;
    reg.start();
    await waitState(reg, 'unreachable');
    await new Promise((r) => setTimeout(r, 400));
    assert.ok(reg.stats().failures >= 2, 'retried several times');
    assert.equal(states.filter((s) => s === 'unreachable').length, 1, 'one state change, not one per attempt');
    agent.down = false;
    await waitState(reg, 'registered');
    assert.ok(agent.services.has('spearlet-a1'));
    // Consul goes away after registration: unreachable, then back to registered by itself.
    agent.down = true;
    await waitState(reg, 'unreachable');
    agent.down = false;
    await waitState(reg, 'registered');
    assert.deepEqual(states, ['registering', 'unreachable', 'registered', 'unreachable', 'registered']);
  });

  it('enters and leaves maintenance, and re-applies it after re-registering', async (t) => {
    const { agent, f, reg } = await setup(t);
    reg.start();
    await waitState(reg, 'registered');
    await reg.setMaintenance(true, 'drain');
    assert.equal(reg.state, 'maintenance');
    assert.equal(agent.services.get('spearlet-a1')?.maintenance, true);
    const m = f.requests.find((r) => r.path === '/v1/agent/service/maintenance/spearlet-a1');
    assert.equal(m?.query.get('reason'), 'drain');
    agent.services.clear(); // Consul lost its state, maintenance included
    await f.waitForRequest(() => f.requests.filter((r) => r.path === '/v1/agent/service/register').length >= 2);
    await f.waitForRequest(
      () => f.requests.filter((r) => r.path.startsWith('/v1/agent/service/maintenance/')).length >= 2,
    );
    await waitState(reg, 'maintenance');
    assert.equal(agent.services.get('spearlet-a1')?.maintenance, true);
    await reg.setMaintenance(false);
    assert.equal(reg.state, 'registered');
    assert.equal(agent.services.get('spearlet-a1')?.maintenance, false);
  });

  it('deregisters on close, idempotently, and stops passing', async (t) => {
    const { agent, f, reg, states } = await setup(t);
    reg.start();
    await waitState(reg, 'registered');
    await Promise.all([reg.close(), reg.close()]);
    await reg.close();
    assert.equal(reg.state, 'closed');
    assert.equal(agent.services.size, 0);
    assert.equal(f.requests.filter((r) => r.path.startsWith('/v1/agent/service/deregister/')).length, 1);
    const count = f.requests.length;
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(f.requests.length, count, 'nothing after close');
    assert.equal(states.at(-1), 'closed');
    await reg.setMaintenance(true);
    reg.start();
    assert.equal(reg.state, 'closed');
  });

  it('closes without deregistering when never started, and treats a 404 on deregister as done', async (t) => {
    const { f, reg } = await setup(t);
    await reg.close();
    assert.equal(f.requests.length, 0);
    const s2 = await setup(t, { id: 'b2', meta: { version: '0.1.0' } });
    s2.reg.start();
    await waitState(s2.reg, 'registered');
    s2.agent.services.clear();
    await s2.reg.close();
    assert.equal(s2.reg.state, 'closed');
  });

  it('validates its options', async (t) => {
    const { reg } = await setup(t);
    const base = { consul: createConsulClient({ addr: '127.0.0.1:1' }), id: 'x', address: '10.0.0.1', port: 1 };
    t.after(() => {
      base.consul.close();
    });
    assert.throws(() => new SpearletRegistration({ ...base, id: 'a/b' }), ConfigError);
    assert.throws(() => new SpearletRegistration({ ...base, address: '0.0.0.0' }), ConfigError);
    assert.throws(() => new SpearletRegistration({ ...base, port: 70000 }), ConfigError);
    assert.throws(() => new SpearletRegistration({ ...base, ttlMs: 10 }), ConfigError);
    assert.throws(() => new SpearletRegistration({ ...base, meta: { 'consul-x': 'y' } }), ConfigError);
    assert.throws(() => new SpearletRegistration({ ...base, meta: { 'bad key': 'y' } }), ConfigError);
    assert.equal(reg.state, 'unregistered');
  });

  it('leaves (conflict, no deregister) when the read-back after registering shows another live instance', async (t) => {
    const { agent, f, reg, states } = await setup(t);
    reg.start();
    await waitState(reg, 'registered');
    // Another instance registered the same ID right after us: its nonce is there now and its check passes.
    const other = healthEntry({ id: 'spearlet-a1', meta: { spearlet_id: 'a1', instance: 'other' } }) as {
      Checks: object[];
    };
    other.Checks.push({ Node: 'node-1', CheckID: 'spearlet:a1:ttl', Name: 'ttl', Status: 'passing' });
    agent.health = [other];
    await waitState(reg, 'conflict');
    assert.deepEqual(states, ['registering', 'registered', 'conflict']);
    const sent = f.requests.length;
    await reg.close();
    assert.equal(f.requests.length, sent, 'close() sends nothing: the registration is the other instance’s');
    assert.equal(reg.state, 'closed');
  });
});
