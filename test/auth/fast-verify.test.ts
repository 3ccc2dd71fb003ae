// Differential tests: the node:crypto fast path of createTokenVerifier gives the same verdict (claims, or the error
// code) as the jose-only verifier on random and adversarial tokens, for HS* secrets and EdDSA/ES256/RS256 key sets.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import type { JSONWebKeySet, JWK } from 'jose';
import { createFastPath } from '../../src/auth/fast-verify.ts';
import { createStaticJwks } from '../../src/auth/jwks.ts';
import {
  createJoseTokenVerifier,
  createTokenVerifier,
  type TokenVerifier,
  type TokenVerifierOptions,
} from '../../src/auth/verify.ts';
import { AuthError } from '../../src/errors.ts';

/** Not a whole second, so the floor jose applies to "now" matters at the exp/nbf edges. */
const NOW_MS = 1_800_000_000_600;
const NOW_SEC = Math.floor(NOW_MS / 1000);
const TOL = 5;
const ISS = 'spear-test';
const AUD = 'spear-mesh';
const secret = Buffer.from('a-test-secret-of-reasonable-length!');
const otherSecret = Buffer.from('another-secret-of-reasonable-length');

interface Pair {
  readonly pub: KeyObject;
  readonly priv: KeyObject;
}
const ed = (): Pair => {
  const k = generateKeyPairSync('ed25519');
  return { pub: k.publicKey, priv: k.privateKey };
};
const edA = ed();
const edB = ed();
const edStranger = ed();
const ecKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ec: Pair = { pub: ecKeys.publicKey, priv: ecKeys.privateKey };
const rsaKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsa: Pair = { pub: rsaKeys.publicKey, priv: rsaKeys.privateKey };

const jwk = (p: Pair, alg: string, kid: string): JWK => ({
  ...(p.pub.export({ format: 'jwk' }) as JWK),
  alg,
  kid,
  use: 'sig',
});
const JWKS: JSONWebKeySet = {
  keys: [jwk(edA, 'EdDSA', 'ed-a'), jwk(edB, 'EdDSA', 'ed-b'), jwk(ec, 'ES256', 'ec'), jwk(rsa, 'RS256', 'rsa')],
};

const common = { issuer: ISS, audience: AUD, now: () => NOW_MS, clockToleranceSec: TOL };
const hsOptions: TokenVerifierOptions = { ...common, secret, algorithms: ['HS256', 'HS384'] };
const jwksOptions: TokenVerifierOptions = { ...common, jwks: createStaticJwks(JWKS) };

type Verdict = { ok: true; value: unknown } | { ok: false; code: string };

async function verdict(v: TokenVerifier, token: string): Promise<Verdict> {
  try {
    return { ok: true, value: await v.verify(token) };
  } catch (err) {
    assert.ok(err instanceof AuthError, `every failure is an AuthError, got ${String(err)}`);
    return { ok: false, code: err.code };
  }
}

// ---- token construction ---------------------------------------------------------------------------------------

const b64 = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64url');
const MISSING = Symbol('missing');

/** Header texts that no JSON.stringify of an object produces. */
const RAW_HEADERS = [
  '[]',
  'null',
  '"HS256"',
  '{"alg":"HS256","alg":"none"}',
  '{"alg":"none","alg":"HS256"}',
  '{"alg":"EdDSA","alg":"none","kid":"ed-a"}',
  '\uFEFF{"alg":"HS256"}',
  '{"__proto__":{"alg":"HS256"},"alg":"HS256"}',
  '{"alg":"HS256"',
];
/** Claims texts with values JSON.stringify cannot write (Infinity, duplicates, a BOM, invalid UTF-8 below). */
const RAW_CLAIMS = [
  `{"sub":"a","iss":"${ISS}","aud":"${AUD}","exp":1e400}`,
  `{"sub":"a","iss":"${ISS}","aud":"${AUD}","exp":-1e400}`,
  `{"sub":"a","iss":"${ISS}","aud":"${AUD}","exp":${NOW_SEC + 60},"exp":1}`,
  `{"sub":"a","iss":"${ISS}","aud":"${AUD}","exp":1,"exp":${NOW_SEC + 60}}`,
  `\uFEFF{"sub":"a","iss":"${ISS}","aud":"${AUD}","exp":${NOW_SEC + 60}}`,
  `{"sub":"a","iss":"${ISS}","aud":"${AUD}","exp":${NOW_SEC + 60},"nbf":1e400}`,
  `[{"sub":"a"}]`,
  '',
];

