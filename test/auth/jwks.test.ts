import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTokenVerifier } from '../../src/auth/verify.ts';
import { mintToken } from '../../src/auth/mint.ts';
import { buildJwks, generateSigningKeyPair } from '../../src/auth/keys.ts';
import { createDynamicJwks, createFunctionJwks, openFileJwks } from '../../src/auth/jwks.ts';
import { createRemoteJwks } from '../../src/auth/remote-jwks.ts';
import { AuthError, ConfigError } from '../../src/errors.ts';

const claims = { sub: 'agent-1', iss: 'iss', aud: 'aud', expiresInSec: 600 } as const;

describe('key sets', () => {
  it('a JWKS file is re-read when a token names an unknown kid (rotation)', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'jwks-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'jwks.json');
    const oldKey = await generateSigningKeyPair('EdDSA', 'old');
    const newKey = await generateSigningKeyPair('EdDSA', 'new');
    await writeFile(path, JSON.stringify(buildJwks([oldKey.publicJwk])));
    const jwks = await openFileJwks(path, { cooldownMs: 0, pollMs: 0 });
    t.after(() => jwks.close());
    const verifier = createTokenVerifier({ jwks, issuer: 'iss', audience: 'aud' });
    assert.equal((await verifier.verify(await mintToken({ privateKey: oldKey.privateJwk, ...claims }))).sub, 'agent-1');
    const newToken = await mintToken({ privateKey: newKey.privateJwk, ...claims });
    await assert.rejects(verifier.verify(newToken), (e: unknown) => e instanceof AuthError && e.code === 'UNKNOWN_KEY');
    await writeFile(path, JSON.stringify(buildJwks([oldKey.publicJwk, newKey.publicJwk])));
    assert.equal((await verifier.verify(newToken)).sub, 'agent-1');
  });

  it('a JWKS file that is not a key set fails at open with ConfigError', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'jwks-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'bad.json');
    await writeFile(path, '{"nope": 1}');
    await assert.rejects(openFileJwks(path), ConfigError);
    const priv = await generateSigningKeyPair('ES256', 'p');
    await writeFile(path, JSON.stringify({ keys: [priv.privateJwk] }));
    await assert.rejects(openFileJwks(path), /public keys only/);
    await assert.rejects(openFileJwks(join(dir, 'missing.json')), ConfigError);
  });

  it('a function source reloads on an unknown kid at most once per cooldown', async () => {
    const a = await generateSigningKeyPair('ES256', 'a');
    const b = await generateSigningKeyPair('ES256', 'b');
    let current = buildJwks([a.publicJwk]);
    let loads = 0;
    let clock = 0;
    const jwks = createFunctionJwks(
      () => {
        loads++;
        return Promise.resolve(current);
      },
      { cooldownMs: 10_000, now: () => clock },
    );
    const verifier = createTokenVerifier({ jwks, issuer: 'iss', audience: 'aud' });
    const tokenB = await mintToken({ privateKey: b.privateJwk, ...claims });
    current = buildJwks([a.publicJwk]);
    clock = 20_000;
    await assert.rejects(verifier.verify(tokenB), (e: unknown) => e instanceof AuthError && e.code === 'UNKNOWN_KEY');
    const afterFirst = loads;
    current = buildJwks([a.publicJwk, b.publicJwk]);
    clock = 21_000; // inside the cooldown: no reload
    await assert.rejects(verifier.verify(tokenB), (e: unknown) => e instanceof AuthError && e.code === 'UNKNOWN_KEY');
    assert.equal(loads, afterFirst);
    clock = 40_000;
    assert.equal((await verifier.verify(tokenB)).sub, 'agent-1');
    assert.equal(loads, afterFirst + 1);
  });

  it('a dynamic source answers JWKS_UNAVAILABLE until loaded, then follows updates', async () => {
    const a = await generateSigningKeyPair('RS256', 'a');
    const jwks = createDynamicJwks();
    const verifier = createTokenVerifier({ jwks, issuer: 'iss', audience: 'aud' });
    const token = await mintToken({ privateKey: a.privateJwk, ...claims });
    await assert.rejects(
      verifier.verify(token),
      (e: unknown) => e instanceof AuthError && e.code === 'JWKS_UNAVAILABLE',
    );
    jwks.update(buildJwks([a.publicJwk]));
    assert.equal(jwks.loaded, true);
    assert.equal((await verifier.verify(token)).sub, 'agent-1');
  });

  it('a remote JWKS is fetched over HTTP', async (t) => {
    const key = await generateSigningKeyPair('EdDSA', 'remote');
    let hits = 0;
    const server = createServer((_req, res) => {
      hits++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(buildJwks([key.publicJwk])));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(
      () =>
        new Promise<void>((resolve) =>
          server.close(() => {
            resolve();
          }),
        ),
    );
    const { port } = server.address() as AddressInfo;
    const verifier = createTokenVerifier({
      jwks: createRemoteJwks(`http://127.0.0.1:${port}/jwks.json`),
      issuer: 'iss',
      audience: 'aud',
    });
    const token = await mintToken({ privateKey: key.privateJwk, ...claims });
    assert.equal((await verifier.verify(token)).sub, 'agent-1');
    assert.equal((await verifier.verify(token)).sub, 'agent-1');
    assert.equal(hits, 1);
  });
});
