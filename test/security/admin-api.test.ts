// The admin API of a real spearlet process, attacked the way the issue found it open: no credential, a read-only
// credential on a mutating route, DNS rebinding, a cross-site form post, a non-loopback bind. Then the defence holds.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { spawnSpearlet, type SpearletChild } from '../helpers/spearlet.ts';
import { createTestPki, type TestPki } from '../helpers/tls.ts';
import { bearer, json, makeSecrets, raw, type Secrets } from './harness.ts';
import { repoPath } from '../../scripts/repo-root.ts';

const BIN = repoPath('bin/spear-mesh.js');

describe('admin API: tokens, Host and Origin checks, JSON only', () => {
  let secrets: Secrets;
  let s: SpearletChild;
  before(async () => {
    secrets = await makeSecrets();
    s = await spawnSpearlet({
      id: 'sec-admin',
      secretFile: secrets.secretFile,
      args: ['--no-consul', '--admin-read-token-file', secrets.readTokenFile],
      env: { SPEARLET_ADMIN_TOKEN_FILE: secrets.adminTokenFile },
    });
  });
  after(async () => {
    await s.stop();
    await secrets.cleanup();
  });

  it('/health and /ready stay open; everything else is 401 without the token or with a wrong one', async () => {
    assert.equal((await raw(s.admin, { path: '/health' })).status, 200);
    assert.equal((await raw(s.admin, { path: '/ready' })).status, 200);
    for (const path of ['/metrics', '/v1/info', '/v1/sessions', '/v1/tasks']) {
      const none = await raw(s.admin, { path });
      assert.deepEqual([none.status, none.code], [401, 'ADMIN_UNAUTHORIZED'], path);
      assert.match(String(none.headers['www-authenticate']), /^Bearer/);
      const wrong = await raw(s.admin, { path, headers: bearer(`${secrets.adminToken}x`) });
      assert.deepEqual([wrong.status, wrong.code], [401, 'ADMIN_UNAUTHORIZED'], path);
    }
    const drain = await raw(s.admin, { method: 'POST', path: '/v1/drain', headers: json, body: '{}' });
    assert.deepEqual([drain.status, drain.code], [401, 'ADMIN_UNAUTHORIZED']);
  });

  it('the read-only token reads; only the admin token changes anything (403)', async () => {
    for (const path of ['/metrics', '/v1/info', '/v1/sessions']) {
      assert.equal((await raw(s.admin, { path, headers: bearer(secrets.readToken) })).status, 200, path);
    }
    const drain = await raw(s.admin, {
      method: 'POST',
      path: '/v1/drain',
      headers: { ...json, ...bearer(secrets.readToken) },
      body: '{}',
    });
    assert.deepEqual([drain.status, drain.code], [403, 'ADMIN_FORBIDDEN']);
    assert.equal((await raw(s.admin, { path: '/v1/info', headers: bearer(secrets.adminToken) })).status, 200);
  });

  it('tasks are off without --enable-tasks: the RCE of the issue finds no route', async () => {
    const res = await raw(s.admin, {
      method: 'POST',
      path: '/v1/tasks',
      headers: { ...json, ...bearer(secrets.adminToken) },
      body: JSON.stringify({ command: 'sh', args: ['-c', 'id > out.txt'] }),
    });
    assert.equal(res.status, 404);
  });

  it('a Host header naming another site gets 403 (DNS rebinding), even on /health', async () => {
    for (const path of ['/health', '/v1/info']) {
      const res = await raw(s.admin, {
        path,
        headers: { host: `attacker.example:${s.admin.port}`, ...bearer(secrets.adminToken) },
      });
      assert.deepEqual([res.status, res.code], [403, 'ADMIN_FORBIDDEN'], path);
    }
    const local = await raw(s.admin, { path: '/health', headers: { host: `localhost:${s.admin.port}` } });
    assert.equal(local.status, 200);
  });

  it('a foreign Origin gets 403; the API’s own origin passes', async () => {
    const own = `http://127.0.0.1:${s.admin.port}`;
    const evil = await raw(s.admin, {
      path: '/v1/info',
      headers: { origin: 'http://attacker.example', ...bearer(secrets.adminToken) },
    });
    assert.deepEqual([evil.status, evil.code], [403, 'ADMIN_FORBIDDEN']);
    const ok = await raw(s.admin, { path: '/v1/info', headers: { origin: own, ...bearer(secrets.adminToken) } });
    assert.equal(ok.status, 200);
  });

  it('text/plain and form posts (no CORS preflight) get 415 and do nothing; the spearlet keeps running', async () => {
    for (const [type, body] of [
      ['text/plain', ''],
      ['application/x-www-form-urlencoded', 'timeoutMs=1'],
      ['multipart/form-data; boundary=x', '--x--'],
    ] as const) {
      const res = await raw(s.admin, {
        method: 'POST',
        path: '/v1/drain',
        headers: { 'content-type': type, ...bearer(secrets.adminToken) },
        body,
      });
      assert.deepEqual([res.status, res.code], [415, 'ADMIN_CONTENT_TYPE'], type);
    }
    const noType = await raw(s.admin, { method: 'POST', path: '/v1/drain', headers: bearer(secrets.adminToken) });
    assert.equal(noType.status, 415);
    assert.equal((await raw(s.admin, { path: '/ready' })).status, 200, 'not draining');
  });
});

describe('admin API: bind rules, mTLS, public metrics', () => {
  let secrets: Secrets;
  let pki: TestPki;
  const children: SpearletChild[] = [];
  before(async () => {
    secrets = await makeSecrets();
    pki = await createTestPki();
  });
  after(async () => {
    for (const c of children) await c.stop();
    await secrets.cleanup();
    await pki.cleanup();
  });

  it('a non-loopback --admin without credentials exits 2 naming the flags', async () => {
    const child = spawn(
      process.execPath,
      [BIN, 'spearlet', '--id', 'x', '--no-consul', '--issuer', 'i', '--audience', 'a', '--admin', '0.0.0.0:0'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SPEARLET_TOKEN_SECRET: 'x'.repeat(32) } },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 2, stderr);
    assert.match(stderr, /--admin: 0\.0\.0\.0 is not a loopback address.*--admin-token-file.*--admin-tls-cert/);
  });

  it('mTLS: a client certificate is the credential; probes need none; no certificate is 401', async () => {
    const s = await spawnSpearlet({
      id: 'sec-mtls',
      secretFile: secrets.secretFile,
      args: [
        '--no-consul',
        '--admin-tls-cert',
        pki.files.serverCert,
        '--admin-tls-key',
        pki.files.serverKey,
        '--admin-tls-client-ca',
        pki.files.caCert,
        '--admin-public-metrics',
      ],
    });
    children.push(s);
    const ca = pki.caCert;
    const withCert = { ca, cert: pki.clientCert, key: pki.clientKey };
    assert.equal((await raw(s.admin, { path: '/health', tls: { ca } })).status, 200);
    const none = await raw(s.admin, { path: '/v1/info', tls: { ca } });
    assert.deepEqual([none.status, none.code], [401, 'ADMIN_UNAUTHORIZED']);
    assert.equal((await raw(s.admin, { path: '/v1/info', tls: withCert })).status, 200);
    // --admin-public-metrics: scrapers without a credential read /metrics, and nothing else.
    assert.equal((await raw(s.admin, { path: '/metrics', tls: { ca } })).status, 200);
    assert.equal((await raw(s.admin, { path: '/v1/sessions', tls: { ca } })).status, 401);
  });
});
