import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeshConnection } from '../../src/conn/mesh-connection.ts';
import type { TlsClientOptions } from '../../src/conn/transport.ts';
import { MeshError } from '../../src/errors.ts';
import { StandInServer } from './stand-in-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'spear-tls-'));

/** A self-signed certificate (it is its own CA) for `cn`, made with the openssl CLI. */
function selfSigned(name: string, cn: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-keyout',
      key,
      '-out',
      cert,
      '-subj',
      `/CN=${cn}`,
      '-addext',
      `subjectAltName=DNS:${cn}`,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

let server: { cert: string; key: string };
let client: { cert: string; key: string };
before(() => {
  server = selfSigned('server', 'spearlet.test');
  client = selfSigned('client', 'agent.test');
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function tryConnect(
  t: { after: (fn: () => Promise<void>) => void },
  tlsOpts: TlsClientOptions,
  mutual: boolean,
): Promise<MeshConnection> {
  const s = new StandInServer({
    tls: {
      cert: readFileSync(server.cert),
      key: readFileSync(server.key),
      ...(mutual ? { requestCert: true, rejectUnauthorized: true, ca: readFileSync(client.cert) } : {}),
    },
  });
  await s.listen();
  const conn = new MeshConnection({
    spearletId: 'tls',
    target: { kind: 'tcp', host: '127.0.0.1', port: s.port, tls: tlsOpts },
    tokenProvider: () => Promise.resolve('t'),
    reconnect: false,
  });
  t.after(async () => {
    await conn.close();
    await s.close();
  });
  conn.connect();
  return conn;
}

describe('TLS transport', () => {
  it('connects when the CA and server name match', async (t) => {
    const conn = await tryConnect(t, { caFile: server.cert, servername: 'spearlet.test' }, false);
    await conn.whenReady();
    assert.equal((await conn.request('echo', Buffer.from('secure'))).toString(), 'secure');
    assert.match(conn.description, /^tls:/);
  });

  it('refuses a certificate for another name', async (t) => {
    const conn = await tryConnect(t, { caFile: server.cert, servername: 'other.test' }, false);
    await assert.rejects(conn.whenReady(), (err: unknown) => err instanceof MeshError && err.code === 'CONNECT_FAILED');
  });

  it('refuses a server signed by an unknown CA', async (t) => {
    const conn = await tryConnect(t, { caFile: client.cert, servername: 'spearlet.test' }, false);
    await assert.rejects(conn.whenReady(), (err: unknown) => err instanceof MeshError && err.code === 'CONNECT_FAILED');
  });

  it('presents a client certificate for mutual TLS', async (t) => {
    const conn = await tryConnect(
      t,
      { caFile: server.cert, servername: 'spearlet.test', certFile: client.cert, keyFile: client.key },
      true,
    );
    await conn.whenReady();
    assert.equal((await conn.request('echo', Buffer.from('mtls'))).toString(), 'mtls');
  });
});
