// JWT verification for HELLO and REAUTH: pinned algorithms, iss/aud/exp/nbf/iat checks, precise AuthError codes.
import { webcrypto } from 'node:crypto';
import { errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { AuthError } from '../errors.ts';
import { createFastPath } from './fast-verify.ts';
import type { JwksSource } from './jwks.ts';
import { parseScopeClaim, parseStringListClaim } from './scope.ts';

export const DEFAULT_CLOCK_TOLERANCE_SEC = 30;
export const SECRET_ALGORITHMS: readonly string[] = ['HS256'];
export const JWKS_ALGORITHMS: readonly string[] = ['RS256', 'ES256', 'EdDSA'];
const HMAC_ALGS = new Set(['HS256', 'HS384', 'HS512']);
const ASYMMETRIC_ALGS = new Set([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]);

export interface TokenVerifierOptions {
  /** Shared secret for HS256. Exactly one of `secret` and `jwks`. */
  secret?: Uint8Array;
  /** Public keys chosen by `kid`. */
  jwks?: JwksSource;
  issuer: string;
  audience: string;
  /** Pinned algorithms; defaults to HS256 for a secret and RS256/ES256/EdDSA for a JWKS. `none` is never allowed. */
  algorithms?: readonly string[];
  clockToleranceSec?: number;
  /** Clock in milliseconds since the epoch; injectable so tests can freeze time. */
  now?: () => number;
}

export interface VerifiedToken {
  readonly sub: string;
  /** Expiry in seconds since the epoch. */
  readonly exp?: number;
  readonly scope?: readonly string[];
  readonly spearlets?: readonly string[];
  readonly zones?: readonly string[];
  readonly claims: Readonly<JWTPayload>;
}

export interface TokenVerifier {
  /** Resolves to the verified claims or rejects with an AuthError whose code says what failed. */
  verify(token: string): Promise<VerifiedToken>;
}

/**
 * Ordinary tokens (a plain alg/typ/kid header, claims that pass) are accepted on a synchronous node:crypto path
 * with cached keys (src/auth/fast-verify.ts); everything else, and every refusal, is decided by jose as before.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  return buildVerifier(options, true);
}

/**
 * The same verifier with every token going through jose: the reference the fast path is tested against
 * (test/auth/fast-verify.test.ts). Not part of the public API.
 */
export function createJoseTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  return buildVerifier(options, false);
}

function buildVerifier(options: TokenVerifierOptions, fast: boolean): TokenVerifier {
  const { secret, jwks, issuer, audience } = options;
  if ((secret === undefined) === (jwks === undefined)) {
    throw new TypeError('createTokenVerifier: give exactly one of secret and jwks');
  }
  if (typeof issuer !== 'string' || issuer === '') throw new TypeError('createTokenVerifier: issuer is required');
  if (typeof audience !== 'string' || audience === '') throw new TypeError('createTokenVerifier: audience is required');
  if (secret !== undefined && secret.byteLength === 0) throw new TypeError('createTokenVerifier: secret is empty');
  const algorithms = [...(options.algorithms ?? (secret !== undefined ? SECRET_ALGORITHMS : JWKS_ALGORITHMS))];
  const allowedFamily = secret !== undefined ? HMAC_ALGS : ASYMMETRIC_ALGS;
  if (algorithms.length === 0) throw new TypeError('createTokenVerifier: algorithms is empty');
  for (const alg of algorithms) {
    if (!allowedFamily.has(alg)) {
      throw new TypeError(
        `createTokenVerifier: algorithm ${alg} does not fit a ${secret !== undefined ? 'secret' : 'JWKS'}`,
      );
    }
  }
  const toleranceSec = options.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC;
  if (!(toleranceSec >= 0)) throw new TypeError('createTokenVerifier: clockToleranceSec must be >= 0');
  const now = options.now ?? Date.now;
  const key: JWTVerifyGetKey = secret !== undefined ? hmacKeyGetter(secret) : (jwks as JwksSource).getKey;
  const fastPath = fast
    ? createFastPath({
        ...(secret !== undefined ? { secret } : { getKey: (jwks as JwksSource).getKey }),
        algorithms,
        issuer,
        audience,
        toleranceSec,
      })
    : undefined;

  return {
    async verify(token: string): Promise<VerifiedToken> {
      if (typeof token !== 'string' || token === '') throw new AuthError('TOKEN_INVALID', 'token is missing');
      const nowMs = now();
      if (fastPath !== undefined) {
        let accepted: JWTPayload | undefined;
        try {
          accepted = await fastPath(token, nowMs);
        } catch (err) {
          throw mapJoseError(err);
        }
        if (accepted !== undefined) return checkClaims(accepted, nowMs / 1000, toleranceSec);
      }
      let payload: JWTPayload;
      try {
        const result = await jwtVerify(token, key, {
          algorithms,
          issuer,
          audience,
          clockTolerance: toleranceSec,
          currentDate: new Date(nowMs),
          requiredClaims: ['sub', 'exp', 'iss', 'aud'],
        });
        payload = result.payload;
      } catch (err) {
        throw mapJoseError(err);
      }
      return checkClaims(payload, nowMs / 1000, toleranceSec);
    },
  };
}