/** Most generated values are the valid one, so most tokens are valid or one step away from it. */
const mostly = <T>(valid: T, ...others: readonly T[]): fc.Arbitrary<T> =>
  fc.oneof({ weight: 25, arbitrary: fc.constant(valid) }, { weight: 2, arbitrary: fc.constantFrom(valid, ...others) });
const claimValue = <T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 60, arbitrary: valid },
    { weight: 1, arbitrary: fc.constant(MISSING) },
    { weight: 1, arbitrary: fc.jsonValue() },
  );
const optional = <T>(present: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(MISSING) },
    { weight: 6, arbitrary: present },
    { weight: 1, arbitrary: fc.jsonValue() },
  );
const edge = (at: number): fc.Arbitrary<number> => fc.constantFrom(at - 1, at - 0.5, at, at + 0.5, at + 1);
/** The kid of the key set's key for the header's alg. */
const AUTO_KID = Symbol('auto kid');
const AUTO_KIDS: Readonly<Record<string, string>> = { EdDSA: 'ed-a', Ed25519: 'ed-a', ES256: 'ec', RS256: 'rsa' };

const claimsArb = fc.record({
  sub: claimValue(mostly('agent-1', '')),
  iss: claimValue(mostly(ISS, 'other')),
  aud: claimValue(mostly<unknown>(AUD, [AUD], ['x', AUD], ['x'], 'x', [], [1, AUD])),
  exp: claimValue(
    fc.oneof({ weight: 12, arbitrary: fc.constant(NOW_SEC + 600) }, edge(NOW_SEC - TOL), edge(NOW_SEC - TOL + 0.6)),
  ),
  nbf: optional(fc.oneof(fc.constant(NOW_SEC - 10), edge(NOW_SEC + TOL))),
  iat: optional(fc.oneof({ weight: 4, arbitrary: fc.constant(NOW_SEC) }, edge(NOW_SEC + TOL))),
  scope: optional(mostly<unknown>('echo task.*', ['echo'], ['echo', 1], 5)),
  spearlets: optional(mostly<unknown>(['s1'], 's1', [2])),
  huge: fc.oneof(
    { weight: 40, arbitrary: fc.constant(MISSING) },
    { weight: 1, arbitrary: fc.constant('x'.repeat(200_000)) },
  ),
});

const ALGS = ['HS256', 'HS384', 'HS512', 'EdDSA', 'Ed25519', 'ES256', 'RS256', 'PS256', 'none', 'NONE', 'hs256', ''];
const headerArb = (likely: readonly string[]): fc.Arbitrary<Record<string, unknown> | string> =>
  fc.oneof(
    {
      weight: 40,
      arbitrary: fc
        .record({
          alg: fc.oneof(
            { weight: 30, arbitrary: fc.constantFrom(...likely) },
            { weight: 2, arbitrary: fc.constantFrom(...ALGS) },
            { weight: 1, arbitrary: fc.jsonValue() },
          ),
          typ: fc.oneof(
            { weight: 8, arbitrary: fc.constant('JWT') },
            { weight: 4, arbitrary: fc.constant(MISSING) },
            { weight: 1, arbitrary: fc.jsonValue() },
          ),
          kid: fc.oneof(
            { weight: 30, arbitrary: fc.constant(AUTO_KID) },
            { weight: 2, arbitrary: fc.constantFrom(MISSING, 'ed-a', 'ed-b', 'ec', 'rsa', 'unknown', '') },
            { weight: 1, arbitrary: fc.jsonValue() },
          ),
          extra: fc.oneof(
            { weight: 30, arbitrary: fc.constant({}) },
            {
              weight: 3,
              arbitrary: fc.constantFrom<Record<string, unknown>>(
                { crit: ['b64'], b64: false },
                { crit: ['b64'], b64: true },
                { crit: ['exp'] },
                { crit: [] },
                { crit: 'b64' },
                { b64: false },
                { b64: true },
                { jku: 'https://example.invalid/jwks' },
                { x5c: [] },
                { jwk: {} },
                { zip: 'DEF' },
              ),
            },
          ),
        })
        .map(({ alg, typ, kid, extra }) => {
          const h: Record<string, unknown> = { alg, ...extra };
          if (typ !== MISSING) h.typ = typ;
          if (kid === AUTO_KID) {
            // Own keys only: a generated alg may be "toString" or "__proto__".
            const k = typeof alg === 'string' && Object.hasOwn(AUTO_KIDS, alg) ? AUTO_KIDS[alg] : undefined;
            if (k !== undefined) h.kid = k;
          } else if (kid !== MISSING) h.kid = kid;
          return h;
        }),
    },
    { weight: 1, arbitrary: fc.constantFrom(...RAW_HEADERS) },
  );

