// Agent endpoints (service and check registration, TTL updates, maintenance) as Consul's docs describe them.
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

async function health(name: string, query = ''): Promise<HealthEntry[]> {
  const r = await raw(t, 'GET', `/v1/health/service/${name}${query}`);
  assert.equal(r.status, 200, r.text);
  return r.json<HealthEntry[]>();
}

async function agentChecks(): Promise<
  Record<string, { Status: string; Output: string; Name: string; ServiceID: string; Type: string; Notes: string }>
> {
  return (await raw(t, 'GET', '/v1/agent/checks')).json();
}

describe('PUT /v1/agent/service/register', () => {
  it('registers through the consul client and shows up in health with a critical default TTL check', async (ctx) => {
    const name = uniq('svc');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${name}`));
    await t.consul.agent.service.register({ name, port: 8080, tags: ['a', 'b'], check: { ttl: '30s' } } as never); // bundled types reject a TTL-only check
    const entries = await health(name);
    assert.equal(entries.length, 1);
    const e = entries[0]!;
    assert.equal(e.Service.ID, name, 'ID defaults to Name');
    assert.equal(e.Service.Port, 8080);
    assert.deepEqual(e.Service.Tags, ['a', 'b']);
    const check = e.Checks.find((c) => c.ServiceID === name)!;
    assert.equal(check.CheckID, `service:${name}`);
    assert.equal(check.Name, `Service '${name}' check`);
    assert.equal(check.Status, 'critical');
    assert.equal(check.Type, 'ttl');
    assert.ok(
      e.Checks.some((c) => c.CheckID === 'serfHealth' && c.Status === 'passing'),
      'node check serfHealth is listed',
    );
    assert.equal(e.Checks[0]!.ServiceID, '', 'node checks come first');
  });

  it('numbers several default check IDs from 1 and honours Status', async (ctx) => {
    const id = uniq('multi');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${id}`));
    const r = await putJson(t, '/v1/agent/service/register', {
      Name: id,
      Checks: [
        { TTL: '30s', Status: 'passing' },
        { TTL: '30s', Status: 'warning' },
      ],
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, '');
    const checks = await agentChecks();
    assert.equal(checks[`service:${id}:1`]?.Status, 'passing');
    assert.equal(checks[`service:${id}:2`]?.Status, 'warning');
  });

  it('accepts case-insensitive keys and snake_case aliases', async (ctx) => {
    const id = uniq('case');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${id}`));
    const r = await putJson(t, '/v1/agent/service/register', {
      name: id,
      PORT: 9,
      enable_tag_override: true,
      check: { ttl: '30s', deregister_critical_service_after: '90m', status: 'passing' },
    });
    assert.equal(r.status, 200, r.text);
    const svc = (await raw(t, 'GET', `/v1/agent/service/${id}`)).json<{ Port: number; EnableTagOverride: boolean }>();
    assert.equal(svc.Port, 9);
    assert.equal(svc.EnableTagOverride, true);
  });

  it('keeps the status of existing checks on re-registration, and other checks unless replace-existing-checks', async (ctx) => {
    const id = uniq('rereg');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${id}`));
    await putJson(t, '/v1/agent/service/register', {
      Name: id,
      Checks: [
        { CheckID: `${id}-a`, TTL: '30s' },
        { CheckID: `${id}-b`, TTL: '30s' },
      ],
    });
    assert.equal((await raw(t, 'PUT', `/v1/agent/check/pass/${id}-a?note=fine`)).status, 200);
    await putJson(t, '/v1/agent/service/register', { Name: id, Check: { CheckID: `${id}-a`, TTL: '30s' } });
    let checks = await agentChecks();
    assert.equal(checks[`${id}-a`]?.Status, 'passing', 'status preserved');
    assert.equal(checks[`${id}-a`]?.Output, 'fine', 'output preserved');
    assert.ok(checks[`${id}-b`] !== undefined, 'check missing from the new definition is kept');
    await putJson(t, '/v1/agent/service/register?replace-existing-checks', {
      Name: id,
      Check: { CheckID: `${id}-a`, TTL: '30s' },
    });
    checks = await agentChecks();
    assert.equal(checks[`${id}-b`], undefined, 'removed with replace-existing-checks');
    assert.equal(checks[`${id}-a`]?.Status, 'passing');
  });

  it('adds lan/wan ipv4 tagged addresses for an IPv4 Address', async (ctx) => {
    const id = uniq('tagged');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${id}`));
    await putJson(t, '/v1/agent/service/register', { Name: id, Address: '10.1.2.3', Port: 7 });
    const svc = (await raw(t, 'GET', `/v1/agent/service/${id}`)).json<{
      TaggedAddresses: Record<string, { Address: string; Port: number }>;
    }>();
    assert.deepEqual(svc.TaggedAddresses.lan_ipv4, { Address: '10.1.2.3', Port: 7 });
    assert.deepEqual(svc.TaggedAddresses.wan_ipv4, { Address: '10.1.2.3', Port: 7 });
  });

  const badBodies: [string, string, number, RegExp][] = [
    ['empty body', '', 400, /^Request decode failed: EOF$/],
    ['malformed JSON', '{"Name": ', 400, /^Request decode failed: /],
    ['not JSON at all', 'hello', 400, /^Request decode failed: invalid character 'h'/],
    ['unknown field', '{"Name":"x","Bogus":1}', 400, /^Request decode failed: json: unknown field "Bogus"$/],
    [
      'bad duration',
      '{"Name":"x","Check":{"TTL":"abc"}}',
      400,
      /^Request decode failed: time: invalid duration "abc"$/,
    ],
    [
      'duration without unit',
      '{"Name":"x","Check":{"TTL":"10"}}',
      400,
      /^Request decode failed: time: missing unit in duration "10"$/,
    ],
    [
      'wrong type',
      '{"Name":"x","Port":"80"}',
      400,
      /^Request decode failed: json: cannot unmarshal string into Go struct field/,
    ],
    ['missing name', '{"Port":1}', 400, /^Missing service name$/],
    [
      'interval and TTL',
      '{"Name":"x","Check":{"TTL":"1s","Interval":"1s"}}',
      400,
      /^Invalid check: Interval and TTL cannot both be specified$/,
    ],
    [
      'HTTP without interval',
      '{"Name":"x","Check":{"HTTP":"http://127.0.0.1:1/"}}',
      400,
      /^Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks$/,
    ],
    [
      'check without type',
      '{"Name":"x","Check":{"DeregisterCriticalServiceAfter":"1m"}}',
      400,
      /^Invalid check: TTL must be > 0 for TTL checks$/,
    ],
    [
      'bad status',
      '{"Name":"x","Check":{"TTL":"1s","Status":"ok"}}',
      400,
      /^Status for checks must 'passing', 'warning', 'critical'$/,
    ],
    [
      'bad meta key',
      '{"Name":"x","Meta":{"a b":"1"}}',
      400,
      /^Invalid Service Meta: Couldn't load metadata pair \('a b', '1'\): Key contains invalid characters$/,
    ],
    [
      'reserved meta prefix',
      '{"Name":"x","Meta":{"consul-x":"1"}}',
      400,
      /^Invalid Service Meta: .*reserved for internal use$/,
    ],
  ];
  for (const [what, body, status, text] of badBodies) {
    it(`rejects ${what} with ${status} and Consul's message`, async () => {
      const r = await raw(t, 'PUT', '/v1/agent/service/register', body);
      assert.equal(r.status, status, r.text);
      assert.match(r.text.trim(), text);
    });
  }

  it('refuses an invalid lan_ipv4 tagged address (500, from the agent)', async () => {
    const r = await putJson(t, '/v1/agent/service/register', {
      Name: uniq('badtag'),
      TaggedAddresses: { lan_ipv4: { Address: 'not-an-ip', Port: 1 } },
    });
    assert.equal(r.status, 500);
    assert.match(r.text, /Service tagged address "lan_ipv4" must be a valid ipv4 address/);
  });

  it('ignores an exactly-empty Check object', async (ctx) => {
    const id = uniq('emptycheck');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${id}`));
    const r = await putJson(t, '/v1/agent/service/register', { Name: id, Check: {} });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(
      (await health(id))[0]!.Checks.filter((c) => c.ServiceID === id),
      [],
    );
  });
});

describe('deregister, maintenance and unknown IDs', () => {
  it('deregisters a service with all its checks', async () => {
    const id = uniq('dereg');
    await putJson(t, '/v1/agent/service/register', { Name: id, Checks: [{ TTL: '30s' }, { TTL: '30s' }] });
    await t.consul.agent.service.deregister(id);
    assert.deepEqual(await health(id), []);
    const checks = await agentChecks();
    assert.equal(Object.keys(checks).filter((k) => k.includes(id)).length, 0);
  });

  it("answers 404 with Consul's message for an unknown service ID", async () => {
    const r = await raw(t, 'PUT', '/v1/agent/service/deregister/no-such-service-xyz');
    assert.equal(r.status, 404);
    assert.equal(
      r.text,
      'Unknown service ID "no-such-service-xyz". Ensure that the service ID is passed, not the service name.',
    );
  });

  it("answers 404 with Consul's message for an unknown check ID on pass", async () => {
    const r = await raw(t, 'PUT', '/v1/agent/check/pass/no-such-check-xyz');
    assert.equal(r.status, 404);
    assert.equal(
      r.text,
      'Unknown check ID "no-such-check-xyz". Ensure that the check ID is passed, not the check name.',
    );
  });

  it('service maintenance adds a critical _service_maintenance check; the instance stays but not with ?passing', async (ctx) => {
    const id = uniq('maint');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${id}`));
    await putJson(t, '/v1/agent/service/register', { Name: id, Check: { TTL: '30s', Status: 'passing' } });
    await t.consul.agent.service.maintenance({ id, enable: true, reason: 'upgrading' });
    const entries = await health(id);
    assert.equal(entries.length, 1);
    const m = entries[0]!.Checks.find((c) => c.CheckID === `_service_maintenance:${id}`);
    assert.ok(m);
    assert.equal(m.Status, 'critical');
    assert.equal(m.Name, 'Service Maintenance Mode');
    assert.equal(m.Notes, 'upgrading');
    assert.equal(m.Type, 'maintenance');
    assert.deepEqual(await health(id, '?passing'), []);
    await t.consul.agent.service.maintenance({ id, enable: false });
    assert.equal((await health(id, '?passing')).length, 1);
  });

  it('maintenance with no reason uses the default note', async (ctx) => {
    const id = uniq('maintdef');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${id}`));
    await putJson(t, '/v1/agent/service/register', { Name: id });
    assert.equal((await raw(t, 'PUT', `/v1/agent/service/maintenance/${id}?enable=true`)).status, 200);
    const m = (await agentChecks())[`_service_maintenance:${id}`];
    assert.equal(
      m?.Notes,
      'Maintenance mode is enabled for this service, but no reason was provided. This is a default message.',
    );
  });

  it('maintenance validates enable', async (ctx) => {
    const id = uniq('maintbad');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${id}`));
    await putJson(t, '/v1/agent/service/register', { Name: id });
    let r = await raw(t, 'PUT', `/v1/agent/service/maintenance/${id}`);
    assert.equal(r.status, 400);
    assert.equal(r.text, 'Missing value for enable');
    r = await raw(t, 'PUT', `/v1/agent/service/maintenance/${id}?enable=maybe`);
    assert.equal(r.status, 400);
    assert.equal(r.text, 'Invalid value for enable: "maybe"');
    r = await raw(t, 'PUT', '/v1/agent/service/maintenance/no-such-service-xyz?enable=true');
    assert.equal(r.status, 404);
  });
});

