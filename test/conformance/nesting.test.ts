// Deeply nested input: JSON bodies and `filter` expressions are refused with a 400 before they cost real work.
// Against a real Consul the body cases hold too (Go's decoder rejects an array where a struct belongs, also 400);
// the 64-level limits themselves are the dev registry's own (Consul has none this low) and run only against it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { devOnly, openTarget, raw, type Target } from './target.ts';

let t: Target;
before(async () => {
  t = await openTarget();
});
after(async () => {
  await t.close();
});

const nested = (depth: number, inner = '1'): string => '['.repeat(depth) + inner + ']'.repeat(depth);

describe('nesting limits', () => {
  it('an 8 MB body of nested [ is a 400 at once, and the server keeps answering', async () => {
    const body = Buffer.alloc(8_000_000, '[');
    const started = performance.now();
    const r = await raw(t, 'PUT', '/v1/agent/service/register', body);
    const tookMs = performance.now() - started;
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /^Request decode failed: /);
    if (t.isDev) {
      assert.equal(r.text, 'Request decode failed: json: nested deeper than 64 levels');
      // Refused by a byte scan, not a parse: generous bound for a loaded 2-core machine (a parse took 7 s).
      assert.ok(tookMs < 3000, `took ${tookMs.toFixed(0)} ms`);
    }
    assert.equal((await raw(t, 'GET', '/v1/status/leader')).status, 200);
  });

  it('65 levels inside a field are refused; 64 reach the decoder (dev registry limit)', devOnly, async () => {
    const deep = await raw(t, 'PUT', '/v1/agent/service/register', `{"Meta":${nested(64)}}`);
    assert.equal(deep.status, 400);
    assert.equal(deep.text, 'Request decode failed: json: nested deeper than 64 levels');
    const ok = await raw(t, 'PUT', '/v1/agent/service/register', `{"Meta":${nested(63)}}`);
    assert.equal(ok.status, 400);
    assert.match(ok.text, /cannot unmarshal array into Go struct field/);
  });

  it('brackets inside strings do not count', devOnly, async () => {
    const name = '['.repeat(200);
    const r = await raw(t, 'PUT', '/v1/agent/check/register', JSON.stringify({ Name: name, TTL: '10s', ID: 'nest-x' }));
    assert.equal(r.status, 200, r.text);
    await raw(t, 'PUT', '/v1/agent/check/deregister/nest-x');
  });

  it('a filter nested 65 levels is a 400, not a stack overflow (dev registry limit)', devOnly, async () => {
    const expr = `${'('.repeat(65)}Service == "x"${')'.repeat(65)}`;
    const r = await raw(t, 'GET', `/v1/catalog/service/consul?filter=${encodeURIComponent(expr)}`);
    assert.equal(r.status, 400);
    assert.equal(r.text, 'Failed to create boolean expression evaluator: filter nested deeper than 64 levels');
    const nots = `${'not '.repeat(5000)}Service == "x"`;
    const r2 = await raw(t, 'GET', `/v1/catalog/service/consul?filter=${encodeURIComponent(nots)}`);
    assert.equal(r2.status, 400);
  });

  it('a filter nested 64 levels, and a long and-chain, still work', async () => {
    const expr = `${'('.repeat(64)}ServiceName == "consul"${')'.repeat(64)}`;
    const r = await raw(t, 'GET', `/v1/catalog/service/consul?filter=${encodeURIComponent(expr)}`);
    assert.equal(r.status, 200, r.text);
    const chain = Array.from({ length: 300 }, () => 'ServiceName == "consul"').join(' and ');
    const r2 = await raw(t, 'GET', `/v1/catalog/service/consul?filter=${encodeURIComponent(chain)}`);
    assert.equal(r2.status, 200, r2.text);
  });
});