const SIGNATURES = ['good', 'tamper', 'truncate', 'wrongKey', 'empty', 'random'] as const;
const SEGMENT_EDITS = ['none', 'appendChar', 'plus', 'slash', 'pad', 'space', 'empty', 'badUtf8'] as const;
const SHAPES = ['normal', 'dupPayload', 'dupHeader', 'two', 'four', 'trailingDot'] as const;
/** The first value most of the time, any of them sometimes. */
const usually = <T>(values: readonly [T, ...T[]], weight: number): fc.Arbitrary<T> =>
  fc.oneof({ weight, arbitrary: fc.constant(values[0]) }, { weight: 1, arbitrary: fc.constantFrom(...values) });

interface TokenSpec {
  header: Record<string, unknown> | string;
  claims: Record<string, unknown> | string;
  sig: (typeof SIGNATURES)[number];
  edit: (typeof SEGMENT_EDITS)[number];
  editWhere: 0 | 1 | 2;
  shape: (typeof SHAPES)[number];
  random: Uint8Array;
}

function keyFor(
  alg: unknown,
  kid: unknown,
  wrong: boolean,
): { hmac?: [string, Buffer]; priv?: KeyObject; digest?: string | null; p1363?: boolean } {
  const hash: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };
  if (typeof alg === 'string' && Object.hasOwn(hash, alg)) return { hmac: [hash[alg]!, wrong ? otherSecret : secret] };
  if (alg === 'EdDSA' || alg === 'Ed25519')
    return { priv: wrong ? edStranger.priv : kid === 'ed-b' ? edB.priv : edA.priv, digest: null };
  if (alg === 'ES256')
    return {
      priv: wrong ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey : ec.priv,
      digest: 'sha256',
      p1363: true,
    };
  if (alg === 'RS256' || alg === 'PS256') return { priv: wrong ? edStranger.priv : rsa.priv, digest: 'sha256' };
  return { hmac: ['sha256', secret] };
}

function signWith(alg: unknown, kid: unknown, input: string, wrong: boolean): Buffer {
  const k = keyFor(alg, kid, wrong);
  if (k.hmac !== undefined) return createHmac(k.hmac[0], k.hmac[1]).update(input).digest();
  const data = Buffer.from(input, 'latin1');
  if (k.priv?.asymmetricKeyType === 'ed25519') return sign(null, data, k.priv);
  return sign(
    k.digest ?? 'sha256',
    data,
    k.p1363 === true ? { key: k.priv as KeyObject, dsaEncoding: 'ieee-p1363' } : (k.priv as KeyObject),
  );
}

function editSegment(seg: string, edit: TokenSpec['edit']): string {
  switch (edit) {
    case 'none':
      return seg;
    case 'appendChar': {
      // A length of 1 mod 4: not base64 (Node's decoder would still decode it leniently).
      let out = `${seg}A`;
      while (out.length % 4 !== 1) out += 'A';
      return out;
    }
    case 'plus':
      return `${seg.slice(0, 1)}+${seg.slice(2)}`;
    case 'slash':
      return `${seg.slice(0, 1)}/${seg.slice(2)}`;
    case 'pad':
      return `${seg}==`;
    case 'space':
      return `${seg.slice(0, 2)} ${seg.slice(2)}`;
    case 'empty':
      return '';
    case 'badUtf8':
      return b64(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]));
  }
}

function buildToken(t: TokenSpec): string {
  const headerText = typeof t.header === 'string' ? t.header : JSON.stringify(t.header);
  let claimsText: string;
  if (typeof t.claims === 'string') claimsText = t.claims;
  else {
    const c: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(t.claims)) if (v !== MISSING) c[k] = v;
    claimsText = JSON.stringify(c);
  }
  const segs = [b64(headerText), b64(claimsText)];
  if (t.editWhere < 2) segs[t.editWhere] = editSegment(segs[t.editWhere] ?? '', t.edit);
  const [h = '', p = ''] = segs;
  const header = typeof t.header === 'string' ? {} : t.header;
  let sig: Buffer;
  switch (t.sig) {
    case 'good':
    case 'tamper':
    case 'truncate':
    case 'wrongKey': {
      sig = signWith(header.alg, header.kid, `${h}.${p}`, t.sig === 'wrongKey');
      if (t.sig === 'tamper') sig[sig.length >> 1] = (sig[sig.length >> 1] ?? 0) ^ 0x01;
      if (t.sig === 'truncate') sig = sig.subarray(0, sig.length - 1);
      break;
    }
    case 'empty':
      sig = Buffer.alloc(0);
      break;
    case 'random':
      sig = Buffer.from(t.random);
      break;
  }
  let s = b64(sig);
  if (t.editWhere === 2) s = editSegment(s, t.edit);
  switch (t.shape) {
    case 'normal':
      return `${h}.${p}.${s}`;
    case 'dupPayload':
      return `${h}.${p}.${p}.${s}`;
    case 'dupHeader':
      return `${h}.${h}.${s}`;
    case 'two':
      return `${h}.${p}`;
    case 'four':
      return `${h}.${p}.${s}.${s}`;
    case 'trailingDot':
      return `${h}.${p}.${s}.`;
  }
}