describe('checks: register and TTL updates', () => {
  it('pass / warn / fail / update move the status and set Output', async (ctx) => {
    const id = uniq('ttl');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${id}`));
    await putJson(t, '/v1/agent/service/register', { Name: id, Check: { CheckID: `${id}:ttl`, TTL: '30s' } });
    await t.consul.agent.check.pass({ id: `${id}:ttl`, note: 'all good' });
    let c = (await agentChecks())[`${id}:ttl`];
    assert.equal(c?.Status, 'passing');
    assert.equal(c.Output, 'all good');
    await t.consul.agent.check.warn(`${id}:ttl`);
    assert.equal((await agentChecks())[`${id}:ttl`]?.Status, 'warning');
    await t.consul.agent.check.fail(`${id}:ttl`);
    assert.equal((await agentChecks())[`${id}:ttl`]?.Status, 'critical');
    const r = await putJson(t, `/v1/agent/check/update/${id}:ttl`, { Status: 'passing', Output: 'updated' });
    assert.equal(r.status, 200, r.text);
    c = (await agentChecks())[`${id}:ttl`];
    assert.equal(c?.Status, 'passing');
    assert.equal(c.Output, 'updated');
  });

  it('update rejects a bad status', async (ctx) => {
    const id = uniq('upd');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${id}`));
    await putJson(t, '/v1/agent/service/register', { Name: id, Check: { CheckID: `${id}:ttl`, TTL: '30s' } });
    const r = await putJson(t, `/v1/agent/check/update/${id}:ttl`, { Status: 'fine' });
    assert.equal(r.status, 400);
    assert.equal(r.text, "Invalid check status: 'fine'");
  });

  it("truncates output longer than 4096 bytes with Consul's suffix", async (ctx) => {
    const id = uniq('long');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${id}`));
    await putJson(t, '/v1/agent/service/register', { Name: id, Check: { CheckID: `${id}:ttl`, TTL: '30s' } });
    await putJson(t, `/v1/agent/check/update/${id}:ttl`, { Status: 'passing', Output: 'x'.repeat(5000) });
    const out = (await agentChecks())[`${id}:ttl`]?.Output ?? '';
    assert.equal(out, `${'x'.repeat(4096)} ... (captured 4096 of 5000 bytes)`);
  });

  it('check/register: node-level TTL check, name required, ID defaults to Name, unknown ServiceID is 404', async (ctx) => {
    const name = uniq('nodecheck');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/check/deregister/${name}`));
    let r = await putJson(t, '/v1/agent/check/register', { Name: name, TTL: '30s' });
    assert.equal(r.status, 200, r.text);
    const c = (await agentChecks())[name];
    assert.equal(c?.Status, 'critical');
    assert.equal(c.ServiceID, '');
    r = await putJson(t, '/v1/agent/check/register', { TTL: '30s' });
    assert.equal(r.status, 400);
    assert.equal(r.text, 'Missing check name');
    r = await putJson(t, '/v1/agent/check/register', { Name: uniq('x'), TTL: '30s', ServiceID: 'no-such-service-xyz' });
    assert.equal(r.status, 404);
    assert.equal(r.text, 'ServiceID "no-such-service-xyz" does not exist');
    r = await putJson(t, '/v1/agent/check/register', { Name: uniq('x'), CheckID: 'c', TTL: '30s' });
    assert.equal(r.status, 400, 'CheckDefinition has ID, not CheckID');
    assert.equal(r.text, 'Request decode failed: json: unknown field "CheckID"');
    r = await putJson(t, '/v1/agent/check/register', { Name: uniq('x'), TTL: '30s', Status: 'fine' });
    assert.equal(r.status, 400);
    assert.equal(r.text, 'Bad check status');
  });

  it('check/register of an existing check keeps its status and output', async (ctx) => {
    const name = uniq('keep');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/check/deregister/${name}`));
    await putJson(t, '/v1/agent/check/register', { Name: name, TTL: '30s' });
    await raw(t, 'PUT', `/v1/agent/check/pass/${name}?note=up`);
    await putJson(t, '/v1/agent/check/register', { Name: name, TTL: '30s', Notes: 'again' });
    const c = (await agentChecks())[name];
    assert.equal(c?.Status, 'passing');
    assert.equal(c.Output, 'up');
    assert.equal(c.Notes, 'again');
  });

  it('pass on a non-TTL check is a 500 naming the check', async (ctx) => {
    const id = uniq('httpchk');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${id}`));
    await putJson(t, '/v1/agent/service/register', {
      Name: id,
      Check: { CheckID: `${id}:http`, HTTP: 'http://127.0.0.1:1/', Interval: '30s' },
    });
    const r = await raw(t, 'PUT', `/v1/agent/check/pass/${id}:http`);
    assert.equal(r.status, 500);
    assert.equal(r.text, `CheckID "${id}:http" does not have associated TTL`);
  });
});

