// KV: values, raw, recurse, keys with separator, flags, CAS, deletes, size limit, encoded keys.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openTarget, raw, uniq, type Target } from './target.ts';

let t: Target;
before(async () => {
  t = await openTarget();
});
after(async () => {
  await t.close();
});

interface KvRow {
  Key: string;
  Value: string | null;
  Flags: number;
  LockIndex: number;
  CreateIndex: number;
  ModifyIndex: number;
  Session?: string;
}

const indexOf = (r: { headers: Headers }): number => Number(r.headers.get('x-consul-index'));

describe('KV', () => {
  it('set and get through the consul client (keys with slashes are percent-encoded by it)', async (ctx) => {
    const prefix = uniq('kvc');
    ctx.after(() => raw(t, 'DELETE', `/v1/kv/${prefix}?recurse`));
    assert.equal(await t.consul.kv.set(`${prefix}/a/x/1`, 'hello'), true);
    const got = (await t.consul.kv.get(`${prefix}/a/x/1`)) as { Key: string; Value: string };
    assert.equal(got.Key, `${prefix}/a/x/1`);
    assert.equal(got.Value, 'hello');
    assert.equal(await t.consul.kv.get(`${prefix}/missing`), undefined);
  });

  it('GET returns base64 values, null for empty, and the ModifyIndex as X-Consul-Index', async (ctx) => {
    const key = uniq('kv');
    ctx.after(async () => {
      await raw(t, 'DELETE', `/v1/kv/${key}`);
      await raw(t, 'DELETE', `/v1/kv/${key}-empty`);
    });
    assert.equal((await raw(t, 'PUT', `/v1/kv/${key}?flags=42`, 'v1')).text, 'true');
    const r = await raw(t, 'GET', `/v1/kv/${key}`);
    const [row] = r.json<KvRow[]>();
    assert.equal(row?.Key, key);
    assert.equal(row.Value, Buffer.from('v1').toString('base64'));
    assert.equal(row.Flags, 42);
    assert.equal(row.LockIndex, 0);
    assert.equal(row.Session, undefined);
    assert.equal(indexOf(r), row.ModifyIndex);
    await raw(t, 'PUT', `/v1/kv/${key}-empty`);
    assert.equal((await raw(t, 'GET', `/v1/kv/${key}-empty`)).json<KvRow[]>()[0]?.Value, null);
  });

  it('raw returns the bare value as text/plain with nosniff', async (ctx) => {
    const key = uniq('raw');
    ctx.after(() => raw(t, 'DELETE', `/v1/kv/${key}`));
    await raw(t, 'PUT', `/v1/kv/${key}`, '<b>hi</b>');
    const r = await raw(t, 'GET', `/v1/kv/${key}?raw`);
    assert.equal(r.text, '<b>hi</b>');
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  });

  it('a missing key is 404 with an empty body and an index header', async () => {
    const r = await raw(t, 'GET', `/v1/kv/${uniq('missing')}`);
    assert.equal(r.status, 404);
    assert.equal(r.text, '');
    assert.ok(indexOf(r) >= 1);
  });

  it('recurse lists sorted entries under a prefix; keys rolls up at the separator', async (ctx) => {
    const p = uniq('tree');
    ctx.after(() => raw(t, 'DELETE', `/v1/kv/${p}?recurse`));
    for (const k of ['b/2', 'a/x/1', 'a/y', 'c']) await raw(t, 'PUT', `/v1/kv/${p}/${k}`, k);
    const rec = (await raw(t, 'GET', `/v1/kv/${p}/?recurse`)).json<KvRow[]>();
    assert.deepEqual(
      rec.map((e) => e.Key),
      [`${p}/a/x/1`, `${p}/a/y`, `${p}/b/2`, `${p}/c`],
    );
    const keys = (await raw(t, 'GET', `/v1/kv/${p}/?keys&separator=/`)).json<string[]>();
    assert.deepEqual(keys, [`${p}/a/`, `${p}/b/`, `${p}/c`]);
    const all = (await raw(t, 'GET', `/v1/kv/${p}/?keys`)).json<string[]>();
    assert.equal(all.length, 4);
    const none = await raw(t, 'GET', `/v1/kv/${p}-nothing/?keys`);
    assert.equal(none.status, 404);
    const noneRec = await raw(t, 'GET', `/v1/kv/${p}-nothing/?recurse`);
    assert.equal(noneRec.status, 404);
  });

  it('cas: 0 creates only; otherwise the ModifyIndex must match', async (ctx) => {
    const key = uniq('cas');
    ctx.after(() => raw(t, 'DELETE', `/v1/kv/${key}`));
    assert.equal((await raw(t, 'PUT', `/v1/kv/${key}?cas=0`, 'a')).text, 'true');
    assert.equal((await raw(t, 'PUT', `/v1/kv/${key}?cas=0`, 'b')).text, 'false');
    const [row] = (await raw(t, 'GET', `/v1/kv/${key}`)).json<KvRow[]>();
    assert.equal((await raw(t, 'PUT', `/v1/kv/${key}?cas=${row!.ModifyIndex + 1000}`, 'c')).text, 'false');
    assert.equal((await raw(t, 'PUT', `/v1/kv/${key}?cas=${row!.ModifyIndex}`, 'd')).text, 'true');
    const [after2] = (await raw(t, 'GET', `/v1/kv/${key}`)).json<KvRow[]>();
    assert.equal(after2?.CreateIndex, row!.CreateIndex);
    assert.ok(after2.ModifyIndex > row!.ModifyIndex);
  });

  it('delete: plain, cas and recurse', async () => {
    const p = uniq('del');
    await raw(t, 'PUT', `/v1/kv/${p}/one`, '1');
    await raw(t, 'PUT', `/v1/kv/${p}/two`, '2');
    const [row] = (await raw(t, 'GET', `/v1/kv/${p}/one`)).json<KvRow[]>();
    assert.equal((await raw(t, 'DELETE', `/v1/kv/${p}/one?cas=${row!.ModifyIndex + 1000}`)).text, 'false');
    assert.equal((await raw(t, 'DELETE', `/v1/kv/${p}/one?cas=${row!.ModifyIndex}`)).text, 'true');
    assert.equal((await raw(t, 'GET', `/v1/kv/${p}/one`)).status, 404);
    assert.equal((await raw(t, 'DELETE', `/v1/kv/${p}?recurse`)).text, 'true');
    assert.equal((await raw(t, 'GET', `/v1/kv/${p}/two`)).status, 404);
    assert.equal((await raw(t, 'DELETE', `/v1/kv/${p}/never-there`)).text, 'true');
  });

  it('rejects conflicting flags, a missing key and values over 512 KiB', async () => {
    let r = await raw(t, 'PUT', `/v1/kv/${uniq('x')}?cas=0&acquire=abc`, 'v');
    assert.equal(r.status, 400);
    assert.match(r.text, /^Conflicting flags: /);
    r = await raw(t, 'PUT', '/v1/kv/', 'v');
    assert.equal(r.status, 400);
    assert.equal(r.text, 'Missing key name');
    r = await raw(t, 'GET', '/v1/kv/');
    assert.equal(r.status, 400);
    assert.equal(r.text, 'Missing key name');
    const key = uniq('big');
    r = await raw(t, 'PUT', `/v1/kv/${key}`, Buffer.alloc(512 * 1024 + 1, 1));
    assert.equal(r.status, 413);
    assert.equal((await raw(t, 'GET', `/v1/kv/${key}`)).status, 404);
    r = await raw(t, 'PUT', `/v1/kv/${key}`, Buffer.alloc(512 * 1024, 1));
    assert.equal(r.status, 200);
    await raw(t, 'DELETE', `/v1/kv/${key}`);
  });

  it('percent-decodes keys and keeps them case-sensitive', async (ctx) => {
    const p = uniq('enc');
    ctx.after(() => raw(t, 'DELETE', `/v1/kv/${p}?recurse`));
    await raw(t, 'PUT', `/v1/kv/${p}%2FA%20b`, 'upper');
    await raw(t, 'PUT', `/v1/kv/${p}/a b`, 'lower');
    const [row] = (await raw(t, 'GET', `/v1/kv/${p}/A%20b`)).json<KvRow[]>();
    assert.equal(row?.Key, `${p}/A b`);
    assert.equal(Buffer.from(row.Value ?? '', 'base64').toString(), 'upper');
  });
});
