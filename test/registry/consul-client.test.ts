import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { RegistryBadResponseError, RegistryHttpError, RegistryUnavailableError } from '../../src/errors.ts';
import { createConsulClient } from '../../src/registry/consul-client.ts';
import { healthEntry, startFakeConsul, type FakeConsul } from './fake-consul.ts';

async function fake(t: { after: (fn: () => Promise<void>) => void }): Promise<FakeConsul> {
  const f = await startFakeConsul();
  t.after(() => f.close());
  return f;
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) =>
    s.close(() => {
      r();
    }),
  );
  return port;
}

describe('ConsulClient (npm consul wrapper)', () => {
  it('registers a TTL-only check in Consul casing, with the token header', async (t) => {
    const f = await fake(t);
    const c = createConsulClient({ addr: f.addr, token: 'secret-token' });
    t.after(() => {
      c.close();
    });
    await c.registerService({
      ID: 'spearlet-a',
      Name: 'spearlet',
      Address: '127.0.0.1',
      Port: 7000,
      Tags: ['spear-mesh'],
      Meta: { spearlet_id: 'a' },
      Check: { CheckID: 'spearlet:a:ttl', Name: 'ttl', TTL: '10000ms', DeregisterCriticalServiceAfter: '60000ms' },
    });
    const r = f.requests[0]!;
    assert.equal(r.method, 'PUT');
    assert.equal(r.path, '/v1/agent/service/register');
    assert.equal(r.headers['x-consul-token'], 'secret-token');
    assert.deepEqual(JSON.parse(r.body), {
      ID: 'spearlet-a',
      Name: 'spearlet',
      Address: '127.0.0.1',
      Port: 7000,
      Tags: ['spear-mesh'],
      Meta: { spearlet_id: 'a' },
      Check: { CheckID: 'spearlet:a:ttl', Name: 'ttl', TTL: '10000ms', DeregisterCriticalServiceAfter: '60000ms' },
    });
  });

  it('honours CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN from the given environment, explicit options first', async (t) => {
    const f = await fake(t);
    const c = createConsulClient({}, { CONSUL_HTTP_ADDR: f.addr, CONSUL_HTTP_TOKEN: 'env-token' });
    t.after(() => {
      c.close();
    });
    await c.passCheck('x');
    assert.equal(f.requests[0]!.headers['x-consul-token'], 'env-token');
    const c2 = createConsulClient({ token: 'explicit' }, { CONSUL_HTTP_ADDR: f.addr, CONSUL_HTTP_TOKEN: 'env-token' });
    t.after(() => {
      c2.close();
    });
    await c2.passCheck('x');
    assert.equal(f.requests[1]!.headers['x-consul-token'], 'explicit');
  });

  it('treats a 404 on deregister as done, and keeps the full text of long error bodies', async (t) => {
    const f = await fake(t);
    const c = createConsulClient({ addr: f.addr });
    t.after(() => {
      c.close();
    });
    const long = 'Unknown service ID "spearlet-x". Ensure that the service ID is passed, not the service name.';
    f.handler = () => ({ status: 404, body: long });
    await c.deregisterService('spearlet-x');
    assert.equal(f.requests[0]!.path, '/v1/agent/service/deregister/spearlet-x');
    f.handler = () => ({
      status: 404,
      body: 'Unknown check ID "spearlet:x:ttl". Ensure that the check ID is passed, not the check name.',
    });
    const err = await c.passCheck('spearlet:x:ttl').catch((e: unknown) => e);
    assert.ok(err instanceof RegistryHttpError);
    assert.equal(err.statusCode, 404);
    assert.match(err.message, /Ensure that the check ID is passed/);
    assert.equal(f.requests[1]!.path, '/v1/agent/check/pass/spearlet:x:ttl');
    f.handler = () => ({ status: 500, body: 'rpc error' });
    const e500 = await c.deregisterService('spearlet-x').catch((e: unknown) => e);
    assert.ok(e500 instanceof RegistryHttpError && e500.statusCode === 500 && e500.retryable);
  });

  it('maps connection refused to RegistryUnavailableError', async (t) => {
    const c = createConsulClient({ addr: `127.0.0.1:${await closedPort()}` });
    t.after(() => {
      c.close();
    });
    const err = await c.passCheck('x').catch((e: unknown) => e);
    assert.ok(err instanceof RegistryUnavailableError, String(err));
    assert.match(err.message, /ECONNREFUSED/);
    const err2 = await c.healthService('spearlet', { passing: true }).catch((e: unknown) => e);
    assert.ok(err2 instanceof RegistryUnavailableError);
  });

  it('maps a request timeout to RegistryUnavailableError', async (t) => {
    const f = await fake(t);
    f.handler = () => new Promise(() => undefined);
    const c = createConsulClient({ addr: f.addr, requestTimeoutMs: 200 });
    t.after(() => {
      c.close();
    });
    const err = await c.passCheck('x').catch((e: unknown) => e);
    assert.ok(err instanceof RegistryUnavailableError, String(err));
    assert.match(err.message, /timed out/);
  });

  it('maps garbage bodies to RegistryBadResponseError', async (t) => {
    const f = await fake(t);
    const c = createConsulClient({ addr: f.addr });
    t.after(() => {
      c.close();
    });
    f.handler = () => ({ body: '[{"Node":', headers: { 'content-type': 'application/json' } });
    assert.ok((await c.healthService('spearlet', {}).catch((e: unknown) => e)) instanceof RegistryBadResponseError);
    f.handler = () => ({ body: '<html>proxy</html>', headers: { 'content-type': 'text/html' } });
    assert.ok((await c.healthService('spearlet', {}).catch((e: unknown) => e)) instanceof RegistryBadResponseError);
    f.handler = () => ({ body: { not: 'an array' } });
    assert.ok((await c.healthService('spearlet', {}).catch((e: unknown) => e)) instanceof RegistryBadResponseError);
    f.handler = () => ({ body: [{ Node: {}, Service: { ID: 'a', Service: 'spearlet', Port: 'x' } }] });
    assert.ok((await c.healthService('spearlet', {}).catch((e: unknown) => e)) instanceof RegistryBadResponseError);
    f.handler = () => ({ body: 'yes', headers: { 'content-type': 'application/json' } });
    assert.ok((await c.kvPut('k', 'v').catch((e: unknown) => e)) instanceof RegistryBadResponseError);
    // Consul omits a zero Port (omitempty): that is a port-0 service, not garbage.
    f.handler = () => ({ body: [{ Node: {}, Service: { ID: 'a', Service: 'spearlet' } }] });
    const { entries } = await c.healthService('spearlet', {});
    assert.equal(entries[0]?.Service.Port, 0);
  });

  it('sends the health query parameters and returns the parsed index', async (t) => {
    const f = await fake(t);
    const c = createConsulClient({ addr: f.addr, datacenter: 'dc9' });
    t.after(() => {
      c.close();
    });
    f.handler = () => ({
      body: [healthEntry({ id: 'spearlet-a', address: '10.1.1.1' })],
      headers: { 'X-Consul-Index': '0042' },
    });
    const res = await c.healthService('spearlet', {
      passing: true,
      tags: ['spear-mesh', 'zone-a'],
      filter: 'Service.Meta.proto == "1"',
      index: '41',
      wait: '5s',
    });
    assert.equal(res.index, '42');
    assert.equal(res.entries.length, 1);
    assert.equal(res.entries[0]!.Service.Address, '10.1.1.1');
    const q = f.requests[0]!.query;
    assert.equal(f.requests[0]!.path, '/v1/health/service/spearlet');
    assert.equal(q.get('passing'), 'true');
    assert.deepEqual(q.getAll('tag'), ['spear-mesh', 'zone-a']);
    assert.equal(q.get('filter'), 'Service.Meta.proto == "1"');
    assert.equal(q.get('index'), '41');
    assert.equal(q.get('wait'), '5s');
    assert.equal(q.get('dc'), 'dc9');

    f.handler = () => ({ body: [] });
    const none = await c.healthService('spearlet', { index: '0', wait: '5s' });
    assert.equal(none.index, undefined, 'a missing header is reported as undefined');
    assert.equal(f.requests[1]!.query.get('index'), null, 'index 0 is not sent: the query must not block');
    await assert.rejects(c.healthService('spearlet', { index: '-1' }), TypeError);
  });

  it('aborts an in-flight blocking query at once', async (t) => {
    const f = await fake(t);
    f.handler = () => new Promise(() => undefined);
    const c = createConsulClient({ addr: f.addr });
    t.after(() => {
      c.close();
    });
    const ac = new AbortController();
    const p = c.healthService('spearlet', { index: '5', wait: '60s', signal: ac.signal });
    await f.waitForRequest((r) => r.path === '/v1/health/service/spearlet');
    const started = performance.now();
    ac.abort();
    await assert.rejects(p, (e: unknown) => e instanceof Error && e.name === 'AbortError');
    assert.ok(performance.now() - started < 1000);
  });

  it('reads and writes KV values, reporting a missing key as undefined with its index', async (t) => {
    const f = await fake(t);
    const c = createConsulClient({ addr: f.addr });
    t.after(() => {
      c.close();
    });
    f.handler = () => ({ status: 404, headers: { 'X-Consul-Index': '7' } });
    assert.deepEqual(await c.kvGet('a/b'), { value: undefined, index: '7' });
    f.handler = () => ({
      body: [
        {
          Key: 'a/b',
          Value: Buffer.from('hello').toString('base64'),
          Flags: 0,
          CreateIndex: 8,
          ModifyIndex: 8,
          LockIndex: 0,
        },
      ],
      headers: { 'X-Consul-Index': '8' },
    });
    const got = await c.kvGet('a/b', { index: '7', wait: '1s' });
    assert.equal(got.value?.toString(), 'hello');
    assert.equal(got.index, '8');
    f.handler = () => ({ body: [{ Key: 'a/b', Value: null }], headers: { 'X-Consul-Index': '9' } });
    assert.equal((await c.kvGet('a/b')).value?.length, 0);
    f.handler = () => ({ body: 'true', headers: { 'content-type': 'application/json' } });
    assert.equal(await c.kvPut('a/b', Buffer.from('x')), true);
    assert.equal(f.requests.at(-1)!.body, 'x');
  });

  it('puts service maintenance with enable and reason, and fails checks with a note', async (t) => {
    const f = await fake(t);
    const c = createConsulClient({ addr: f.addr });
    t.after(() => {
      c.close();
    });
    await c.setServiceMaintenance('spearlet-a', true, 'drain');
    await c.failCheck('spearlet:a:ttl', 'draining');
    assert.equal(f.requests[0]!.path, '/v1/agent/service/maintenance/spearlet-a');
    assert.equal(f.requests[0]!.query.get('enable'), 'true');
    assert.equal(f.requests[0]!.query.get('reason'), 'drain');
    assert.equal(f.requests[1]!.path, '/v1/agent/check/fail/spearlet:a:ttl');
    assert.equal(f.requests[1]!.query.get('note'), 'draining');
  });

  it('rejects every call after close', async (t) => {
    const f = await fake(t);
    const c = createConsulClient({ addr: f.addr });
    c.close();
    c.close();
    await assert.rejects(c.passCheck('x'), RegistryUnavailableError);
  });
});
