import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createTokenVerifier, type TokenVerifier } from '../../src/auth/verify.ts';
import { mintToken, type MintTokenOptions } from '../../src/auth/mint.ts';
import { buildJwks, generateSigningKeyPair } from '../../src/auth/keys.ts';
import { createStaticJwks } from '../../src/auth/jwks.ts';
import { AuthError } from '../../src/errors.ts';

const NOW_MS = 1_800_000_000_000;
const now = (): number => NOW_MS;
const secret = new TextEncoder().encode('a-test-secret-of-reasonable-length!');
const base = { sub: 'agent-1', iss: 'spear-test', aud: 'spear-mesh', expiresInSec: 600, now } as const;

function hsVerifier(): TokenVerifier {
  return createTokenVerifier({ secret, issuer: 'spear-test', audience: 'spear-mesh', now, clockToleranceSec: 5 });
}

function mint(extra: Partial<MintTokenOptions> = {}): Promise<string> {
  return mintToken({ secret, ...base, ...extra });
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof AuthError, `expected AuthError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('createTokenVerifier (HS256)', () => {
  it('accepts a valid token and exposes its claims', async () => {
    const token = await mint({ scope: ['echo', 'task.*'], spearlets: ['s1'], zones: ['z1'] });
    const v = await hsVerifier().verify(token);
    assert.equal(v.sub, 'agent-1');
    assert.equal(v.exp, NOW_MS / 1000 + 600);
    assert.deepEqual(v.scope, ['echo', 'task.*']);
    assert.deepEqual(v.spearlets, ['s1']);
    assert.deepEqual(v.zones, ['z1']);
    assert.equal(v.claims.iss, 'spear-test');
  });

  it('accepts an audience array containing ours', async () => {
    const token = await mint({ aud: ['other', 'spear-mesh'] });
    assert.equal((await hsVerifier().verify(token)).sub, 'agent-1');
  });

  it('expired => TOKEN_EXPIRED', async () => {
    const token = await mint({ now: () => NOW_MS - 700_000 });
    await rejectsWith(hsVerifier().verify(token), 'TOKEN_EXPIRED');
  });

  it('exp within the clock tolerance is still accepted', async () => {
    const token = await mint({ now: () => NOW_MS - 602_000 });
    assert.equal((await hsVerifier().verify(token)).sub, 'agent-1');
  });

  it('nbf in the future => TOKEN_NOT_YET_VALID', async () => {
    await rejectsWith(hsVerifier().verify(await mint({ notBeforeSec: 60 })), 'TOKEN_NOT_YET_VALID');
  });

  it('iat in the future => TOKEN_NOT_YET_VALID', async () => {
    const token = await mint({ now: () => NOW_MS + 120_000 });
    await rejectsWith(hsVerifier().verify(token), 'TOKEN_NOT_YET_VALID');
  });

  it('wrong audience => AUDIENCE_MISMATCH', async () => {
    await rejectsWith(hsVerifier().verify(await mint({ aud: 'someone-else' })), 'AUDIENCE_MISMATCH');
  });

  it('wrong issuer => ISSUER_MISMATCH', async () => {
    await rejectsWith(hsVerifier().verify(await mint({ iss: 'evil' })), 'ISSUER_MISMATCH');
  });

  it('tampered payload => TOKEN_INVALID', async () => {
    const [h, , s] = (await mint()).split('.');
    const forged = `${h}.${b64({ sub: 'admin', iss: 'spear-test', aud: 'spear-mesh', exp: NOW_MS / 1000 + 600 })}.${s}`;
    await rejectsWith(hsVerifier().verify(forged), 'TOKEN_INVALID');
  });

  it('tampered signature => TOKEN_INVALID', async () => {
    const token = await mint();
    const last = token.at(-2) === 'A' ? 'B' : 'A';
    await rejectsWith(hsVerifier().verify(token.slice(0, -2) + last + token.slice(-1)), 'TOKEN_INVALID');
  });

  it('a token signed with another secret => TOKEN_INVALID', async () => {
    const token = await mintToken({ secret: new TextEncoder().encode('another-secret-another-secret-xx'), ...base });
    await rejectsWith(hsVerifier().verify(token), 'TOKEN_INVALID');
  });

  it('alg none => ALG_NOT_ALLOWED', async () => {
    const payload = { sub: 'agent-1', iss: 'spear-test', aud: 'spear-mesh', exp: NOW_MS / 1000 + 600 };
    const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`;
    await rejectsWith(hsVerifier().verify(token), 'ALG_NOT_ALLOWED');
  });

  it('HS512 against an HS256-pinned verifier => ALG_NOT_ALLOWED', async () => {
    const payload = { sub: 'agent-1', iss: 'spear-test', aud: 'spear-mesh', exp: NOW_MS / 1000 + 600 };
    const input = `${b64({ alg: 'HS512', typ: 'JWT' })}.${b64(payload)}`;
    const sig = createHmac('sha512', secret).update(input).digest('base64url');
    await rejectsWith(hsVerifier().verify(`${input}.${sig}`), 'ALG_NOT_ALLOWED');
  });

  it('garbage => TOKEN_INVALID', async () => {
    for (const garbage of ['not-a-jwt', 'a.b.c', '....', '', 'eyJhbGciOiJIUzI1NiJ9.%%%.xx']) {
      await rejectsWith(hsVerifier().verify(garbage), 'TOKEN_INVALID');
    }
  });

  it('missing exp => TOKEN_INVALID', async () => {
    const payload = { sub: 'agent-1', iss: 'spear-test', aud: 'spear-mesh' };
    const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`;
    const sig = createHmac('sha256', secret).update(input).digest('base64url');
    await rejectsWith(hsVerifier().verify(`${input}.${sig}`), 'TOKEN_INVALID');
  });

  it('malformed scope claim => TOKEN_INVALID', async () => {
    const payload = { sub: 'a', iss: 'spear-test', aud: 'spear-mesh', exp: NOW_MS / 1000 + 600, scope: 42 };
    const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`;
    const sig = createHmac('sha256', secret).update(input).digest('base64url');
    await rejectsWith(hsVerifier().verify(`${input}.${sig}`), 'TOKEN_INVALID');
  });

  it('rejects misuse with TypeError', () => {
    assert.throws(() => createTokenVerifier({ issuer: 'i', audience: 'a' }), TypeError);
    assert.throws(() => createTokenVerifier({ secret, issuer: 'i', audience: 'a', algorithms: ['RS256'] }), TypeError);
    assert.throws(() => createTokenVerifier({ secret, issuer: 'i', audience: 'a', algorithms: ['none'] }), TypeError);
  });
});

