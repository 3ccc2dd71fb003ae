// Minting JWTs for agents (CLI `token mint`, tests, the process runtime): HS256 from a secret or a signed key.
import { importJWK, SignJWT, type CryptoKey, type JWK, type KeyObject } from 'jose';

export interface MintTokenOptions {
  /** HS256 shared secret. Exactly one of `secret` and `privateKey`. */
  secret?: Uint8Array;
  /** Private key for RS256, ES256 or EdDSA, as a CryptoKey, KeyObject or private JWK. */
  privateKey?: CryptoKey | KeyObject | JWK;
  /** Defaults to HS256 for a secret, the JWK's `alg` for a JWK key. */
  alg?: string;
  kid?: string;
  sub: string;
  iss: string;
  aud: string | readonly string[];
  expiresInSec: number;
  /** Seconds from now before which the token is not valid (`nbf`); may be negative. */
  notBeforeSec?: number;
  /** Method names, `*` or `prefix.*`. */
  scope?: readonly string[];
  spearlets?: readonly string[];
  zones?: readonly string[];
  /** Clock in milliseconds since the epoch (tests). */
  now?: () => number;
}

function isJwk(key: unknown): key is JWK {
  return typeof key === 'object' && key !== null && typeof (key as { kty?: unknown }).kty === 'string';
}

export async function mintToken(options: MintTokenOptions): Promise<string> {
  const { secret, privateKey } = options;
  if ((secret === undefined) === (privateKey === undefined))
    throw new TypeError('mintToken: give exactly one of secret and privateKey');
  if (typeof options.sub !== 'string' || options.sub === '') throw new TypeError('mintToken: sub is required');
  if (!(Number.isFinite(options.expiresInSec) && options.expiresInSec > 0))
    throw new TypeError('mintToken: expiresInSec must be > 0');
  const jwkAlg = isJwk(privateKey) && typeof privateKey.alg === 'string' ? privateKey.alg : undefined;
  const alg = options.alg ?? (secret !== undefined ? 'HS256' : jwkAlg);
  if (alg === undefined) throw new TypeError('mintToken: alg is required for this key');
  if (alg === 'none') throw new TypeError('mintToken: alg none is not allowed');
  const kid = options.kid ?? (isJwk(privateKey) && typeof privateKey.kid === 'string' ? privateKey.kid : undefined);
  const key = secret ?? (isJwk(privateKey) ? await importJWK(privateKey, alg) : privateKey);
  const nowSec = Math.floor((options.now ?? Date.now)() / 1000);

  const claims: Record<string, unknown> = {};
  if (options.scope !== undefined) claims.scope = options.scope.join(' ');
  if (options.spearlets !== undefined) claims.spearlets = [...options.spearlets];
  if (options.zones !== undefined) claims.zones = [...options.zones];
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg, typ: 'JWT', ...(kid !== undefined ? { kid } : {}) })
    .setSubject(options.sub)
    .setIssuer(options.iss)
    .setAudience(typeof options.aud === 'string' ? options.aud : [...options.aud])
    .setIssuedAt(nowSec)
    .setExpirationTime(nowSec + Math.ceil(options.expiresInSec));
  if (options.notBeforeSec !== undefined) jwt.setNotBefore(nowSec + Math.floor(options.notBeforeSec));
  return jwt.sign(key as Uint8Array);
}
