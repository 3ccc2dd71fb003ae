import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { TLSSocket } from 'node:tls';
import { ConfigError, RegistryUnavailableError } from '../../src/errors.ts';
import { createConsulClient } from '../../src/registry/consul-client.ts';
import { createTestPki } from '../helpers/tls.ts';

describe('ConsulClient over HTTPS', () => {
  it('trusts the CA from caFile (CONSUL_CACERT) and refuses an unknown one', async (t) => {
    const pki = await createTestPki();
    t.after(() => pki.cleanup());
    const paths: string[] = [];
    const server = createServer({ cert: pki.serverCert, key: pki.serverKey }, (req, res) => {
      paths.push(decodeURIComponent(req.url ?? ''));
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(
      () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => {
            r();
          });
        }),
    );
    const port = (server.address() as AddressInfo).port;

    const ok = createConsulClient(
      {},
      { CONSUL_HTTP_ADDR: `127.0.0.1:${port}`, CONSUL_HTTP_SSL: 'true', CONSUL_CACERT: pki.files.caCert },
    );
    t.after(() => {
      ok.close();
    });
    await ok.passCheck('spearlet:a:ttl');
    assert.deepEqual(paths, ['/v1/agent/check/pass/spearlet:a:ttl']);

    const untrusted = createConsulClient({ addr: `https://127.0.0.1:${port}`, requestTimeoutMs: 2000 }, {});
    t.after(() => {
      untrusted.close();
    });
    await assert.rejects(untrusted.passCheck('spearlet:a:ttl'), RegistryUnavailableError);
  });
});

describe('ConsulClient over HTTPS with verify_incoming (client certificates)', () => {
  it('presents CONSUL_CLIENT_CERT/KEY, verifies CONSUL_TLS_SERVER_NAME, and is refused without a certificate', async (t) => {
    const pki = await createTestPki();
    t.after(() => pki.cleanup());
    const peers: string[] = [];
    // Like a Consul agent with verify_incoming: the TLS handshake itself requires a client certificate from our CA.
    const server = createServer(
      { cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        const socket = req.socket;
        const cn = socket instanceof TLSSocket ? socket.getPeerCertificate().subject.CN : 'not-tls';
        peers.push(`${String(cn)} ${decodeURIComponent(req.url ?? '')}`);
        res.end();
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(
      () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => {
            r();
          });
        }),
    );
    const port = (server.address() as AddressInfo).port;
    const base = {
      CONSUL_HTTP_ADDR: `127.0.0.1:${port}`,
      CONSUL_HTTP_SSL: 'true',
      CONSUL_CACERT: pki.files.caCert,
    };
    const client = (env: Record<string, string>): ReturnType<typeof createConsulClient> => {
      const c = createConsulClient({ requestTimeoutMs: 5000 }, { ...base, ...env });
      t.after(() => {
        c.close();
      });
      return c;
    };

    await assert.rejects(client({}).passCheck('spearlet:a:ttl'), RegistryUnavailableError);

    const withCert = { CONSUL_CLIENT_CERT: pki.files.clientCert, CONSUL_CLIENT_KEY: pki.files.clientKey };
    await client(withCert).passCheck('spearlet:a:ttl');
    await client({ ...withCert, CONSUL_TLS_SERVER_NAME: 'localhost' }).passCheck('spearlet:b:ttl');
    assert.deepEqual(peers, [
      'agent-1 /v1/agent/check/pass/spearlet:a:ttl',
      'agent-1 /v1/agent/check/pass/spearlet:b:ttl',
    ]);

    // The server certificate names 127.0.0.1 and localhost only: another expected name must fail verification.
    await assert.rejects(
      client({ ...withCert, CONSUL_TLS_SERVER_NAME: 'server.dc1.consul' }).passCheck('spearlet:c:ttl'),
      (err: unknown) =>
        err instanceof RegistryUnavailableError &&
        /altnames|server\.dc1\.consul/i.test(String((err as Error & { cause?: unknown }).cause)),
    );
    assert.equal(peers.length, 2);
  });

  it('refuses a certificate without its key, and an unreadable file, naming the variable', () => {
    assert.throws(
      () => createConsulClient({}, { CONSUL_HTTP_SSL: 'true', CONSUL_CLIENT_CERT: '/nonexistent/cert.pem' }),
      (e: unknown) =>
        e instanceof ConfigError && e.option === 'CONSUL_CLIENT_CERT' && /CONSUL_CLIENT_KEY/.test(e.message),
    );
    assert.throws(
      () =>
        createConsulClient(
          {},
          {
            CONSUL_HTTP_SSL: 'true',
            CONSUL_CLIENT_CERT: '/nonexistent/cert.pem',
            CONSUL_CLIENT_KEY: '/nonexistent/key.pem',
          },
        ),
      (e: unknown) => e instanceof ConfigError && e.option === 'CONSUL_CLIENT_CERT' && /ENOENT/.test(e.message),
    );
  });
});
