// The fast path of token verification: ordinary compact JWTs checked synchronously through node:crypto with cached
// KeyObjects. It only ever accepts; anything unusual and every rejection goes to jose, which decides the verdict.
import {
  KeyObject,
  createHmac,
  createSecretKey,
  timingSafeEqual,
  verify as cryptoVerify,
  type webcrypto,
} from 'node:crypto';
import type { JWTPayload, JWTVerifyGetKey } from 'jose';

export interface FastPathOptions {
  /** HS* shared secret, or `getKey` for a key set (kid selection stays the key set's). */
  readonly secret?: Uint8Array;
  readonly getKey?: JWTVerifyGetKey;
  readonly algorithms: readonly string[];
  readonly issuer: string;
  readonly audience: string;
  readonly toleranceSec: number;
}

/**
 * Returns the token's claims when the fast path accepts it, `undefined` when jose must decide (an unusual header,
 * a claim jose would refuse, a signature that does not verify here, a key it does not handle). Throws only what
 * `getKey` throws, which jose would throw too: it calls the key set with the same header, having passed the same
 * header checks first.
 */
export type FastPath = (token: string, nowMs: number) => JWTPayload | undefined | Promise<JWTPayload | undefined>;

/** Three non-empty base64url segments (`\w` without the `u` flag is ASCII letters, digits and `_`). */
const COMPACT_JWS = /^[\w-]+\.[\w-]+\.[\w-]+$/;
/** Header parameters the fast path knows; any other (crit, b64, jku, x5c, jwk, ...) goes to jose. */
const PLAIN_HEADER_KEYS = new Set(['alg', 'typ', 'kid']);
/** jose's own decoder for the header and claims: invalid UTF-8 fails, a leading BOM is dropped. */
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

const HMAC_HASH: Readonly<Record<string, string>> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

/** What a WebCrypto key must be for an algorithm jose would verify with it, and how node:crypto verifies it. */
interface AsymmetricAlg {
  readonly name: string;
  readonly hash?: string;
  readonly namedCurve?: string;
  /** node:crypto digest (null for Ed25519). */
  readonly digest: string | null;
  /** ECDSA: JWS signatures are r||s of this many bytes. */
  readonly p1363Bytes?: number;
  readonly minRsaBits?: number;
}

const ASYMMETRIC: Readonly<Record<string, AsymmetricAlg>> = {
  EdDSA: { name: 'Ed25519', digest: null },
  Ed25519: { name: 'Ed25519', digest: null },
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', digest: 'sha256', minRsaBits: 2048 },
  RS384: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384', digest: 'sha384', minRsaBits: 2048 },
  RS512: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512', digest: 'sha512', minRsaBits: 2048 },
  ES256: { name: 'ECDSA', namedCurve: 'P-256', digest: 'sha256', p1363Bytes: 64 },
  ES384: { name: 'ECDSA', namedCurve: 'P-384', digest: 'sha384', p1363Bytes: 96 },
  ES512: { name: 'ECDSA', namedCurve: 'P-521', digest: 'sha512', p1363Bytes: 132 },
};

/** jose's isObject: a plain object (prototype Object.prototype or null), not an array or a class instance. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Object.prototype.toString.call(value) !== '[object Object]')
    return false;
  const proto = Object.getPrototypeOf(value) as object | null;
  return proto === null || Object.getPrototypeOf(proto) === null;
}

function parseSegment(segment: string): unknown {
  try {
    return JSON.parse(strictDecoder.decode(Buffer.from(segment, 'base64url')));
  } catch {
    return undefined;
  }
}

/**
 * True when jose's claim checks (required sub/exp/iss/aud, iss, aud, iat/nbf/exp types and times) all pass, written
 * as the negation of jose's refusal conditions so that edge values (Infinity, fractions, equality) agree.
 */
function claimsPass(c: Record<string, unknown>, o: FastPathOptions, nowSec: number): boolean {
  for (const claim of ['sub', 'exp', 'iss', 'aud']) if (!Object.hasOwn(c, claim)) return false;
  if (c.iss !== o.issuer) return false;
  const aud = c.aud;
  if (typeof aud === 'string' ? aud !== o.audience : !Array.isArray(aud) || !aud.includes(o.audience)) return false;
  const { iat, nbf, exp } = c;
  if (iat !== undefined && typeof iat !== 'number') return false;
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > nowSec + o.toleranceSec)) return false;
  if (typeof exp !== 'number' || exp <= nowSec - o.toleranceSec) return false;
  return true;
}