const tokenArb = (likelyAlgs: readonly string[]): fc.Arbitrary<TokenSpec> =>
  fc.record({
    header: headerArb(likelyAlgs),
    claims: fc.oneof({ weight: 40, arbitrary: claimsArb }, { weight: 1, arbitrary: fc.constantFrom(...RAW_CLAIMS) }),
    sig: usually(SIGNATURES, 3),
    edit: usually(SEGMENT_EDITS, 4),
    editWhere: fc.constantFrom(0 as const, 1 as const, 2 as const),
    shape: usually(SHAPES, 4),
    random: fc.uint8Array({ minLength: 0, maxLength: 300 }),
  });

async function differential(
  options: TokenVerifierOptions,
  likelyAlgs: readonly string[],
  numRuns: number,
): Promise<{ accepted: number }> {
  const fast = createTokenVerifier(options);
  const reference = createJoseTokenVerifier(options);
  let accepted = 0;
  await fc.assert(
    fc.asyncProperty(tokenArb(likelyAlgs), async (spec) => {
      const token = buildToken(spec);
      const [a, b] = await Promise.all([verdict(fast, token), verdict(reference, token)]);
      assert.deepEqual(a, b, `verdicts differ for ${token.slice(0, 400)}`);
      if (a.ok) accepted++;
    }),
    { numRuns },
  );
  return { accepted };
}

describe('token verification fast path agrees with jose', () => {
  it('HS256/HS384 secret: same claims or the same error code on random and adversarial tokens', async () => {
    const { accepted } = await differential(hsOptions, ['HS256', 'HS384'], 1500);
    assert.ok(accepted > 50, `enough generated tokens are valid to exercise acceptance (${accepted})`);
  });

  it('EdDSA/ES256/RS256 key set: same claims or the same error code, kid selection included', async () => {
    const { accepted } = await differential(jwksOptions, ['EdDSA', 'ES256', 'RS256'], 1000);
    assert.ok(accepted > 30, `enough generated tokens are valid to exercise acceptance (${accepted})`);
  });

  it('accepts ordinary tokens itself (without jose) for HS256, HS384, EdDSA, ES256 and RS256', async () => {
    const claims = { sub: 'agent-1', iss: ISS, aud: AUD, exp: NOW_SEC + 60, iat: NOW_SEC };
    const hs = createFastPath({
      secret,
      algorithms: ['HS256', 'HS384'],
      issuer: ISS,
      audience: AUD,
      toleranceSec: TOL,
    });
    const ks = createFastPath({
      getKey: createStaticJwks(JWKS).getKey,
      algorithms: ['RS256', 'ES256', 'EdDSA'],
      issuer: ISS,
      audience: AUD,
      toleranceSec: TOL,
    });
    const tok = (alg: string, kid?: string): string => {
      const spec: TokenSpec = {
        header: { alg, typ: 'JWT', ...(kid !== undefined ? { kid } : {}) },
        claims,
        sig: 'good',
        edit: 'none',
        editWhere: 0,
        shape: 'normal',
        random: new Uint8Array(),
      };
      return buildToken(spec);
    };
    assert.deepEqual(await hs(tok('HS256'), NOW_MS), claims);
    assert.deepEqual(await hs(tok('HS384'), NOW_MS), claims);
    for (const [alg, kid] of [
      ['EdDSA', 'ed-a'],
      ['EdDSA', 'ed-b'],
      ['ES256', 'ec'],
      ['RS256', 'rsa'],
    ] as const) {
      assert.deepEqual(await ks(tok(alg, kid), NOW_MS), claims, `${alg} ${kid}`);
    }
    // What it leaves to jose: a crit header, a tampered signature, an expired token.
    assert.equal(await hs(tok('HS256').replace(/\.[^.]+$/, '.AAAA'), NOW_MS), undefined);
    assert.equal(await hs(tok('HS256'), (NOW_SEC + 60 + TOL) * 1000), undefined);
    const crit = buildToken({
      header: { alg: 'HS256', crit: ['b64'], b64: true },
      claims,
      sig: 'good',
      edit: 'none',
      editWhere: 0,
      shape: 'normal',
      random: new Uint8Array(),
    });
    assert.equal(await hs(crit, NOW_MS), undefined);
  });
});
