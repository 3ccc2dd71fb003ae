// Hostile or broken requests get Consul's error, promptly: never a crash, never a hang.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openTarget, raw, type Target } from './target.ts';

let t: Target;
before(async () => {
  t = await openTarget();
});
after(async () => {
  await t.close();
});

describe('bad input', () => {
  const cases: [string, string, number, string | RegExp][] = [
    ['negative index', '/v1/catalog/services?index=-1', 400, 'Invalid index'],
    ['overflowing index', '/v1/catalog/services?index=18446744073709551616', 400, 'Invalid index'],
    ['non-numeric index', '/v1/health/service/x?index=abc', 400, 'Invalid index'],
    ['wait in days', '/v1/catalog/services?index=1&wait=1d', 400, 'Invalid wait time'],
    ['wait without unit', '/v1/catalog/services?index=1&wait=10', 400, 'Invalid wait time'],
    [
      'stale with consistent',
      '/v1/catalog/services?stale&consistent',
      400,
      'Cannot specify ?stale with ?consistent, conflicting semantics.',
    ],
    ['non-numeric flags', '/v1/kv/x?flags=abc', 500, /^strconv.ParseUint: parsing "abc": invalid syntax$/],
  ];
  for (const [what, path, status, text] of cases) {
    it(`${what}: ${status}`, async () => {
      const method = path.startsWith('/v1/kv/') ? 'PUT' : 'GET';
      const r = await raw(t, method, path, method === 'PUT' ? 'v' : undefined);
      assert.equal(r.status, status, r.text);
      if (typeof text === 'string') assert.equal(r.text, text);
      else assert.match(r.text, text);
    });
  }

  it('invalid percent-encoding in the path is 400 Bad Request', async () => {
    const r = await raw(t, 'GET', '/v1/kv/bad%zzkey');
    assert.equal(r.status, 400);
  });

  it("invalid percent-encoding in the query is an empty 500 (url.ParseQuery fails in Consul's wrapper)", async () => {
    const r = await raw(t, 'GET', '/v1/catalog/services?index=%zz');
    assert.equal(r.status, 500);
    assert.equal(r.text, '');
  });

  it('a semicolon in the query is an empty 500 too', async () => {
    const r = await raw(t, 'GET', '/v1/catalog/services?a=1;b=2');
    assert.equal(r.status, 500);
  });

  it('an unprintable character in the path is an empty 400', async () => {
    const r = await raw(t, 'GET', '/v1/kv/bad%00key');
    assert.equal(r.status, 400);
    assert.equal(r.text, '');
  });

  it('a path outside /v1/ is a 404 with a hint', async () => {
    const r = await raw(t, 'GET', '/v2/kv/x');
    assert.equal(r.status, 404);
    assert.equal(r.text, "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'\n");
  });

  it('a truncated JSON body is a decode error', async () => {
    const r = await raw(t, 'PUT', '/v1/agent/check/register', '{"Name":"x","TTL":');
    assert.equal(r.status, 400);
    assert.match(r.text, /^Request decode failed: /);
  });

  it('a JSON array where an object belongs is a decode error', async () => {
    const r = await raw(t, 'PUT', '/v1/agent/service/register', '[1,2]');
    assert.equal(r.status, 400);
    assert.match(r.text, /^Request decode failed: json: cannot unmarshal array into Go value of type /);
  });

  it('a body with an odd content type is still decoded', async () => {
    const r = await raw(t, 'PUT', '/v1/agent/service/register', '{"Bogus":1}', {
      'Content-Type': 'application/x-whatever',
    });
    assert.equal(r.status, 400);
    assert.equal(r.text, 'Request decode failed: json: unknown field "Bogus"');
  });

  it('a malformed content type is ignored too', async () => {
    const r = await raw(t, 'PUT', '/v1/agent/service/register', '{"Bogus":1}', {
      'Content-Type': 'not a media type///',
    });
    assert.equal(r.status, 400);
    assert.equal(r.text, 'Request decode failed: json: unknown field "Bogus"');
  });

  it('the server still answers after all of the above', async () => {
    const r = await raw(t, 'GET', '/v1/status/leader');
    assert.equal(r.status, 200);
  });
});
