// KV tombstones, from Consul's KV and blocking-query documentation: a delete leaves a tombstone, so the index a
// watcher of the deleted key sees moves; Consul's tombstone GC reaps tombstones after `tombstone_ttl` (15 m),
// coalesced by `tombstone_ttl_granularity` (30 s). The reap timing and the memory figure need the dev registry's
// manual clock; a real agent cannot be fast-forwarded, so those cases run only against the dev registry.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ManualClock, startDevRegistry } from '../../src/devregistry/index.ts';
import { Indexes } from '../../src/devregistry/indexes.ts';
import { KvStore, TOMBSTONE_GRANULARITY_MS, TOMBSTONE_TTL_MS } from '../../src/devregistry/kv.ts';
import { devOnly, openTarget, raw, uniq, type Target } from './target.ts';

let t: Target;
before(async () => {
  t = await openTarget();
});
after(async () => {
  await t.close();
});

const indexOf = (r: { headers: Headers }): number => Number(r.headers.get('x-consul-index'));

describe('KV tombstones', () => {
  it('deleting a key moves the index a watcher of that key sees', async (ctx) => {
    const key = uniq('tomb');
    ctx.after(() => raw(t, 'DELETE', `/v1/kv/${key}`));
    await raw(t, 'PUT', `/v1/kv/${key}`, 'v');
    const before = indexOf(await raw(t, 'GET', `/v1/kv/${key}`));
    const blocked = raw(t, 'GET', `/v1/kv/${key}?index=${before}&wait=30s`);
    await raw(t, 'DELETE', `/v1/kv/${key}`);
    const r = await blocked;
    assert.equal(r.status, 404);
    assert.ok(indexOf(r) > before, `index ${indexOf(r)} > ${before}`);
  });

  it('tombstones are reaped after tombstone_ttl, rounded up to the granularity', devOnly, async (ctx) => {
    const clock = new ManualClock(0);
    const reg = await startDevRegistry({ port: 0, clock });
    ctx.after(() => reg.close());
    const put = (k: string): Promise<Response> => fetch(`${reg.url}/v1/kv/${k}`, { method: 'PUT', body: 'v' });
    await put('dir/a');
    await put('dir/b');
    await fetch(`${reg.url}/v1/kv/dir/b`, { method: 'DELETE' });
    const withTombstone = indexOf(await fetch(`${reg.url}/v1/kv/dir/?recurse`));
    const missingKeyIndex = indexOf(await fetch(`${reg.url}/v1/kv/dir/b`));
    assert.equal(missingKeyIndex, withTombstone, 'the prefix index includes the tombstone');
    // One millisecond short of the rounded-up expiry: still there.
    const due = Math.ceil(TOMBSTONE_TTL_MS / TOMBSTONE_GRANULARITY_MS) * TOMBSTONE_GRANULARITY_MS;
    clock.advance(due - 1);
    assert.equal(indexOf(await fetch(`${reg.url}/v1/kv/dir/?recurse`)), withTombstone);
    clock.advance(1);
    const reaped = indexOf(await fetch(`${reg.url}/v1/kv/dir/?recurse`));
    assert.ok(
      reaped < withTombstone,
      `prefix index went back from ${withTombstone} to ${reaped} (Consul's documented case)`,
    );
    assert.equal(indexOf(await fetch(`${reg.url}/v1/kv/dir/b`)), missingKeyIndex, 'the table index stays');
  });

  it('memory stays flat under a write/delete churn of 100,000 keys', devOnly, (ctx) => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const clock = new ManualClock(0);
    const ix = new Indexes();
    const kv = new KvStore(ix, clock);
    ctx.after(() => {
      kv.close();
    });
    const heap = (): number => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    const value = Buffer.from('x'.repeat(64));
    const churn = (round: number): void => {
      for (let i = 0; i < 100_000; i++) {
        const key = `churn/${round}/${i}`;
        kv.set(key, value, 0n);
        kv.delete(key);
        // Spread over about 50 s of clock time, so the deletes fall into two GC slots.
        if (i % 2000 === 0) clock.advance(1000);
      }
    };
    churn(0);
    clock.advance(TOMBSTONE_TTL_MS + 2 * TOMBSTONE_GRANULARITY_MS);
    const base = heap();
    churn(1);
    const held = heap();
    assert.equal(kv.tombstoneCount, 100_000);
    clock.advance(TOMBSTONE_TTL_MS + 2 * TOMBSTONE_GRANULARITY_MS);
    assert.equal(kv.tombstoneCount, 0);
    const afterReap = heap();
    const mb = (n: number): string => (n / 1048576).toFixed(1);
    ctx.diagnostic(
      `heap: ${mb(base)} MB before, ${mb(held)} MB holding 100,000 tombstones, ${mb(afterReap)} MB after the reap`,
    );
    assert.ok(held - base > 4 * 1048576, 'the tombstones were measurable while held');
    assert.ok(afterReap - base < 2 * 1048576, `heap grew by ${mb(afterReap - base)} MB after the reap`);
  });
});
