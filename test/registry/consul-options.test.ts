import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.ts';
import { resolveConsulOptions } from '../../src/registry/consul-options.ts';

describe('resolveConsulOptions', () => {
  it('defaults to the local agent over http', () => {
    const o = resolveConsulOptions({}, {});
    assert.equal(o.addr, 'http://127.0.0.1:8500');
    assert.equal(o.ssl, false);
    assert.equal(o.token, undefined);
    assert.ok(Object.isFrozen(o));
  });

  it('reads the standard CONSUL_HTTP_* environment, treating empty values as unset', () => {
    const env = {
      CONSUL_HTTP_ADDR: 'consul.local:8501',
      CONSUL_HTTP_TOKEN: 'tok',
      CONSUL_HTTP_SSL: 'true',
      CONSUL_CACERT: '/etc/ca.pem',
    };
    assert.deepEqual(
      { ...resolveConsulOptions({}, env) },
      {
        addr: 'https://consul.local:8501',
        ssl: true,
        token: 'tok',
        caFile: '/etc/ca.pem',
        requestTimeoutMs: 10_000,
      },
    );
    assert.equal(
      resolveConsulOptions({}, { CONSUL_HTTP_ADDR: '', CONSUL_HTTP_TOKEN: '' }).addr,
      'http://127.0.0.1:8500',
    );
  });

  it('reads the client certificate, key and TLS server name (CONSUL_CLIENT_CERT, _KEY, CONSUL_TLS_SERVER_NAME)', () => {
    const o = resolveConsulOptions(
      {},
      {
        CONSUL_HTTP_ADDR: 'https://10.0.0.5:8501',
        CONSUL_CLIENT_CERT: '/etc/consul/cli.pem',
        CONSUL_CLIENT_KEY: '/etc/consul/cli-key.pem',
        CONSUL_TLS_SERVER_NAME: 'server.dc1.consul',
      },
    );
    assert.equal(o.certFile, '/etc/consul/cli.pem');
    assert.equal(o.keyFile, '/etc/consul/cli-key.pem');
    assert.equal(o.tlsServerName, 'server.dc1.consul');
    assert.equal(
      resolveConsulOptions({ tlsServerName: 'x.consul' }, { CONSUL_TLS_SERVER_NAME: 'y' }).tlsServerName,
      'x.consul',
    );
  });

  it('lets explicit options win over the environment', () => {
    const o = resolveConsulOptions(
      { addr: 'http://10.0.0.2:8500', token: 'mine', ssl: false },
      { CONSUL_HTTP_ADDR: 'x:1', CONSUL_HTTP_TOKEN: 'env', CONSUL_HTTP_SSL: '1' },
    );
    assert.equal(o.addr, 'http://10.0.0.2:8500');
    assert.equal(o.token, 'mine');
  });

  it('never falls back to http when TLS was asked for, and keeps unix sockets and IPv6', () => {
    assert.equal(resolveConsulOptions({ addr: 'http://h:8500', ssl: true }, {}).addr, 'https://h:8500');
    assert.equal(resolveConsulOptions({ addr: 'https://h' }, {}).addr, 'https://h:443');
    assert.equal(resolveConsulOptions({ addr: '[::1]:8500' }, {}).addr, 'http://[::1]:8500');
    assert.equal(resolveConsulOptions({ addr: 'unix:///run/consul.sock' }, {}).addr, 'unix:///run/consul.sock');
  });

  it('rejects bad values with a ConfigError naming the option', () => {
    const cases: [Parameters<typeof resolveConsulOptions>, string][] = [
      [[{}, { CONSUL_HTTP_SSL: 'yes' }], 'CONSUL_HTTP_SSL'],
      [[{}, { CONSUL_HTTP_ADDR: 'ftp://h:1' }], 'CONSUL_HTTP_ADDR'],
      [[{ addr: 'http://h:8500/v1' }, {}], 'consul.addr'],
      [[{ addr: 'h:99999' }, {}], 'consul.addr'],
      [[{ token: 'has space' }, {}], 'consul.token'],
      [[{}, { CONSUL_HTTP_TOKEN: 'bad\ntoken' }], 'CONSUL_HTTP_TOKEN'],
      [[{ requestTimeoutMs: 0 }, {}], 'consul.requestTimeoutMs'],
      [[{ datacenter: 'dc 1' }, {}], 'consul.datacenter'],
      [[{ adress: 'x' } as never, {}], 'consul.adress'],
      [[{}, { CONSUL_CLIENT_KEY: '/k.pem' }], 'CONSUL_CLIENT_KEY'],
      [[{ certFile: '/c.pem' }, {}], 'consul.certFile'],
      [[{}, { CONSUL_TLS_SERVER_NAME: 'bad name' }], 'CONSUL_TLS_SERVER_NAME'],
    ];
    for (const [args, option] of cases) {
      assert.throws(
        () => resolveConsulOptions(...args),
        (e: unknown) => e instanceof ConfigError && e.option === option,
        option,
      );
    }
  });

  it('never puts the token in an error message', () => {
    try {
      resolveConsulOptions({ token: 'super secret' }, {});
      assert.fail('expected a ConfigError');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.doesNotMatch(e.message, /super/);
    }
  });
});
