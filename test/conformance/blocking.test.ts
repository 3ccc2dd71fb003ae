// Blocking queries: index/wait semantics, wake-ups only on real changes, X-Consul-Index rules, client watches.
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

const indexOf = (r: { headers: Headers }): number => Number(r.headers.get('x-consul-index'));

async function registerTtl(name: string, status = 'passing'): Promise<void> {
  const r = await putJson(t, '/v1/agent/service/register', {
    Name: name,
    Check: { CheckID: `${name}:ttl`, TTL: '60s', Status: status },
  });
  assert.equal(r.status, 200, r.text);
}

describe('blocking queries', () => {
  it('index 0 or absent never blocks', async () => {
    const start = Date.now();
    await raw(t, 'GET', '/v1/catalog/services?index=0&wait=30s');
    await raw(t, 'GET', '/v1/catalog/services?wait=30s');
    assert.ok(Date.now() - start < 5_000);
  });

  it('wait=1ms returns the current result quickly', async () => {
    const first = await raw(t, 'GET', '/v1/catalog/services');
    const start = Date.now();
    const r = await raw(t, 'GET', `/v1/catalog/services?index=${indexOf(first)}&wait=1ms`);
    assert.equal(r.status, 200);
    assert.ok(Date.now() - start < 5_000);
    assert.equal(indexOf(r), indexOf(first));
  });

  it('a status change wakes a health watcher with a higher index', async (ctx) => {
    const name = uniq('wake');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${name}`));
    await registerTtl(name);
    const first = await raw(t, 'GET', `/v1/health/service/${name}`);
    const idx = indexOf(first);
    const start = Date.now();
    const pending = raw(t, 'GET', `/v1/health/service/${name}?index=${idx}&wait=60s`);
    await new Promise((r) => setTimeout(r, 200));
    await raw(t, 'PUT', `/v1/agent/check/fail/${name}:ttl`);
    const r = await pending;
    assert.ok(indexOf(r) > idx);
    assert.ok(Date.now() - start < 30_000);
    assert.equal(
      r.json<{ Checks: { Status: string; CheckID: string }[] }[]>()[0]!.Checks.find((c) => c.CheckID === `${name}:ttl`)
        ?.Status,
      'critical',
    );
  });

  it('an identical TTL pass does not wake watchers; the timeout returns the same index', async (ctx) => {
    const name = uniq('idem');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${name}`));
    await registerTtl(name, 'critical');
    await raw(t, 'PUT', `/v1/agent/check/pass/${name}:ttl?note=same`);
    const idx = indexOf(await raw(t, 'GET', `/v1/health/service/${name}`));
    const start = Date.now();
    const pending = raw(t, 'GET', `/v1/health/service/${name}?index=${idx}&wait=2s`);
    await new Promise((r) => setTimeout(r, 200));
    await raw(t, 'PUT', `/v1/agent/check/pass/${name}:ttl?note=same`);
    const r = await pending;
    assert.ok(Date.now() - start >= 1_800, 'returned only at the timeout');
    assert.equal(indexOf(r), idx);
  });

  it('changes to another service do not wake a service watcher', async (ctx) => {
    const a = uniq('quiet');
    const b = uniq('noisy');
    ctx.after(async () => {
      await raw(t, 'PUT', `/v1/agent/service/deregister/${a}`);
      await raw(t, 'PUT', `/v1/agent/service/deregister/${b}`);
    });
    await registerTtl(a);
    await registerTtl(b);
    const idx = indexOf(await raw(t, 'GET', `/v1/health/service/${a}`));
    const start = Date.now();
    const pending = raw(t, 'GET', `/v1/health/service/${a}?index=${idx}&wait=2s`);
    await new Promise((r) => setTimeout(r, 200));
    await raw(t, 'PUT', `/v1/agent/check/fail/${b}:ttl`);
    const r = await pending;
    assert.ok(Date.now() - start >= 1_800);
    assert.equal(indexOf(r), idx);
  });

  it('a check status change does not move the catalog/services index (it follows the services table)', async (ctx) => {
    const name = uniq('svcidx');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${name}`));
    await registerTtl(name);
    // Against a shared real agent other writers may register services meanwhile: one quiet attempt is enough.
    let before = 0;
    let unchanged = false;
    for (let attempt = 0; attempt < 5 && !unchanged; attempt++) {
      before = indexOf(await raw(t, 'GET', '/v1/catalog/services'));
      await raw(t, 'PUT', `/v1/agent/check/${attempt % 2 === 0 ? 'fail' : 'pass'}/${name}:ttl`);
      unchanged = indexOf(await raw(t, 'GET', '/v1/catalog/services')) === before;
    }
    assert.ok(unchanged, 'every status change moved the catalog/services index');
    assert.ok(indexOf(await raw(t, 'GET', `/v1/health/service/${name}`)) > before, 'the service index moved');
  });

  it('a KV write wakes a key watcher; deleting it moves the index too', async (ctx) => {
    const key = `${uniq('blk')}/k`;
    ctx.after(() => raw(t, 'DELETE', `/v1/kv/${key}`));
    await raw(t, 'PUT', `/v1/kv/${key}`, 'one');
    const idx = indexOf(await raw(t, 'GET', `/v1/kv/${key}`));
    const pending = raw(t, 'GET', `/v1/kv/${key}?index=${idx}&wait=60s`);
    await new Promise((r) => setTimeout(r, 200));
    await raw(t, 'PUT', `/v1/kv/${key}`, 'two');
    const r = await pending;
    assert.ok(indexOf(r) > idx);
    assert.equal(Buffer.from(r.json<{ Value: string }[]>()[0]!.Value, 'base64').toString(), 'two');
    const idx2 = indexOf(r);
    const gone = raw(t, 'GET', `/v1/kv/${key}?index=${idx2}&wait=60s`);
    await new Promise((r2) => setTimeout(r2, 200));
    await raw(t, 'DELETE', `/v1/kv/${key}`);
    const r3 = await gone;
    assert.equal(r3.status, 404);
    assert.ok(indexOf(r3) > idx2);
  });

  it('an index ahead of the server returns at the timeout with the current (lower) index', async () => {
    const r = await raw(t, 'GET', '/v1/catalog/services?index=18446744073709551615&wait=300ms');
    assert.equal(r.status, 200);
    assert.ok(indexOf(r) >= 1);
  });

  it('the consul client watch reports a change', async (ctx) => {
    const name = uniq('watch');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${name}`));
    await registerTtl(name);
    // The options typing is lower-case only, hence the cast.
    const watch = t.consul.watch({
      // eslint-disable-next-line @typescript-eslint/unbound-method -- consul's Watch calls it on the client itself
      method: t.consul.health.service,
      options: { service: name, passing: true } as never,
    });
    ctx.after(() => {
      watch.end();
    });
    const seen: number[] = [];
    const done = new Promise<void>((resolve, reject) => {
      watch.on('error', reject);
      watch.on('change', (data: unknown[]) => {
        seen.push(data.length);
        if (seen.length === 1) void raw(t, 'PUT', `/v1/agent/check/fail/${name}:ttl`);
        if (data.length === 0) resolve();
      });
    });
    await done;
    assert.deepEqual(seen, [1, 0]);
  });

  it('the consul client keep-alive connection survives a blocking query longer than 5 s', async (ctx) => {
    const name = uniq('keepalive');
    ctx.after(() => raw(t, 'PUT', `/v1/agent/service/deregister/${name}`));
    await t.consul.agent.service.register({ name } as never); // bundled types demand fields Consul does not
    assert.equal(((await t.consul.health.service({ service: name })) as unknown[]).length, 1);
    const idx = indexOf(await raw(t, 'GET', `/v1/health/service/${name}`));
    const start = Date.now();
    await t.consul.health.service({ service: name, index: String(idx), wait: '6s' } as never);
    assert.ok(Date.now() - start >= 5_500);
    // The same keep-alive socket is reused here; a server-side idle timeout would surface as ECONNRESET.
    const again = (await t.consul.health.service({ service: name })) as unknown[];
    assert.equal(again.length, 1);
  });
});
