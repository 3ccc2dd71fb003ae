// A spearlet process whose keys come from a URL: http:// needs an explicit flag, /ready waits for a valid key set,
// a broken key server is asked once per cooldown, and a hanging one yields JWKS_UNAVAILABLE, not HANDSHAKE_TIMEOUT.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildJwks, generateSigningKeyPair } from '../../src/auth/keys.ts';
import { mintToken } from '../../src/auth/mint.ts';
import { MESH_MAGIC, MessageKind, parseJsonPayload } from '../../src/wire/index.ts';
import { spawnSpearlet, TEST_AUDIENCE, TEST_ISSUER, type SpearletChild } from '../helpers/spearlet.ts';
import { RawClient } from '../spearlet/raw-client.ts';
import { repoPath } from '../../scripts/repo-root.ts';

const BIN = repoPath('bin/spear-mesh.js');

async function keyServer(answer: (res: import('node:http').ServerResponse) => void): Promise<{
  url: string;
  hits: () => number;
  server: Server;
}> {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    answer(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/jwks.json`, hits: () => hits, server };
}

async function helloCode(s: SpearletChild, token: string): Promise<string> {
  const c = await RawClient.connect(s.tcp);
  try {
    c.write(MESH_MAGIC);
    c.hello(token);
    const msg = await c.nextMessage(20_000);
    if (msg.kind === MessageKind.WELCOME) return 'WELCOME';
    return 'payload' in msg ? String(parseJsonPayload(msg.payload, 'ERROR').code) : `kind ${msg.kind}`;
  } finally {
    c.destroy();
  }
}

describe('JWKS from a URL', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  const serve = async (answer: (res: import('node:http').ServerResponse) => void) => {
    const k = await keyServer(answer);
    cleanups.push(
      () =>
        new Promise((r) => {
          k.server.closeAllConnections();
          k.server.close(r);
        }),
    );
    return k;
  };
  const spearlet = async (id: string, url: string) => {
    const s = await spawnSpearlet({ id, args: ['--no-consul', '--jwks', url, '--jwks-allow-insecure-http'] });
    cleanups.push(() => s.stop());
    return s;
  };

  it('refuses --jwks http:// without --jwks-allow-insecure-http (exit 2)', async () => {
    const child = spawn(
      process.execPath,
      [
        BIN,
        'spearlet',
        '--id',
        'x',
        '--no-consul',
        '--issuer',
        'i',
        '--audience',
        'a',
        '--jwks',
        'http://127.0.0.1:1/k',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    assert.equal(await new Promise((resolve) => child.once('exit', resolve)), 2);
    assert.match(stderr, /--jwks: .*--jwks-allow-insecure-http/);
  });

  it('a key server serving garbage: /ready 503, 20 HELLOs cost 1 fetch and answer JWKS_UNAVAILABLE', async () => {
    const k = await serve((res) => res.end('this is not a key set'));
    const s = await spearlet('jwks-garbage', k.url);
    const ready = await fetch(`${s.adminUrl}/ready`);
    assert.equal(ready.status, 503);
    assert.match(JSON.stringify(await ready.json()), /jwks: no valid key set yet/);
    const pair = await generateSigningKeyPair('ES256', 'k1');
    const token = await mintToken({
      privateKey: pair.privateJwk,
      sub: 'a',
      iss: TEST_ISSUER,
      aud: TEST_AUDIENCE,
      expiresInSec: 600,
    });
    const codes = await Promise.all(Array.from({ length: 20 }, () => helloCode(s, token)));
    assert.deepEqual(new Set(codes), new Set(['JWKS_UNAVAILABLE']));
    assert.equal(k.hits(), 1, 'one fetch per cooldown, not one per HELLO');
    assert.match(s.stderr(), /JWKS fetch failed/);
  });

  it('a hanging key server answers JWKS_UNAVAILABLE, not HANDSHAKE_TIMEOUT', async () => {
    const k = await serve(() => undefined); // never answers
    const s = await spearlet('jwks-hang', k.url);
    const pair = await generateSigningKeyPair('ES256', 'k1');
    const token = await mintToken({
      privateKey: pair.privateJwk,
      sub: 'a',
      iss: TEST_ISSUER,
      aud: TEST_AUDIENCE,
      expiresInSec: 600,
    });
    assert.equal(await helloCode(s, token), 'JWKS_UNAVAILABLE');
  });

  it('a valid key set makes the spearlet ready and verifies tokens', async () => {
    const pair = await generateSigningKeyPair('ES256', 'k1');
    const body = JSON.stringify(buildJwks([pair.publicJwk]));
    const k = await serve((res) => res.setHeader('content-type', 'application/json').end(body));
    const s = await spearlet('jwks-good', k.url);
    const until = Date.now() + 20_000;
    while ((await fetch(`${s.adminUrl}/ready`)).status !== 200) {
      assert.ok(Date.now() < until, '/ready never became 200');
      await new Promise((r) => setTimeout(r, 50));
    }
    const token = await mintToken({
      privateKey: pair.privateJwk,
      sub: 'a',
      iss: TEST_ISSUER,
      aud: TEST_AUDIENCE,
      expiresInSec: 600,
    });
    assert.equal(await helloCode(s, token), 'WELCOME');
  });
});
