// Sessions and locks: create/info/list/renew/destroy, acquire/release with LockIndex, behaviors and errors.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openTarget, putJson, raw, uniq, type Target } from './target.ts';

let t: Target;
before(async () => {
  t = await openTarget();
});
after(async () => {
  await t.close();
});

interface SessionJson {
  ID: string;
  Name: string;
  Node: string;
  LockDelay: number;
  Behavior: string;
  TTL: string;
  NodeChecks: string[] | null;
  CreateIndex: number;
  ModifyIndex: number;
}

async function createSession(body: unknown): Promise<string> {
  const r = await putJson(t, '/v1/session/create', body);
  assert.equal(r.status, 200, r.text);
  return r.json<{ ID: string }>().ID;
}

describe('sessions', () => {
  it('create with defaults, info, list, node, renew, destroy', async () => {
    const name = uniq('sess');
    const id = await createSession({ Name: name });
    const info = (await raw(t, 'GET', `/v1/session/info/${id}`)).json<SessionJson[]>();
    assert.equal(info.length, 1);
    const s = info[0]!;
    assert.equal(s.Name, name);
    assert.equal(s.Node, t.node);
    assert.equal(s.LockDelay, 15_000_000_000);
    assert.equal(s.Behavior, 'release');
    assert.equal(s.TTL, '');
    assert.deepEqual(s.NodeChecks, ['serfHealth']);
    assert.ok((await raw(t, 'GET', '/v1/session/list')).json<SessionJson[]>().some((x) => x.ID === id));
    assert.ok((await raw(t, 'GET', `/v1/session/node/${t.node}`)).json<SessionJson[]>().some((x) => x.ID === id));
    const renewed = await raw(t, 'PUT', `/v1/session/renew/${id}`);
    assert.equal(renewed.status, 200);
    assert.equal(renewed.json<SessionJson[]>()[0]?.ID, id);
    assert.equal((await raw(t, 'PUT', `/v1/session/destroy/${id}`)).text, 'true');
    assert.equal((await raw(t, 'PUT', `/v1/session/destroy/${id}`)).text, 'true', 'idempotent');
    assert.equal((await raw(t, 'GET', `/v1/session/info/${id}`)).text, '[]');
    const gone = await raw(t, 'PUT', `/v1/session/renew/${id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.text, `Session id '${id}' not found`);
  });

  it('through the consul client', async () => {
    const created = await t.consul.session.create({ name: uniq('c'), ttl: '30s' }); // typed fields are lower-case only
    const info = (await t.consul.session.info(created.ID)) as SessionJson;
    assert.equal(info.TTL, '30s');
    await t.consul.session.destroy(created.ID);
  });

  it("rejects bad Behavior and TTL with Consul's errors", async () => {
    let r = await putJson(t, '/v1/session/create', { Behavior: 'explode' });
    assert.equal(r.status, 500);
    assert.match(r.text, /Invalid Behavior setting 'explode'/);
    r = await putJson(t, '/v1/session/create', { TTL: '5s' });
    assert.equal(r.status, 500);
    assert.match(r.text, /Invalid Session TTL '5000000000', must be between \[10s=24h0m0s\]/);
    r = await putJson(t, '/v1/session/create', { TTL: 'soon' });
    assert.equal(r.status, 500);
    assert.match(r.text, /Session TTL 'soon' invalid: /);
  });

  it('acquire and release: LockIndex counts new holders; another session cannot take a held lock', async (ctx) => {
    const key = uniq('lock');
    const a = await createSession({ Name: 'a', LockDelay: '0s' });
    const b = await createSession({ Name: 'b', LockDelay: '0s' });
    ctx.after(async () => {
      await raw(t, 'PUT', `/v1/session/destroy/${a}`);
      await raw(t, 'PUT', `/v1/session/destroy/${b}`);
      await raw(t, 'DELETE', `/v1/kv/${key}`);
    });
    assert.equal((await raw(t, 'PUT', `/v1/kv/${key}?acquire=${a}`, 'held by a')).text, 'true');
    let row = (await raw(t, 'GET', `/v1/kv/${key}`)).json<{ LockIndex: number; Session?: string }[]>()[0]!;
    assert.equal(row.LockIndex, 1);
    assert.equal(row.Session, a);
    assert.equal((await raw(t, 'PUT', `/v1/kv/${key}?acquire=${a}`, 'again')).text, 'true', 'same holder keeps it');
    assert.equal((await raw(t, 'GET', `/v1/kv/${key}`)).json<{ LockIndex: number }[]>()[0]!.LockIndex, 1);
    assert.equal((await raw(t, 'PUT', `/v1/kv/${key}?acquire=${b}`, 'b')).text, 'false');
    assert.equal((await raw(t, 'PUT', `/v1/kv/${key}?release=${b}`)).text, 'false', 'only the holder releases');
    assert.equal((await raw(t, 'PUT', `/v1/kv/${key}?release=${a}`, 'free')).text, 'true');
    row = (await raw(t, 'GET', `/v1/kv/${key}`)).json<{ LockIndex: number; Session?: string }[]>()[0]!;
    assert.equal(row.Session, undefined);
    assert.equal(row.LockIndex, 1);
    assert.equal((await raw(t, 'PUT', `/v1/kv/${key}?acquire=${b}`, 'b')).text, 'true');
    assert.equal((await raw(t, 'GET', `/v1/kv/${key}`)).json<{ LockIndex: number }[]>()[0]!.LockIndex, 2);
  });

  it('destroying a session releases its locks (behavior release) or deletes them (behavior delete)', async () => {
    const k1 = uniq('rel');
    const k2 = uniq('delk');
    const rel = await createSession({ LockDelay: '0s' });
    const del = await createSession({ LockDelay: '0s', Behavior: 'delete' });
    await raw(t, 'PUT', `/v1/kv/${k1}?acquire=${rel}`, 'x');
    await raw(t, 'PUT', `/v1/kv/${k2}?acquire=${del}`, 'y');
    await raw(t, 'PUT', `/v1/session/destroy/${rel}`);
    await raw(t, 'PUT', `/v1/session/destroy/${del}`);
    const row = (await raw(t, 'GET', `/v1/kv/${k1}`)).json<{ Session?: string }[]>()[0]!;
    assert.equal(row.Session, undefined);
    assert.equal((await raw(t, 'GET', `/v1/kv/${k2}`)).status, 404);
    await raw(t, 'DELETE', `/v1/kv/${k1}`);
  });

  it('acquire with an unknown session is an error', async () => {
    const r = await raw(t, 'PUT', `/v1/kv/${uniq('nosess')}?acquire=00000000-0000-0000-0000-000000000000`, 'x');
    assert.equal(r.status, 500);
    assert.match(r.text, /invalid session/);
  });

  it('a session tied to a critical check cannot be created', async (ctx) => {
    const name = uniq('critsess');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/check/deregister/${name}`));
    await putJson(t, '/v1/agent/check/register', { Name: name, TTL: '30s' });
    const r = await putJson(t, '/v1/session/create', { NodeChecks: ['serfHealth', name] });
    assert.equal(r.status, 500);
    assert.match(r.text, /is in critical state/);
  });

  it('a linked check turning critical invalidates the session', async (ctx) => {
    const name = uniq('linked');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/check/deregister/${name}`));
    await putJson(t, '/v1/agent/check/register', { Name: name, TTL: '30s', Status: 'passing' });
    const id = await createSession({ NodeChecks: ['serfHealth', name] });
    await raw(t, 'PUT', `/v1/agent/check/fail/${name}`);
    const deadline = Date.now() + 10_000;
    while ((await raw(t, 'GET', `/v1/session/info/${id}`)).text !== '[]') {
      assert.ok(Date.now() < deadline, 'session still alive');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  it('LockDelay below 1000 means seconds, strings included; a unitless string is a decode error', async () => {
    const id = await createSession({ LockDelay: '20ns' });
    const info = (await raw(t, 'GET', `/v1/session/info/${id}`)).json<SessionJson[]>();
    assert.equal(info[0]?.LockDelay, 20_000_000_000);
    await raw(t, 'PUT', `/v1/session/destroy/${id}`);
    const r = await putJson(t, '/v1/session/create', { LockDelay: '20' });
    assert.equal(r.status, 400);
    assert.equal(r.text, 'Request decode failed: time: missing unit in duration "20"');
    const u = await putJson(t, '/v1/session/create', { Bogus: true });
    assert.equal(u.status, 400);
    assert.equal(u.text, 'Request decode failed: json: unknown field "Bogus"');
  });

  it('an explicit empty legacy Checks list creates a session tied to no check', async () => {
    const id = await createSession({ Checks: [] });
    const info = (await raw(t, 'GET', `/v1/session/info/${id}`)).json<SessionJson[]>();
    assert.ok(info[0]?.NodeChecks === null || info[0]?.NodeChecks.length === 0);
    await raw(t, 'PUT', `/v1/session/destroy/${id}`);
  });

  it('missing IDs are 400', async () => {
    assert.equal((await raw(t, 'PUT', '/v1/session/destroy/')).status, 400);
    assert.equal((await raw(t, 'GET', '/v1/session/info/')).status, 400);
  });
});
