// PUT /v1/catalog/register and /v1/catalog/deregister, from Consul's Catalog API documentation
// (https://developer.hashicorp.com/consul/api-docs/catalog): register answers `true` and the service and checks
// show in catalog and health reads; deregister by ServiceID (with its checks) or CheckID. The dev registry has one
// node, so these cases register on the agent's own node; a real agent's anti-entropy may later remove such
// services (the docs recommend the agent endpoints), so each case reads right after its write. Checked against the
// documentation only: the 500 texts for a missing node and address.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { devOnly, openTarget, putJson, raw, uniq, type HealthEntry, type Target } from './target.ts';

let t: Target;
before(async () => {
  t = await openTarget();
});
after(async () => {
  await t.close();
});

describe('catalog register/deregister', () => {
  it('registers a service with a check on the node; both read back; deregister removes them', async (ctx) => {
    const name = uniq('cat');
    ctx.after(() => putJson(t, '/v1/catalog/deregister', { Node: t.node, ServiceID: name }));
    const r = await putJson(t, '/v1/catalog/register', {
      Node: t.node,
      Address: '127.0.0.1',
      Service: { Service: name, Tags: ['a'], Port: 9000, Meta: { v: '1' } },
      Check: { CheckID: `${name}-chk`, Name: 'cat check', Status: 'passing', ServiceID: name },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, 'true');
    const nodes = (await raw(t, 'GET', `/v1/catalog/service/${name}`)).json<
      { ServiceID: string; ServicePort: number; ServiceTags: string[] }[]
    >();
    assert.equal(nodes.length, 1);
    assert.equal(nodes[0]?.ServiceID, name, 'ID defaults to the service name');
    assert.equal(nodes[0].ServicePort, 9000);
    assert.deepEqual(nodes[0].ServiceTags, ['a']);
    const health = (await raw(t, 'GET', `/v1/health/service/${name}?passing`)).json<HealthEntry[]>();
    assert.equal(health.length, 1);
    assert.ok(health[0]?.Checks.some((c) => c.CheckID === `${name}-chk` && c.Status === 'passing'));

    const d = await putJson(t, '/v1/catalog/deregister', { Node: t.node, ServiceID: name });
    assert.equal(d.status, 200);
    assert.equal(d.text, 'true');
    assert.deepEqual((await raw(t, 'GET', `/v1/catalog/service/${name}`)).json(), []);
    const checks = (await raw(t, 'GET', `/v1/health/checks/${name}`)).json<unknown[]>();
    assert.deepEqual(checks, [], 'the service checks went with it');
  });

  it('a check registered without Status starts critical; deregister by CheckID removes only it', async (ctx) => {
    const name = uniq('cat');
    ctx.after(() => putJson(t, '/v1/catalog/deregister', { Node: t.node, ServiceID: name }));
    await putJson(t, '/v1/catalog/register', {
      Node: t.node,
      Address: '127.0.0.1',
      Service: { ID: name, Service: name },
      Checks: [
        { CheckID: `${name}-1`, Name: 'one', ServiceID: name },
        { CheckID: `${name}-2`, Name: 'two', ServiceID: name, Status: 'passing' },
      ],
    });
    const before = (await raw(t, 'GET', `/v1/health/checks/${name}`)).json<{ CheckID: string; Status: string }[]>();
    assert.deepEqual(before.map((c) => [c.CheckID, c.Status]).sort(), [
      [`${name}-1`, 'critical'],
      [`${name}-2`, 'passing'],
    ]);
    await putJson(t, '/v1/catalog/deregister', { Node: t.node, CheckID: `${name}-1` });
    const afterDelete = (await raw(t, 'GET', `/v1/health/checks/${name}`)).json<{ CheckID: string }[]>();
    assert.deepEqual(
      afterDelete.map((c) => c.CheckID),
      [`${name}-2`],
    );
  });

  it('a write moves the service index for blocking readers', async (ctx) => {
    const name = uniq('cat');
    ctx.after(() => putJson(t, '/v1/catalog/deregister', { Node: t.node, ServiceID: name }));
    const first = await raw(t, 'GET', `/v1/catalog/service/${name}`);
    const idx = Number(first.headers.get('x-consul-index'));
    const blocked = raw(t, 'GET', `/v1/catalog/service/${name}?index=${idx}&wait=30s`);
    await putJson(t, '/v1/catalog/register', { Node: t.node, Address: '127.0.0.1', Service: { Service: name } });
    const r = await blocked;
    assert.ok(Number(r.headers.get('x-consul-index')) > idx);
    assert.equal(r.json<unknown[]>().length, 1);
  });

  it('a missing Node or Address is a 500; a bad body a 400; only PUT', async () => {
    const noNode = await putJson(t, '/v1/catalog/register', { Address: '127.0.0.1' });
    assert.equal(noNode.status, 500);
    assert.match(noNode.text, /Must provide node/);
    const noAddr = await putJson(t, '/v1/catalog/register', { Node: t.node });
    assert.equal(noAddr.status, 500);
    assert.match(noAddr.text, /Must provide address/);
    const bad = await putJson(t, '/v1/catalog/register', { Bogus: 1 });
    assert.equal(bad.status, 400);
    assert.equal(bad.text, 'Request decode failed: json: unknown field "Bogus"');
    assert.equal((await raw(t, 'GET', '/v1/catalog/register')).status, 405);
    assert.equal((await raw(t, 'GET', '/v1/catalog/deregister')).status, 405);
  });

  it('another node name is refused: the dev registry has one node', devOnly, async () => {
    const r = await putJson(t, '/v1/catalog/register', {
      Node: 'elsewhere',
      Address: '10.0.0.9',
      Service: { Service: 'x' },
    });
    assert.equal(r.status, 500);
    assert.match(r.text, /single-node catalog/);
  });
});
