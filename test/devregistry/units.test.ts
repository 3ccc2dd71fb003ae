// Pure pieces of the dev registry: Go durations, query parsing, body decoding, filters, query timeouts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatGoDuration, parseGoDuration } from '../../src/devregistry/duration.ts';
import { GoQuery, parseGoBool, parseQueryMeta, parseUint64 } from '../../src/devregistry/query.ts';
import { DecodeError, decodeBody } from '../../src/devregistry/decode.ts';
import { SERVICE_DEFINITION } from '../../src/devregistry/schemas.ts';
import { applyFilter, compileFilter } from '../../src/devregistry/filter.ts';
import { queryTimeoutMs } from '../../src/devregistry/blocking.ts';
import { HttpError } from '../../src/devregistry/http-error.ts';
import { encodeJson } from '../../src/devregistry/render.ts';

describe('Go durations', () => {
  it('parses what time.ParseDuration accepts', () => {
    assert.equal(parseGoDuration('10s'), 10e9);
    assert.equal(parseGoDuration('1.5h'), 5400e9);
    assert.equal(parseGoDuration('1h2m3s'), 3723e9);
    assert.equal(parseGoDuration('250ms'), 250e6);
    assert.equal(parseGoDuration('3us'), 3000);
    assert.equal(parseGoDuration('3µs'), 3000);
    assert.equal(parseGoDuration('0'), 0);
    assert.equal(parseGoDuration('-5s'), -5e9);
    assert.equal(parseGoDuration('.5s'), 5e8);
  });

  it("rejects what Go rejects, with Go's messages", () => {
    assert.throws(() => parseGoDuration('abc'), { message: 'time: invalid duration "abc"' });
    assert.throws(() => parseGoDuration('10'), { message: 'time: missing unit in duration "10"' });
    assert.throws(() => parseGoDuration('1d'), { message: 'time: unknown unit "d" in duration "1d"' });
    assert.throws(() => parseGoDuration(''), { message: 'time: invalid duration ""' });
    assert.throws(() => parseGoDuration('99999999999h'), { message: 'time: invalid duration "99999999999h"' });
  });

  it('formats like Duration.String()', () => {
    assert.equal(formatGoDuration(0), '0s');
    assert.equal(formatGoDuration(10e9), '10s');
    assert.equal(formatGoDuration(60e9), '1m0s');
    assert.equal(formatGoDuration(24 * 3600e9), '24h0m0s');
    assert.equal(formatGoDuration(1.5e6), '1.5ms');
    assert.equal(formatGoDuration(1500), '1.5µs');
    assert.equal(formatGoDuration(90.5e9), '1m30.5s');
  });

  it('format then parse is the identity for whole milliseconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 24 * 3600 * 1000 }), (ms) => {
        assert.equal(parseGoDuration(formatGoDuration(ms * 1e6)), ms * 1e6);
      }),
    );
  });
});

describe('query strings', () => {
  it("follows Go's url.ParseQuery: flags, repeats, + as space, bad escapes dropped", () => {
    const q = new GoQuery('passing&tag=a&tag=b+c&bad=%zz&x=%41');
    assert.equal(q.has('passing'), true);
    assert.equal(q.get('passing'), '');
    assert.deepEqual(q.getAll('tag'), ['a', 'b c']);
    assert.equal(q.has('bad'), false);
    assert.equal(q.valid, false);
    assert.equal(new GoQuery('a=1&b').valid, true);
    assert.equal(q.get('x'), 'A');
    assert.equal(new GoQuery('b=2&a=1&a=0').encode(), 'a=1&a=0&b=2');
  });

  it('parses bools and uint64 like strconv', () => {
    assert.equal(parseGoBool('T'), true);
    assert.equal(parseGoBool('0'), false);
    assert.equal(parseGoBool('yes'), undefined);
    assert.equal(parseUint64('18446744073709551615'), 18446744073709551615n);
    assert.equal(parseUint64('18446744073709551616'), undefined);
    assert.equal(parseUint64('-1'), undefined);
    assert.equal(parseUint64('+1'), undefined);
  });

  it("parses blocking parameters with Consul's errors", () => {
    assert.deepEqual(parseQueryMeta(new GoQuery('index=5&wait=2s&stale')), {
      consistency: 'stale',
      minIndex: 5n,
      waitMs: 2000,
      dc: '',
    });
    assert.throws(
      () => parseQueryMeta(new GoQuery('wait=5')),
      (e: unknown) => e instanceof HttpError && e.message === 'Invalid wait time',
    );
    assert.throws(
      () => parseQueryMeta(new GoQuery('index=x')),
      (e: unknown) => e instanceof HttpError && e.message === 'Invalid index',
    );
  });

  it('applies the default, the cap and at most wait/16 of jitter', () => {
    assert.equal(
      queryTimeoutMs(0, () => 0),
      300_000,
    );
    assert.equal(
      queryTimeoutMs(-5, () => 0),
      300_000,
    );
    assert.equal(
      queryTimeoutMs(3_600_000, () => 0),
      600_000,
    );
    assert.ok(queryTimeoutMs(16_000, () => 0.999999) < 17_000);
    assert.equal(
      queryTimeoutMs(1, () => 0.5),
      1,
    );
  });
});

