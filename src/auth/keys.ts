// Key generation for asymmetric tokens: a private JWK to sign with and a public JWKS to verify with.
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JSONWebKeySet, type JWK } from 'jose';

export const SIGNING_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export function isSigningAlgorithm(value: string): value is SigningAlgorithm {
  return (SIGNING_ALGORITHMS as readonly string[]).includes(value);
}

export interface GeneratedKeyPair {
  readonly alg: SigningAlgorithm;
  readonly kid: string;
  /** Private JWK with `alg`, `kid` and `use`; keep it secret. */
  readonly privateJwk: JWK;
  /** Public JWK with `alg`, `kid` and `use`; goes into the JWKS. */
  readonly publicJwk: JWK;
}

/** Generates a key pair; the kid defaults to the RFC 7638 thumbprint of the public key. */
export async function generateSigningKeyPair(alg: SigningAlgorithm, kid?: string): Promise<GeneratedKeyPair> {
  if (!isSigningAlgorithm(alg)) throw new TypeError(`generateSigningKeyPair: unsupported algorithm ${String(alg)}`);
  const pair = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const pub = await exportJWK(pair.publicKey);
  const priv = await exportJWK(pair.privateKey);
  const id = kid ?? (await calculateJwkThumbprint(pub));
  const meta = { alg, kid: id, use: 'sig' };
  return Object.freeze({ alg, kid: id, privateJwk: { ...priv, ...meta }, publicJwk: { ...pub, ...meta } });
}

/** A JWKS document holding the given public keys (several during a rotation). */
export function buildJwks(publicKeys: readonly JWK[]): JSONWebKeySet {
  for (const k of publicKeys) {
    if ('d' in k) throw new TypeError('buildJwks: a private key cannot go into a JWKS');
    if (typeof k.kid !== 'string') throw new TypeError('buildJwks: every key needs a kid');
  }
  return { keys: publicKeys.map((k) => ({ ...k })) };
}
