import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MessageKind } from '../../src/wire/index.ts';
import { createTestPki, type TestPki } from '../helpers/tls.ts';
import { RawClient } from './raw-client.ts';
import { startSpearlet, tcp, token } from './fixture.ts';

describe('spearlet TLS', () => {
  let pki: TestPki;
  before(async () => {
    pki = await createTestPki();
  });
  after(() => pki.cleanup());

  it('refuses a plaintext client and serves a TLS one', async (t) => {
    const s = await startSpearlet(t, { tls: { cert: pki.serverCert, key: pki.serverKey } });
    const plain = await RawClient.connect(tcp(s));
    plain.write(Buffer.from('SPEARMS1'));
    plain.hello(await token());
    await plain.expectEnd();

    const { client, welcome } = await RawClient.open(
      { ...tcp(s), tls: { ca: pki.caCert, servername: 'localhost' } },
      await token(),
    );
    t.after(() => {
      client.destroy();
    });
    assert.equal(welcome.spearlet, 's1');
    client.request(1n, 'echo', 'secure');
    const r = await client.nextMessage();
    assert.equal(r.kind, MessageKind.RESPONSE);
    assert.match(await s.metricsText(), /spear_mesh_connections_rejected_total\{reason="tls",spearlet="s1"\} 1/);
  });

  it('mTLS refuses a client without a certificate and accepts one with', async (t) => {
    const s = await startSpearlet(t, { tls: { cert: pki.serverCert, key: pki.serverKey, clientCa: pki.caCert } });
    // TLS 1.3 reports a missing client certificate after the handshake: the connection ends with no WELCOME.
    const anon = await RawClient.connect({ ...tcp(s), tls: { ca: pki.caCert, servername: 'localhost' } }).catch(
      () => undefined,
    );
    if (anon !== undefined) {
      anon.write(Buffer.from('SPEARMS1'));
      anon.hello(await token());
      await anon.expectEnd();
    }
    const { client } = await RawClient.open(
      { ...tcp(s), tls: { ca: pki.caCert, servername: 'localhost', cert: pki.clientCert, key: pki.clientKey } },
      await token(),
    );
    client.request(1n, 'echo', 'mutual');
    assert.equal((await client.nextMessage()).kind, MessageKind.RESPONSE);
    client.destroy();
    assert.equal(s.sessions().length <= 1, true);
  });
});