const HMAC_HASH: Readonly<Record<string, string>> = { HS256: 'SHA-256', HS384: 'SHA-384', HS512: 'SHA-512' };

/**
 * The secret imported once per HMAC algorithm: given raw bytes, jose imports a CryptoKey on every verification,
 * which was the largest cost of a handshake. jose checks the header's alg against `algorithms` before asking.
 */
function hmacKeyGetter(secret: Uint8Array): JWTVerifyGetKey {
  const cache = new Map<string, Promise<webcrypto.CryptoKey>>();
  return (header) => {
    const alg = header.alg;
    const hash = HMAC_HASH[alg];
    if (hash === undefined) return secret;
    let k = cache.get(alg);
    if (k === undefined) {
      k = webcrypto.subtle.importKey('raw', secret, { name: 'HMAC', hash }, false, ['verify']);
      cache.set(alg, k);
    }
    return k;
  };
}

function checkClaims(payload: JWTPayload, nowSec: number, toleranceSec: number): VerifiedToken {
  const { sub, exp, iat } = payload;
  if (typeof sub !== 'string' || sub === '')
    throw new AuthError('TOKEN_INVALID', '"sub" claim must be a non-empty string');
  if (typeof iat === 'number' && iat > nowSec + toleranceSec) {
    throw new AuthError('TOKEN_NOT_YET_VALID', '"iat" claim is in the future');
  }
  const scope = parseScopeClaim(payload.scope);
  if (scope === null) throw new AuthError('TOKEN_INVALID', '"scope" claim must be a string or an array of strings');
  const spearlets = parseStringListClaim(payload.spearlets);
  if (spearlets === null) throw new AuthError('TOKEN_INVALID', '"spearlets" claim must be an array of strings');
  const zones = parseStringListClaim(payload.zones);
  if (zones === null) throw new AuthError('TOKEN_INVALID', '"zones" claim must be an array of strings');
  return Object.freeze({
    sub,
    ...(exp !== undefined ? { exp } : {}),
    ...(scope !== undefined ? { scope } : {}),
    ...(spearlets !== undefined ? { spearlets } : {}),
    ...(zones !== undefined ? { zones } : {}),
    claims: Object.freeze({ ...payload }),
  });
}

/** Maps jose's error classes (by their stable `code`) onto the wire's auth codes. */
export function mapJoseError(err: unknown): AuthError {
  if (err instanceof AuthError) return err;
  if (err instanceof joseErrors.JOSEError) {
    switch (err.code) {
      case joseErrors.JWTExpired.code:
        return new AuthError('TOKEN_EXPIRED', 'token has expired', { cause: err });
      case joseErrors.JWTClaimValidationFailed.code: {
        if (!(err instanceof joseErrors.JWTClaimValidationFailed)) break;
        const { claim, reason } = err;
        if (reason === 'missing')
          return new AuthError('TOKEN_INVALID', `missing required "${claim}" claim`, { cause: err });
        if (claim === 'nbf') return new AuthError('TOKEN_NOT_YET_VALID', 'token is not valid yet', { cause: err });
        if (claim === 'aud') return new AuthError('AUDIENCE_MISMATCH', 'token audience does not match', { cause: err });
        if (claim === 'iss') return new AuthError('ISSUER_MISMATCH', 'token issuer does not match', { cause: err });
        return new AuthError('TOKEN_INVALID', `"${claim}" claim is invalid`, { cause: err });
      }
      case joseErrors.JOSEAlgNotAllowed.code:
        return new AuthError('ALG_NOT_ALLOWED', 'token algorithm is not allowed', { cause: err });
      case joseErrors.JOSENotSupported.code:
        return new AuthError('ALG_NOT_ALLOWED', 'token algorithm or header is not supported', { cause: err });
      case joseErrors.JWKSNoMatchingKey.code:
        return new AuthError('UNKNOWN_KEY', 'no key matches the token kid', { cause: err });
      case joseErrors.JWKSMultipleMatchingKeys.code:
        return new AuthError('UNKNOWN_KEY', 'several keys match the token; give it a kid', { cause: err });
      case joseErrors.JWSSignatureVerificationFailed.code:
        return new AuthError('TOKEN_INVALID', 'token signature does not verify', { cause: err });
      case joseErrors.JWSInvalid.code:
      case joseErrors.JWTInvalid.code:
        return new AuthError('TOKEN_INVALID', 'token is malformed', { cause: err });
      case joseErrors.JWKSTimeout.code:
      case joseErrors.JWKSInvalid.code:
        return new AuthError('JWKS_UNAVAILABLE', 'key set unavailable', { cause: err, retryable: true });
      default:
        break;
    }
  }
  return new AuthError('AUTH_FAILED', 'token verification failed', { cause: err });
}
