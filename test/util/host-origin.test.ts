// The Host/Origin rules shared by the admin API, the dashboard and the metrics endpoint (src/util/host-origin.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkHostOrigin, hostOf, isAddressLiteral, isLoopbackHost } from '../../src/util/host-origin.ts';

describe('host-origin rules', () => {
  it('parses Host headers strictly: name, [v6], optional port; anything else is malformed', () => {
    assert.equal(hostOf('Example.COM:8080'), 'example.com');
    assert.equal(hostOf('127.0.0.1'), '127.0.0.1');
    assert.equal(hostOf('[::1]:7071'), '::1');
    for (const bad of ['', 'a:b', 'evil.example@127.0.0.1', 'a b', '[::1', 'x:123456', 'a/b'])
      assert.equal(hostOf(bad), undefined, bad);
  });

  it('knows loopback names and addresses, bracketed or not', () => {
    for (const h of [
      'localhost',
      'LOCALHOST',
      'app.localhost',
      '127.0.0.1',
      '127.9.9.9',
      '::1',
      '[::1]',
      '::ffff:127.0.0.1',
    ])
      assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['10.0.0.1', 'localhost.example', '::2', 'example.com', '128.0.0.1'])
      assert.equal(isLoopbackHost(h), false, h);
    assert.equal(isAddressLiteral('10.0.0.1'), true);
    assert.equal(isAddressLiteral('fe80::1'), true);
    assert.equal(isAddressLiteral('attacker.example'), false);
  });

  it('refuses a Host the rule does not accept, then an Origin that is not this Host on an allowed scheme', () => {
    const rule = { acceptHost: (n: string) => n === 'mesh.internal' || isLoopbackHost(n), schemes: ['http'] as const };
    assert.equal(checkHostOrigin({ host: 'localhost:1' }, rule), undefined);
    assert.equal(checkHostOrigin({ host: 'MESH.internal:7071' }, rule), undefined);
    assert.equal(checkHostOrigin({}, rule), 'host');
    assert.equal(checkHostOrigin({ host: 'attacker.example:7071' }, rule), 'host');
    assert.equal(checkHostOrigin({ host: 'not a host' }, rule), 'host');
    assert.equal(checkHostOrigin({ host: '127.0.0.1:7071', origin: 'http://127.0.0.1:7071' }, rule), undefined);
    assert.equal(checkHostOrigin({ host: '127.0.0.1:7071', origin: 'https://127.0.0.1:7071' }, rule), 'origin');
    assert.equal(checkHostOrigin({ host: '127.0.0.1:7071', origin: 'http://attacker.example' }, rule), 'origin');
    const both = { ...rule, schemes: ['http', 'https'] as const };
    assert.equal(checkHostOrigin({ host: '127.0.0.1:7071', origin: 'https://127.0.0.1:7071' }, both), undefined);
  });
});
