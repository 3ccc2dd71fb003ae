// Random requests never crash or hang the registry; indexes stay monotonic and never 0; many watchers wake at once.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';
import { startTestRegistry, type DevRegistry } from '../helpers/dev-registry.ts';

interface Raw {
  status: number;
  index: number;
  text: string;
}

/** A raw request with node:http, so malformed paths go out byte for byte. */
function send(reg: DevRegistry, agent: Agent, method: string, path: string, body?: Buffer): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: reg.port, method, path, agent, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          index: Number(res.headers['x-consul-index'] ?? 0),
          text: Buffer.concat(chunks).toString(),
        });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.on('error', reject);
    req.end(body);
  });
}

const segment = fc.oneof(
  fc.constantFrom(
    'v1',
    'agent',
    'service',
    'register',
    'deregister',
    'check',
    'pass',
    'update',
    'health',
    'catalog',
    'kv',
    'session',
    'create',
    'info',
    'status',
    'leader',
    'services',
    'maintenance',
    'state',
    'any',
    'node',
    'x',
  ),
  fc.stringMatching(/^[A-Za-z0-9%._~-]{0,8}$/),
);
const queryPart = fc.oneof(
  fc.constantFrom(
    'index=1',
    'index=-1',
    'index=99999999999999999999',
    'wait=1ms',
    'wait=2x',
    'passing',
    'recurse',
    'keys',
    'raw',
    'cas=0',
    'acquire=a',
    'flags=1',
    'filter=a%20%3D%3D',
    'stale',
    'consistent',
    'tag=a',
    'dc=dc2',
    'pretty',
    '%zz',
    'a;b',
  ),
  fc.stringMatching(/^[A-Za-z0-9=%&+-]{0,10}$/),
);
const bodies = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom(
    '{}',
    '{"Name":"x","Check":{"TTL":"1s"}}',
    '{"Name":1}',
    '[',
    'null',
    '{"Status":"passing"}',
    '{"LockDelay":"5s"}',
  ),
  fc.string({ maxLength: 40 }),
);

describe('robustness', () => {
  it('answers every random request with an HTTP status and keeps serving', async () => {
    await using reg = await startTestRegistry();
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('GET', 'PUT', 'DELETE', 'POST', 'OPTIONS', 'PATCH'),
          fc.array(segment, { minLength: 1, maxLength: 5 }),
          fc.array(queryPart, { maxLength: 4 }),
          bodies,
          async (method, segs, query, body) => {
            const path = `/${segs.join('/')}${query.length > 0 ? `?${query.join('&')}` : ''}`;
            const r = await send(reg, agent, method, path, body === undefined ? undefined : Buffer.from(body));
            assert.ok(r.status >= 200 && r.status < 600, `${method} ${path} -> ${r.status}`);
            if (r.status === 500) assert.notEqual(r.text, 'Internal Server Error');
          },
        ),
        { numRuns: 300 },
      );
      const leader = await send(reg, agent, 'GET', '/v1/status/leader');
      assert.equal(leader.status, 200);
    } finally {
      agent.destroy();
    }
  });

  it('answers unparseable requests like Go (400, close) and a malformed path with exactly one response', async () => {
    await using reg = await startTestRegistry();
    const exchange = (bytes: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = connect(reg.port, '127.0.0.1', () => s.write(bytes));
        let got = '';
        s.on('data', (c: Buffer) => (got += c.toString()));
        s.on('close', () => {
          resolve(got);
        });
        s.on('error', reject);
        s.setTimeout(10_000, () => s.destroy());
      });
    for (const bytes of ['GARBAGE\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n']) {
      assert.match(await exchange(bytes), /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*\r\n\r\n400 Bad Request$/);
    }
    const chunked = await exchange(
      'GET /%/v1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
    );
    assert.equal(chunked.match(/HTTP\/1\.1 /g)?.length, 1, chunked);
  });

  it('X-Consul-Index never goes to 0 nor backwards across random writes, and identical writes do not move it', async () => {
    await using reg = await startTestRegistry();
    const agent = new Agent({ keepAlive: true, maxSockets: 2 });
    try {
      const ops = fc.array(
        fc.oneof(
          fc.record({
            op: fc.constant('reg' as const),
            n: fc.integer({ min: 0, max: 2 }),
            tag: fc.constantFrom('a', 'b'),
          }),
          fc.record({
            op: fc.constant('pass' as const),
            n: fc.integer({ min: 0, max: 2 }),
            note: fc.constantFrom('', 'x'),
          }),
          fc.record({ op: fc.constant('fail' as const), n: fc.integer({ min: 0, max: 2 }) }),
          fc.record({ op: fc.constant('dereg' as const), n: fc.integer({ min: 0, max: 2 }) }),
        ),
        { maxLength: 25 },
      );
      await fc.assert(
        fc.asyncProperty(ops, async (list) => {
          let last = (await send(reg, agent, 'GET', '/v1/health/service/web')).index;
          for (const o of list) {
            const id = `web-${o.n}`;
            if (o.op === 'reg')
              await send(
                reg,
                agent,
                'PUT',
                '/v1/agent/service/register',
                Buffer.from(
                  JSON.stringify({ Name: 'web', ID: id, Tags: [o.tag], Check: { CheckID: `${id}:ttl`, TTL: '1h' } }),
                ),
              );
            if (o.op === 'pass') await send(reg, agent, 'PUT', `/v1/agent/check/pass/${id}:ttl?note=${o.note}`);
            if (o.op === 'fail') await send(reg, agent, 'PUT', `/v1/agent/check/fail/${id}:ttl`);
            if (o.op === 'dereg') await send(reg, agent, 'PUT', `/v1/agent/service/deregister/${id}`);
            const before = (await send(reg, agent, 'GET', '/v1/health/service/web')).index;
            assert.ok(before >= 1);
            assert.ok(before >= last, `index went back from ${last} to ${before}`);
            // Repeating a pass with the same note is a no-op for the catalog.
            if (o.op === 'pass') {
              await send(reg, agent, 'PUT', `/v1/agent/check/pass/${id}:ttl?note=${o.note}`);
              assert.equal((await send(reg, agent, 'GET', '/v1/health/service/web')).index, before);
            }
            last = before;
          }
        }),
        { numRuns: 40 },
      );
    } finally {
      agent.destroy();
    }
  });

  it('wakes 200 blocked watchers of one service on one change', async () => {
    await using reg = await startTestRegistry();
    const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
    try {
      await send(
        reg,
        agent,
        'PUT',
        '/v1/agent/service/register',
        Buffer.from(JSON.stringify({ Name: 'many', Check: { CheckID: 'many:ttl', TTL: '1h', Status: 'passing' } })),
      );
      const idx = (await send(reg, agent, 'GET', '/v1/health/service/many')).index;
      const watchers = Array.from({ length: 200 }, () =>
        send(reg, agent, 'GET', `/v1/health/service/many?index=${idx}&wait=60s`),
      );
      const deadline = Date.now() + 30_000;
      while (reg.waiting < 200) {
        assert.ok(Date.now() < deadline, 'watchers did not block');
        await new Promise((r) => setTimeout(r, 10));
      }
      const start = Date.now();
      await send(reg, agent, 'PUT', '/v1/agent/check/fail/many:ttl');
      const answers = await Promise.all(watchers);
      assert.ok(Date.now() - start < 10_000, 'watchers took too long');
      assert.ok(answers.every((a) => a.status === 200 && a.index > idx));
      assert.equal(new Set(answers.map((a) => a.text)).size, 1, 'everyone saw the same answer');
      assert.equal(reg.waiting, 0);
    } finally {
      agent.destroy();
    }
  });
});
