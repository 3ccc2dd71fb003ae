import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.ts';
import { StaticResolver, parseStaticEndpoint } from '../../src/discovery/static-resolver.ts';
import type { ResolverState } from '../../src/discovery/resolver.ts';

describe('StaticResolver', () => {
  it('parses host:port, [v6]:port and unix:/path', () => {
    assert.deepEqual(
      { ...parseStaticEndpoint('127.0.0.1:7000') },
      {
        id: '127.0.0.1:7000',
        serviceId: '127.0.0.1:7000',
        address: '127.0.0.1',
        port: 7000,
        tls: false,
        tags: [],
        meta: {},
      },
    );
    assert.equal(parseStaticEndpoint('[::1]:7001').address, '::1');
    const u = parseStaticEndpoint('unix:/tmp/s.sock');
    assert.equal(u.socketPath, '/tmp/s.sock');
    assert.equal(parseStaticEndpoint('unix:///tmp/s.sock').socketPath, '/tmp/s.sock');
    for (const bad of ['', 'host', 'host:0', 'host:70000', 'unix:rel.sock', '::1:80']) {
      assert.throws(() => parseStaticEndpoint(bad), ConfigError, bad);
    }
  });

  it('publishes its list on start, synchronously, once', async () => {
    const r = new StaticResolver(['b:2', 'a:1']);
    const states: ResolverState[] = [];
    let updates = 0;
    r.on('state', (s) => states.push(s));
    r.on('update', () => updates++);
    assert.equal(r.state, 'idle');
    assert.equal(r.current().length, 0);
    r.start();
    r.start();
    assert.equal(r.state, 'ready');
    assert.deepEqual(
      r.current().map((e) => e.id),
      ['a:1', 'b:2'],
    );
    assert.equal(updates, 1);
    await r.close();
    await r.close();
    assert.deepEqual(states, ['ready', 'closed']);
  });

  it('accepts endpoint objects and freezes them', () => {
    const r = new StaticResolver([
      {
        id: 's1',
        serviceId: 'spearlet-s1',
        address: '10.0.0.1',
        port: 7000,
        tls: true,
        tags: ['x'],
        meta: { zone: 'a' },
        zone: 'a',
      },
    ]);
    r.start();
    const [e] = r.current();
    assert.ok(Object.isFrozen(e) && Object.isFrozen(e!.tags) && Object.isFrozen(e!.meta));
    assert.equal(e!.zone, 'a');
  });
});