describe('routing', () => {
  it('answers a wrong method with 405 and an Allow header', async () => {
    const r = await raw(t, 'GET', '/v1/agent/service/register');
    assert.equal(r.status, 405);
    assert.equal(r.text, 'method GET not allowed');
    assert.equal(r.headers.get('allow'), 'OPTIONS,PUT');
  });

  it('answers OPTIONS with 200 and the Allow header', async () => {
    const r = await raw(t, 'OPTIONS', '/v1/kv/x');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('allow'), 'OPTIONS,GET,PUT,DELETE');
  });

  it('answers an unknown /v1 path with 404', async () => {
    const r = await raw(t, 'GET', '/v1/no/such/endpoint');
    assert.equal(r.status, 404);
    assert.equal(r.text, 'Invalid URL path: not a recognized HTTP API endpoint\n');
  });

  it('sends X-Consul-Default-ACL-Policy on every response and JSON as application/json', async () => {
    const r = await raw(t, 'GET', '/v1/agent/services');
    assert.match(r.headers.get('x-consul-default-acl-policy') ?? '', /^(allow|deny)$/);
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.equal(r.headers.get('x-consul-index'), null, 'agent endpoints carry no index');
  });

  it('agent/service/:id answers 404 for an unknown ID', async () => {
    const r = await raw(t, 'GET', '/v1/agent/service/no-such-service-xyz');
    assert.equal(r.status, 404);
  });
});

