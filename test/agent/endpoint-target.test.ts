import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isLocalAddress, transportTargetFor } from '../../src/agent/endpoint-target.ts';
import type { Endpoint } from '../../src/discovery/endpoint.ts';

const ep = (extra: Partial<Endpoint>): Endpoint => ({
  id: 's1',
  serviceId: 'spearlet-s1',
  address: '127.0.0.1',
  port: 7000,
  tls: false,
  tags: [],
  meta: {},
  ...extra,
});

describe('transportTargetFor', () => {
  it('uses the Unix socket of a spearlet on this host, TCP otherwise or when told not to', () => {
    assert.deepEqual(
      transportTargetFor(ep({ socketPath: '/run/s1.sock' }), { preferUnixSocket: true, tls: undefined }),
      {
        kind: 'unix',
        path: '/run/s1.sock',
      },
    );
    assert.deepEqual(
      transportTargetFor(ep({ address: '10.20.30.40', socketPath: '/run/s1.sock' }), {
        preferUnixSocket: true,
        tls: undefined,
      }),
      { kind: 'tcp', host: '10.20.30.40', port: 7000 },
    );
    assert.deepEqual(
      transportTargetFor(ep({ socketPath: '/run/s1.sock' }), { preferUnixSocket: false, tls: undefined }),
      {
        kind: 'tcp',
        host: '127.0.0.1',
        port: 7000,
      },
    );
    // a socket-only endpoint (port 0) has no TCP to fall back to
    assert.deepEqual(
      transportTargetFor(ep({ address: '', port: 0, socketPath: '/run/s1.sock' }), {
        preferUnixSocket: false,
        tls: undefined,
      }),
      { kind: 'unix', path: '/run/s1.sock' },
    );
  });

  it('adds TLS for spearlets that advertise it, with the client CA and the advertised or configured server name', () => {
    const tls = { caFile: '/etc/spear/ca.pem' };
    assert.deepEqual(
      transportTargetFor(ep({ tls: true, meta: { tls_servername: 's1.mesh' } }), { preferUnixSocket: true, tls }),
      {
        kind: 'tcp',
        host: '127.0.0.1',
        port: 7000,
        tls: { caFile: '/etc/spear/ca.pem', servername: 's1.mesh' },
      },
    );
    assert.deepEqual(
      transportTargetFor(ep({ tls: true }), { preferUnixSocket: true, tls: { ...tls, servername: 'fixed.mesh' } }),
      { kind: 'tcp', host: '127.0.0.1', port: 7000, tls: { caFile: '/etc/spear/ca.pem', servername: 'fixed.mesh' } },
    );
    assert.deepEqual(transportTargetFor(ep({}), { preferUnixSocket: true, tls }), {
      kind: 'tcp',
      host: '127.0.0.1',
      port: 7000,
    });
  });

  it('knows loopback and empty addresses as local', () => {
    assert.equal(isLocalAddress('127.0.0.1'), true);
    assert.equal(isLocalAddress('::1'), true);
    assert.equal(isLocalAddress('localhost'), true);
    assert.equal(isLocalAddress(''), true);
    assert.equal(isLocalAddress('192.0.2.77'), false);
  });
});
