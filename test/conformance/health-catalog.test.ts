// Health and catalog reads: passing, tag and name matching, filter, ordering, index headers, catalog shapes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openTarget, putJson, raw, uniq, type HealthEntry, type Target } from './target.ts';

let t: Target;
before(async () => {
  t = await openTarget();
});
after(async () => {
  await t.close();
});

async function register(name: string, id: string, extra: Record<string, unknown> = {}): Promise<void> {
  const r = await putJson(t, '/v1/agent/service/register', { Name: name, ID: id, Port: 1, ...extra });
  assert.equal(r.status, 200, r.text);
}

async function health(path: string): Promise<HealthEntry[]> {
  const r = await raw(t, 'GET', path);
  assert.equal(r.status, 200, r.text);
  return r.json<HealthEntry[]>();
}

describe('GET /v1/health/service/:service', () => {
  it('?passing keeps only instances whose every check is passing (warning excluded)', async (ctx) => {
    const name = uniq('pass');
    ctx.after(async () => {
      for (const i of ['p', 'w', 'c']) await raw(t, 'PUT', `/v1/agent/service/deregister/${name}-${i}`);
    });
    await register(name, `${name}-p`, { Check: { TTL: '30s', Status: 'passing' } });
    await register(name, `${name}-w`, { Check: { TTL: '30s', Status: 'warning' } });
    await register(name, `${name}-c`, { Check: { TTL: '30s' } });
    assert.equal((await health(`/v1/health/service/${name}`)).length, 3);
    const passing = await health(`/v1/health/service/${name}?passing`);
    assert.deepEqual(
      passing.map((e) => e.Service.ID),
      [`${name}-p`],
    );
    assert.deepEqual(
      (await health(`/v1/health/service/${name}?passing=true`)).map((e) => e.Service.ID),
      [`${name}-p`],
    );
    assert.equal((await health(`/v1/health/service/${name}?passing=false`)).length, 3);
    const bad = await raw(t, 'GET', `/v1/health/service/${name}?passing=yes`);
    assert.equal(bad.status, 400);
    assert.equal(bad.text, 'Invalid value for ?passing');
  });

  it('through the consul client, with passing', async (ctx) => {
    const name = uniq('client');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${name}`));
    await register(name, name, { Check: { TTL: '30s', Status: 'passing' } });
    const list = (await t.consul.health.service({ service: name, passing: true })) as HealthEntry[];
    assert.equal(list.length, 1);
    assert.equal(list[0]!.Service.ID, name);
  });

  it('matches service names and tags case-insensitively; repeated tags AND together', async (ctx) => {
    const name = uniq('Tagged');
    ctx.after(async () => {
      for (const i of ['1', '2']) await raw(t, 'PUT', `/v1/agent/service/deregister/${name}-${i}`);
    });
    await register(name, `${name}-1`, { Tags: ['Blue', 'gpu'] });
    await register(name, `${name}-2`, { Tags: ['blue'] });
    assert.equal((await health(`/v1/health/service/${name.toUpperCase()}`)).length, 2);
    assert.equal((await health(`/v1/health/service/${name}?tag=BLUE`)).length, 2);
    assert.deepEqual(
      (await health(`/v1/health/service/${name}?tag=blue&tag=GPU`)).map((e) => e.Service.ID),
      [`${name}-1`],
    );
  });

  it('filters with bexpr on Service.Meta and Service.Tags', async (ctx) => {
    const name = uniq('filter');
    ctx.after(async () => {
      for (const i of ['1', '2']) await raw(t, 'PUT', `/v1/agent/service/deregister/${name}-${i}`);
    });
    await register(name, `${name}-1`, { Meta: { version: '2' }, Tags: ['gpu'] });
    await register(name, `${name}-2`, { Meta: { version: '1' } });
    const q = (f: string): string => `/v1/health/service/${name}?filter=${encodeURIComponent(f)}`;
    assert.deepEqual(
      (await health(q('Service.Meta.version == "2"'))).map((e) => e.Service.ID),
      [`${name}-1`],
    );
    assert.deepEqual(
      (await health(q('"gpu" in Service.Tags'))).map((e) => e.Service.ID),
      [`${name}-1`],
    );
    assert.deepEqual(
      (await health(q('"gpu" not in Service.Tags'))).map((e) => e.Service.ID),
      [`${name}-2`],
    );
    assert.equal((await health(q('Service.Meta.version == "1" or Service.Meta.version == "2"'))).length, 2);
    const bad = await raw(t, 'GET', q('Service.Meta.version ==='));
    assert.equal(bad.status, 500);
    assert.match(bad.text, /^Failed to create boolean expression evaluator: /);
  });

  it('returns [] with an index for an unknown service, and X-Consul-* metadata headers', async () => {
    const r = await raw(t, 'GET', `/v1/health/service/${uniq('nothing')}`);
    assert.equal(r.status, 200);
    assert.equal(r.text, '[]');
    const idx = Number(r.headers.get('x-consul-index'));
    assert.ok(idx >= 1, 'index is never 0');
    assert.equal(r.headers.get('x-consul-knownleader'), 'true');
    assert.match(r.headers.get('x-consul-lastcontact') ?? '', /^\d+$/);
  });

  it('answers 400 for a missing service name', async () => {
    const r = await raw(t, 'GET', '/v1/health/service/');
    assert.equal(r.status, 400);
    assert.equal(r.text, 'Missing service name');
  });

  it('node maintenance keeps the instance (with _node_maintenance first) and hides it with ?passing', async (ctx) => {
    const name = uniq('nodemaint');
    ctx.after(async () => {
      await raw(t, 'PUT', '/v1/agent/maintenance?enable=false');
      await raw(t, 'PUT', `/v1/agent/service/deregister/${name}`);
    });
    await register(name, name, { Check: { TTL: '30s', Status: 'passing' } });
    assert.equal((await raw(t, 'PUT', '/v1/agent/maintenance?enable=true&reason=patching')).status, 200);
    const [entry] = await health(`/v1/health/service/${name}`);
    assert.equal(entry?.Checks[0]?.CheckID, '_node_maintenance');
    assert.equal(entry.Checks[0].Name, 'Node Maintenance Mode');
    assert.equal(entry.Checks[0].Notes, 'patching');
    assert.equal(entry.Checks[0].Status, 'critical');
    assert.deepEqual(await health(`/v1/health/service/${name}?passing`), []);
    await raw(t, 'PUT', '/v1/agent/maintenance?enable=false');
    assert.equal((await health(`/v1/health/service/${name}?passing`)).length, 1);
  });
});

describe('other health reads', () => {
  it('checks/:service, node/:node and state/:state', async (ctx) => {
    const name = uniq('hc');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${name}`));
    await register(name, name, { Check: { CheckID: `${name}:c`, TTL: '30s', Status: 'warning' } });
    const checks = (await raw(t, 'GET', `/v1/health/checks/${name}`)).json<{ CheckID: string }[]>();
    assert.deepEqual(
      checks.map((c) => c.CheckID),
      [`${name}:c`],
    );
    const nodeChecks = (await raw(t, 'GET', `/v1/health/node/${t.node}`)).json<{ CheckID: string }[]>();
    assert.ok(nodeChecks.some((c) => c.CheckID === 'serfHealth'));
    assert.ok(nodeChecks.some((c) => c.CheckID === `${name}:c`));
    const warning = (await raw(t, 'GET', '/v1/health/state/warning')).json<{ CheckID: string; Status: string }[]>();
    assert.ok(warning.some((c) => c.CheckID === `${name}:c`));
    assert.ok(warning.every((c) => c.Status === 'warning'));
    const any = (await raw(t, 'GET', '/v1/health/state/any')).json<{ CheckID: string }[]>();
    assert.ok(any.some((c) => c.CheckID === 'serfHealth'));
    const odd = await raw(t, 'GET', '/v1/health/state/sleepy');
    assert.equal(odd.status, 200, 'Consul does not validate the state: nothing is in it');
    assert.equal(odd.text, '[]');
    const missing = await raw(t, 'GET', '/v1/health/state/');
    assert.equal(missing.status, 400);
    assert.equal(missing.text, 'Missing check state');
  });
});