/** The WebCrypto key a key set returned, as a KeyObject, if jose would verify `alg` with it; else undefined. */
function keyObjectFor(key: unknown, spec: AsymmetricAlg, cache: WeakMap<object, KeyObject>): KeyObject | undefined {
  if (
    typeof key !== 'object' ||
    key === null ||
    (key as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] !== 'CryptoKey'
  )
    return undefined;
  const ck = key as webcrypto.CryptoKey;
  const a = ck.algorithm as { name: string; hash?: { name?: string }; namedCurve?: string; modulusLength?: number };
  if (ck.type !== 'public' || !ck.usages.includes('verify') || a.name !== spec.name) return undefined;
  if (spec.hash !== undefined && a.hash?.name !== spec.hash) return undefined;
  if (spec.namedCurve !== undefined && a.namedCurve !== spec.namedCurve) return undefined;
  if (spec.minRsaBits !== undefined && !(typeof a.modulusLength === 'number' && a.modulusLength >= spec.minRsaBits))
    return undefined;
  let ko = cache.get(ck);
  if (ko === undefined) {
    ko = KeyObject.from(ck);
    cache.set(ck, ko);
  }
  return ko;
}

export function createFastPath(o: FastPathOptions): FastPath {
  const allowed = new Set(o.algorithms);
  const hmacKey = o.secret !== undefined ? createSecretKey(o.secret) : undefined;
  const getKey = o.getKey;
  const keyObjects = new WeakMap<object, KeyObject>();

  return (token, nowMs) => {
    if (!COMPACT_JWS.test(token)) return undefined;
    const dot1 = token.indexOf('.');
    const dot2 = token.indexOf('.', dot1 + 1);
    const h = token.slice(0, dot1);
    const p = token.slice(dot1 + 1, dot2);
    const s = token.slice(dot2 + 1);
    // A length of 1 mod 4 is not base64 at all (jose refuses it); Node would decode it leniently.
    if (h.length % 4 === 1 || p.length % 4 === 1 || s.length % 4 === 1) return undefined;
    const header = parseSegment(h);
    if (!isPlainObject(header)) return undefined;
    for (const k of Object.keys(header)) if (!PLAIN_HEADER_KEYS.has(k)) return undefined;
    const { alg, typ, kid } = header;
    if (typeof alg !== 'string' || !allowed.has(alg)) return undefined;
    if ((typ !== undefined && typeof typ !== 'string') || (kid !== undefined && typeof kid !== 'string'))
      return undefined;
    const claims = parseSegment(p);
    if (!isPlainObject(claims)) return undefined;
    const nowSec = Math.floor(new Date(nowMs).getTime() / 1000);
    if (!Number.isFinite(nowSec) || !claimsPass(claims, o, nowSec)) return undefined;
    const signature = Buffer.from(s, 'base64url');
    const signingInput = token.slice(0, dot2);

    if (hmacKey !== undefined) {
      const hash = HMAC_HASH[alg];
      if (hash === undefined) return undefined;
      const mac = createHmac(hash, hmacKey).update(signingInput, 'latin1').digest();
      return mac.length === signature.length && timingSafeEqual(mac, signature) ? claims : undefined;
    }
    const spec = ASYMMETRIC[alg];
    if (getKey === undefined || spec === undefined) return undefined;
    if (spec.p1363Bytes !== undefined && signature.length !== spec.p1363Bytes) return undefined;
    // The same arguments jose passes: the parsed protected header and the flattened token.
    const keyResult = getKey(header as Parameters<JWTVerifyGetKey>[0], { payload: p, protected: h, signature: s });
    const finish = (key: unknown): JWTPayload | undefined => {
      const ko = keyObjectFor(key, spec, keyObjects);
      if (ko === undefined) return undefined;
      try {
        const input = Buffer.from(signingInput, 'latin1');
        const ok =
          spec.p1363Bytes !== undefined
            ? cryptoVerify(spec.digest, input, { key: ko, dsaEncoding: 'ieee-p1363' }, signature)
            : cryptoVerify(spec.digest, input, ko, signature);
        return ok ? claims : undefined;
      } catch {
        return undefined;
      }
    };
    return keyResult instanceof Promise ? keyResult.then(finish) : finish(keyResult);
  };
}
