import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { RegistryUnavailableError } from '../../src/errors.ts';
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