describe('body decoding', () => {
  const decode = (s: string): Record<string, unknown> => decodeBody(Buffer.from(s), SERVICE_DEFINITION);
  it('matches keys case-insensitively and accepts aliases', () => {
    const d = decode(
      '{"name":"a","TAGS":["x"],"enable_tag_override":true,"check":{"ttl":"5s","deregister_critical_service_after":90000000000}}',
    );
    assert.equal(d.Name, 'a');
    assert.deepEqual(d.Tags, ['x']);
    assert.equal(d.EnableTagOverride, true);
    assert.deepEqual(d.Check, { TTL: 5e9, DeregisterCriticalServiceAfter: 9e10 });
  });
  it("reports Go's errors", () => {
    assert.throws(
      () => decode(''),
      (e: unknown) => e instanceof DecodeError && e.message === 'EOF',
    );
    assert.throws(() => decode('{"Nope":1}'), { message: 'json: unknown field "Nope"' });
    assert.throws(() => decode('{"Port":"1"}'), {
      message: 'json: cannot unmarshal string into Go struct field ServiceDefinition.Port of type int',
    });
    assert.throws(() => decode('{"Check":{"TTL":true}}'), {
      message: 'json: cannot unmarshal bool into Go struct field ServiceDefinition.Check.TTL of type time.Duration',
    });
    assert.throws(() => decode('{"Name": "a"'), { message: 'unexpected EOF' });
    assert.throws(() => decode('"str"'), {
      message: 'json: cannot unmarshal string into Go value of type structs.ServiceDefinition',
    });
  });
  it('treats null as absent', () => {
    assert.deepEqual(decode('{"Name":"a","Tags":null,"Check":null}'), { Name: 'a' });
  });
});

describe('filter expressions', () => {
  const items = [
    { Service: { ID: 'a', Tags: ['gpu', 'x'], Meta: { version: '2', zone: 'eu' }, Port: 80 } },
    { Service: { ID: 'b', Tags: [], Meta: { version: '1' }, Port: 81 } },
  ];
  const ids = (expr: string): string[] => applyFilter(expr, items).map((i) => i.Service.ID);
  it('evaluates the supported operators', () => {
    assert.deepEqual(ids('Service.Meta.version == "2"'), ['a']);
    assert.deepEqual(ids('Service.Meta["version"] != "2"'), ['b']);
    assert.deepEqual(ids('"gpu" in Service.Tags'), ['a']);
    assert.deepEqual(ids('"gpu" not in Service.Tags'), ['b']);
    assert.deepEqual(ids('Service.Tags contains "x"'), ['a']);
    assert.deepEqual(ids('Service.Tags is empty'), ['b']);
    assert.deepEqual(ids('Service.Tags is not empty'), ['a']);
    assert.deepEqual(ids('Service.ID matches "^[ab]$" and not (Service.Port == 81)'), ['a']);
    assert.deepEqual(ids('Service.Port == 81 or Service.Meta.zone == eu'), ['a', 'b']);
    assert.deepEqual(ids('zone in Service.Meta'), ['a']);
    assert.deepEqual(ids(''), ['a', 'b']);
    const withChecks = [
      {
        ID: 'x',
        Checks: [
          { CheckID: 'serfHealth', Status: 'passing' },
          { CheckID: 's', Status: 'critical' },
        ],
      },
      { ID: 'y', Checks: [{ CheckID: 'serfHealth', Status: 'passing' }] },
    ];
    assert.deepEqual(
      applyFilter('Checks.Status == critical', withChecks).map((i) => i.ID),
      ['x'],
    );
    assert.deepEqual(
      applyFilter('Checks.Status != critical', withChecks).map((i) => i.ID),
      ['y'],
    );
    assert.deepEqual(
      applyFilter('Checks.CheckID contains "serf"', withChecks).map((i) => i.ID),
      ['x', 'y'],
    );
  });
  it("rejects bad syntax with Consul's 500 prefix", () => {
    for (const bad of ['foo', 'Service.ID ==', '(Service.ID == "a"', 'Service.ID = "a"', '"unterminated']) {
      assert.throws(
        () => compileFilter(bad),
        (e: unknown) =>
          e instanceof HttpError &&
          e.status === 500 &&
          e.message.startsWith('Failed to create boolean expression evaluator: '),
        bad,
      );
    }
  });
});

describe('JSON encoding', () => {
  it('escapes HTML characters like Go and prints uint64 flags as numbers', () => {
    assert.equal(
      encodeJson({ a: '<&>', f: 18446744073709551615n }, false),
      '{"a":"\\u003c\\u0026\\u003e","f":18446744073709551615}',
    );
    assert.equal(encodeJson([1], true), '[\n    1\n]\n');
  });
});