describe('catalog', () => {
  it('services lists every name with its tags, including consul', async (ctx) => {
    const name = uniq('cat');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${name}`));
    await register(name, name, { Tags: ['x', 'y'] });
    const r = await raw(t, 'GET', '/v1/catalog/services');
    const map = r.json<Record<string, string[]>>();
    assert.deepEqual(map.consul, []);
    assert.deepEqual([...(map[name] ?? [])].sort(), ['x', 'y']);
    assert.ok(Number(r.headers.get('x-consul-index')) >= 1);
    const viaClient = (await t.consul.catalog.service.list()) as Record<string, string[]>;
    assert.ok(name in viaClient);
  });

  it('service/:name returns ServiceNode entries, ignoring health', async (ctx) => {
    const name = uniq('catsvc');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${name}`));
    await register(name, name, { Address: '10.0.0.9', Port: 99, Tags: ['t'], Meta: { k: 'v' }, Check: { TTL: '30s' } });
    const [sn] = (await raw(t, 'GET', `/v1/catalog/service/${name}`)).json<Record<string, unknown>[]>();
    assert.equal(sn?.ServiceID, name);
    assert.equal(sn.ServiceName, name);
    assert.equal(sn.ServiceAddress, '10.0.0.9');
    assert.equal(sn.ServicePort, 99);
    assert.deepEqual(sn.ServiceTags, ['t']);
    assert.deepEqual(sn.ServiceMeta, { k: 'v' });
    assert.equal(sn.Node, t.node);
    assert.equal((await raw(t, 'GET', `/v1/catalog/service/${name}?tag=nope`)).text, '[]');
  });

  it('nodes, node/:node and datacenters', async () => {
    const nodes = (await raw(t, 'GET', '/v1/catalog/nodes')).json<{ Node: string }[]>();
    assert.ok(nodes.some((n) => n.Node === t.node));
    const node = (await raw(t, 'GET', `/v1/catalog/node/${t.node}`)).json<{
      Node: { Node: string };
      Services: Record<string, unknown>;
    }>();
    assert.equal(node.Node.Node, t.node);
    assert.ok('consul' in node.Services || Object.keys(node.Services).length >= 0);
    assert.equal((await raw(t, 'GET', '/v1/catalog/node/no-such-node-xyz')).text, 'null');
    const dcs = (await raw(t, 'GET', '/v1/catalog/datacenters')).json<string[]>();
    assert.ok(dcs.includes(t.datacenter));
  });
});

describe('status', () => {
  it('leader and peers', async () => {
    const leader = await t.consul.status.leader();
    assert.match(leader, /:\d+$/);
    const peers = await t.consul.status.peers();
    assert.ok(peers.includes(leader));
  });
});
