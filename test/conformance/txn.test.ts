// PUT /v1/txn, KV operations, from Consul's Transactions API documentation
// (https://developer.hashicorp.com/consul/api-docs/txn) and its txn endpoint's error texts.
// Only checked against the documentation and Consul's source, not a live agent here: the exact `What` texts,
// the lock-delay refusal, and the 413 texts. Node, Service and Check operations are not implemented by the dev
// registry (the last case shows its answer) and are skipped against a real Consul.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { devOnly, openTarget, putJson, raw, uniq, type Target } from './target.ts';

let t: Target;
before(async () => {
  t = await openTarget();
});
after(async () => {
  await t.close();
});

interface KvResult {
  KV: {
    Key: string;
    Value: string | null;
    Flags: number;
    LockIndex: number;
    Session?: string;
    CreateIndex: number;
    ModifyIndex: number;
  };
}
interface TxnReply {
  Results: KvResult[] | null;
  Errors: { OpIndex: number; What: string }[] | null;
}

/** The consul client's `transaction.create(operations)`; its bundled types wrongly want `{ operations }`. */
const txn = (ops: unknown[]): Promise<TxnReply> =>
  (t.consul.transaction as unknown as { create(ops: unknown[]): Promise<TxnReply> }).create(ops);

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const kvOp = (Verb: string, Key: string, extra: Record<string, unknown> = {}): { KV: Record<string, unknown> } => ({
  KV: { Verb, Key, ...extra },
});

async function kvGet(key: string): Promise<{ status: number; index: number; value?: string }> {
  const r = await raw(t, 'GET', `/v1/kv/${key}`);
  const index = Number(r.headers.get('x-consul-index'));
  if (r.status !== 200) return { status: r.status, index };
  const [row] = r.json<{ Value: string | null }[]>();
  return { status: 200, index, value: row?.Value == null ? '' : Buffer.from(row.Value, 'base64').toString() };
}