describe('agent-local health and hash blocking', () => {
  it('health/service/id answers 200 / 429 / 503 with the aggregated status', async (ctx) => {
    const id = uniq('ahealth');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${id}`));
    await putJson(t, '/v1/agent/service/register', {
      Name: id,
      Check: { CheckID: `${id}:ttl`, TTL: '30s', Status: 'passing' },
    });
    let r = await raw(t, 'GET', `/v1/agent/health/service/id/${id}`);
    assert.equal(r.status, 200);
    const body = r.json<{ AggregatedStatus: string; Service: { ID: string }; Checks: { CheckID: string }[] }>();
    assert.equal(body.AggregatedStatus, 'passing');
    assert.equal(body.Service.ID, id);
    assert.ok(body.Checks.some((c) => c.CheckID === `${id}:ttl`));
    await raw(t, 'PUT', `/v1/agent/check/warn/${id}:ttl`);
    r = await raw(t, 'GET', `/v1/agent/health/service/id/${id}?format=text`);
    assert.equal(r.status, 429);
    assert.equal(r.text, 'warning');
    await raw(t, 'PUT', `/v1/agent/check/fail/${id}:ttl`);
    r = await raw(t, 'GET', `/v1/agent/health/service/name/${id}`);
    assert.equal(r.status, 503);
    assert.equal(r.json<{ AggregatedStatus: string }[]>()[0]?.AggregatedStatus, 'critical');
    r = await raw(t, 'GET', `/v1/agent/health/service/id/${id}-nope`);
    assert.equal(r.status, 404);
    assert.equal(r.json<{ AggregatedStatus: string }>().AggregatedStatus, 'critical');
    r = await raw(t, 'GET', `/v1/agent/health/service/name/${id}-nope?format=text`);
    assert.equal(r.status, 404);
    assert.equal(r.text, `ServiceName ${id}-nope Not Found`);
  });

  it('agent/service/:id blocks on ?hash until the definition changes', async (ctx) => {
    const id = uniq('hash');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${id}`));
    await putJson(t, '/v1/agent/service/register', { Name: id, Tags: ['a'] });
    const first = await raw(t, 'GET', `/v1/agent/service/${id}`);
    const hash = first.json<{ ContentHash: string }>().ContentHash;
    assert.equal(first.headers.get('x-consul-contenthash'), hash);
    let start = Date.now();
    const same = await raw(t, 'GET', `/v1/agent/service/${id}?hash=${hash}&wait=1500ms`);
    assert.ok(Date.now() - start >= 1_300);
    assert.equal(same.json<{ ContentHash: string }>().ContentHash, hash);
    start = Date.now();
    const pending = raw(t, 'GET', `/v1/agent/service/${id}?hash=${hash}&wait=60s`);
    await new Promise((r) => setTimeout(r, 200));
    await putJson(t, '/v1/agent/service/register', { Name: id, Tags: ['a', 'b'] });
    const changed = await pending;
    assert.ok(Date.now() - start < 30_000);
    assert.notEqual(changed.json<{ ContentHash: string }>().ContentHash, hash);
  });
});