describe('createTokenVerifier (JWKS)', () => {
  for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
    it(`accepts an ${alg} token chosen by kid`, async () => {
      const pair = await generateSigningKeyPair(alg, `k-${alg}`);
      const other = await generateSigningKeyPair(alg, 'k-other');
      const verifier = createTokenVerifier({
        jwks: createStaticJwks(buildJwks([other.publicJwk, pair.publicJwk])),
        issuer: 'spear-test',
        audience: 'spear-mesh',
        now,
      });
      const token = await mintToken({ privateKey: pair.privateJwk, ...base });
      assert.equal((await verifier.verify(token)).sub, 'agent-1');
    });
  }

  it('HS256 token against an RS256-only verifier => ALG_NOT_ALLOWED', async () => {
    const pair = await generateSigningKeyPair('RS256', 'k1');
    const verifier = createTokenVerifier({
      jwks: createStaticJwks(buildJwks([pair.publicJwk])),
      issuer: 'spear-test',
      audience: 'spear-mesh',
      algorithms: ['RS256'],
      now,
    });
    // A classic confusion attack: HMAC keyed with the public key's bytes.
    const hmacKey = new TextEncoder().encode(JSON.stringify(pair.publicJwk));
    await rejectsWith(verifier.verify(await mintToken({ secret: hmacKey, kid: 'k1', ...base })), 'ALG_NOT_ALLOWED');
  });

  it('unknown kid => UNKNOWN_KEY', async () => {
    const known = await generateSigningKeyPair('EdDSA', 'known');
    const stranger = await generateSigningKeyPair('EdDSA', 'stranger');
    const verifier = createTokenVerifier({
      jwks: createStaticJwks(buildJwks([known.publicJwk])),
      issuer: 'spear-test',
      audience: 'spear-mesh',
      now,
    });
    await rejectsWith(verifier.verify(await mintToken({ privateKey: stranger.privateJwk, ...base })), 'UNKNOWN_KEY');
  });

  it('a key with the right kid but another key pair => TOKEN_INVALID', async () => {
    const real = await generateSigningKeyPair('ES256', 'same');
    const fake = await generateSigningKeyPair('ES256', 'same');
    const verifier = createTokenVerifier({
      jwks: createStaticJwks(buildJwks([real.publicJwk])),
      issuer: 'spear-test',
      audience: 'spear-mesh',
      now,
    });
    await rejectsWith(verifier.verify(await mintToken({ privateKey: fake.privateJwk, ...base })), 'TOKEN_INVALID');
  });
});