describe('txn (KV)', () => {
  it('applies sets through the consul client at one index; write results carry no Value', async (ctx) => {
    const p = uniq('txn');
    ctx.after(() => raw(t, 'DELETE', `/v1/kv/${p}?recurse`));
    const reply = await txn([
      kvOp('set', `${p}/a`, { Value: b64('one'), Flags: 7 }),
      kvOp('set', `${p}/b`, { Value: b64('two') }),
      kvOp('get', `${p}/a`),
    ]);
    assert.equal(reply.Errors, null);
    const results = reply.Results ?? [];
    assert.equal(results.length, 3);
    const [a, b, got] = results.map((r) => r.KV);
    assert.equal(a?.Key, `${p}/a`);
    assert.equal(a.Value, null);
    assert.equal(a.Flags, 7);
    assert.equal(a.ModifyIndex, b?.ModifyIndex, 'one index for the whole transaction');
    assert.equal(a.CreateIndex, a.ModifyIndex);
    assert.equal(got?.Value, b64('one'), 'a get returns the value');
    assert.equal(got.ModifyIndex, a.ModifyIndex, 'a get sees the earlier set of the same transaction');
    const after = await kvGet(`${p}/b`);
    assert.equal(after.value, 'two');
    assert.equal(after.index, a.ModifyIndex);
  });

  it('a failing operation rolls back every other one: 409 with Errors, Results null', async (ctx) => {
    const p = uniq('txn');
    ctx.after(() => raw(t, 'DELETE', `/v1/kv/${p}?recurse`));
    await raw(t, 'PUT', `/v1/kv/${p}/exists`, 'x');
    const r = await putJson(t, '/v1/txn', [
      kvOp('set', `${p}/new`, { Value: b64('v') }),
      kvOp('check-not-exists', `${p}/exists`),
      kvOp('get', `${p}/missing`),
    ]);
    assert.equal(r.status, 409, r.text);
    assert.match(r.headers.get('content-type') ?? '', /application\/json/);
    const body = r.json<TxnReply>();
    assert.equal(body.Results, null);
    assert.deepEqual(body.Errors, [
      { OpIndex: 1, What: `key "${p}/exists" exists` },
      { OpIndex: 2, What: `key "${p}/missing" doesn't exist` },
    ]);
    assert.equal((await kvGet(`${p}/new`)).status, 404, 'the set was not applied');
  });

  it('cas, check-index, delete-cas and their stale-index errors', async (ctx) => {
    const p = uniq('txn');
    ctx.after(() => raw(t, 'DELETE', `/v1/kv/${p}?recurse`));
    const created = await txn([kvOp('cas', `${p}/k`, { Value: b64('1'), Index: 0 })]);
    const idx = created.Results?.[0]?.KV.ModifyIndex ?? 0;
    assert.ok(idx > 0);
    const again = await putJson(t, '/v1/txn', [kvOp('cas', `${p}/k`, { Value: b64('2'), Index: 0 })]);
    assert.equal(again.status, 409);
    assert.equal(again.json<TxnReply>().Errors?.[0]?.What, `failed to set key "${p}/k", index is stale`);
    const stale = await putJson(t, '/v1/txn', [kvOp('check-index', `${p}/k`, { Index: idx + 1000 })]);
    assert.equal(stale.status, 409);
    assert.equal(
      stale.json<TxnReply>().Errors?.[0]?.What,
      `failed index check for key "${p}/k", current modify index ${idx} != ${idx + 1000}`,
    );
    const ok = await txn([
      kvOp('check-index', `${p}/k`, { Index: idx }),
      kvOp('cas', `${p}/k`, { Value: b64('2'), Index: idx }),
    ]);
    const idx2 = ok.Results?.[1]?.KV.ModifyIndex ?? 0;
    assert.equal(ok.Results?.[0]?.KV.Value, null, 'check-index returns the entry without its value');
    assert.ok(idx2 > idx);
    const badDelete = await putJson(t, '/v1/txn', [kvOp('delete-cas', `${p}/k`, { Index: idx })]);
    assert.equal(badDelete.status, 409);
    assert.equal(badDelete.json<TxnReply>().Errors?.[0]?.What, `failed to delete key "${p}/k", index is stale`);
    const del = await txn([kvOp('delete-cas', `${p}/k`, { Index: idx2 })]);
    assert.equal(del.Errors, null);
    assert.equal((await kvGet(`${p}/k`)).status, 404);
  });

  it('get-tree lists a prefix with values; delete and delete-tree remove keys', async (ctx) => {
    const p = uniq('txn');
    ctx.after(() => raw(t, 'DELETE', `/v1/kv/${p}?recurse`));
    for (const k of ['a', 'b/1', 'b/2']) await raw(t, 'PUT', `/v1/kv/${p}/${k}`, k);
    const tree = await txn([kvOp('get-tree', `${p}/b/`)]);
    assert.deepEqual(
      tree.Results?.map((r) => [r.KV.Key, r.KV.Value]),
      [
        [`${p}/b/1`, b64('b/1')],
        [`${p}/b/2`, b64('b/2')],
      ],
    );
    await txn([kvOp('delete-tree', `${p}/b/`), kvOp('delete', `${p}/a`)]);
    const left = await raw(t, 'GET', `/v1/kv/${p}?recurse`);
    assert.equal(left.status, 404);
  });

  it('lock, check-session and unlock with a session', async (ctx) => {
    const p = uniq('txn');
    const s = (await putJson(t, '/v1/session/create', { Name: p })).json<{ ID: string }>().ID;
    ctx.after(async () => {
      await raw(t, 'PUT', `/v1/session/destroy/${s}`);
      await raw(t, 'DELETE', `/v1/kv/${p}?recurse`);
    });
    const locked = await txn([kvOp('lock', `${p}/l`, { Value: b64('held'), Session: s })]);
    assert.equal(locked.Results?.[0]?.KV.LockIndex, 1);
    assert.equal(locked.Results[0].KV.Session, s);
    const check = await txn([kvOp('check-session', `${p}/l`, { Session: s })]);
    assert.equal(check.Results?.[0]?.KV.Session, s);
    const other = await putJson(t, '/v1/txn', [kvOp('check-session', `${p}/l`, { Session: '' })]);
    assert.equal(other.status, 409);
    assert.equal(
      other.json<TxnReply>().Errors?.[0]?.What,
      `failed session check for key "${p}/l", current session "${s}" != ""`,
    );
    const noSession = await putJson(t, '/v1/txn', [kvOp('lock', `${p}/l`, {})]);
    assert.equal(noSession.json<TxnReply>().Errors?.[0]?.What, 'missing session');
    const unlocked = await txn([kvOp('unlock', `${p}/l`, { Session: s })]);
    assert.equal(unlocked.Results?.[0]?.KV.Session, undefined);
    assert.equal(unlocked.Results?.[0]?.KV.LockIndex, 1);
    const again = await putJson(t, '/v1/txn', [kvOp('unlock', `${p}/l`, { Session: s })]);
    assert.equal(
      again.json<TxnReply>().Errors?.[0]?.What,
      `failed to unlock key "${p}/l", lock isn't held, or is held by another session`,
    );
  });

  it('a lock during a lock-delay is refused by the pre-check', async (ctx) => {
    const p = uniq('txn');
    const s1 = (await putJson(t, '/v1/session/create', { Name: p, LockDelay: '15s' })).json<{ ID: string }>().ID;
    const s2 = (await putJson(t, '/v1/session/create', { Name: p })).json<{ ID: string }>().ID;
    ctx.after(async () => {
      await raw(t, 'PUT', `/v1/session/destroy/${s2}`);
      await raw(t, 'DELETE', `/v1/kv/${p}?recurse`);
    });
    await txn([kvOp('lock', `${p}/l`, { Session: s1 })]);
    await raw(t, 'PUT', `/v1/session/destroy/${s1}`);
    const r = await putJson(t, '/v1/txn', [kvOp('lock', `${p}/l`, { Session: s2 })]);
    assert.equal(r.status, 409);
    assert.deepEqual(r.json<TxnReply>().Errors, [
      { OpIndex: 0, What: `failed to lock key "${p}/l" due to lock delay` },
    ]);
  });

  it('an unknown verb and an empty key are operation errors', async () => {
    const r = await putJson(t, '/v1/txn', [kvOp('frobnicate', 'x'), kvOp('get', '')]);
    assert.equal(r.status, 409);
    const errs = r.json<TxnReply>().Errors ?? [];
    // Consul's pre-check (empty key) runs before the state store (unknown verb), and stops there.
    assert.deepEqual(errs, [{ OpIndex: 1, What: 'Must provide key' }]);
    const r2 = await putJson(t, '/v1/txn', [kvOp('frobnicate', 'x')]);
    assert.deepEqual(r2.json<TxnReply>().Errors, [{ OpIndex: 0, What: 'unknown KV verb "frobnicate"' }]);
  });

  it('more than 64 operations is 413', async () => {
    const ops = Array.from({ length: 65 }, (_, i) => kvOp('get', `x${i}`));
    const r = await putJson(t, '/v1/txn', ops);
    assert.equal(r.status, 413);
    assert.equal(r.text, 'Transaction contains too many operations (65 > 64)');
  });

  it('a body above 512 KiB is 413; a malformed body is 400 "Failed to parse body"', async () => {
    const big = JSON.stringify([kvOp('set', 'big', { Value: 'A'.repeat(600 * 1024) })]);
    const r = await raw(t, 'PUT', '/v1/txn', big);
    assert.equal(r.status, 413);
    assert.equal(r.text, 'Request body too large, max size: 524288 bytes');
    const bad = await raw(t, 'PUT', '/v1/txn', '{"KV":1}');
    assert.equal(bad.status, 400);
    assert.match(bad.text, /^Failed to parse body: /);
    const badB64 = await putJson(t, '/v1/txn', [kvOp('set', 'k', { Value: 'not base64!' })]);
    assert.equal(badB64.status, 400);
    assert.match(badB64.text, /^Failed to parse body: illegal base64 data at input byte \d+$/);
  });

  it('only PUT is allowed', async () => {
    const r = await raw(t, 'GET', '/v1/txn');
    assert.equal(r.status, 405);
  });

  it('Node, Service and Check operations are refused, nothing applied (dev registry)', devOnly, async () => {
    const p = uniq('txn');
    const r = await putJson(t, '/v1/txn', [
      kvOp('set', `${p}/x`, { Value: b64('v') }),
      { Node: { Verb: 'get', Node: { Node: t.node } } },
    ]);
    assert.equal(r.status, 409);
    assert.deepEqual(r.json<TxnReply>().Errors, [
      { OpIndex: 1, What: 'Node operations are not supported by the dev registry' },
    ]);
    assert.equal((await kvGet(`${p}/x`)).status, 404);
  });
});
