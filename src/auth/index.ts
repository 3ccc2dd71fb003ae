// The auth layer's public surface: verify, mint, keys, key sets, scope checks.
export {
  createTokenVerifier,
  mapJoseError,
  DEFAULT_CLOCK_TOLERANCE_SEC,
  SECRET_ALGORITHMS,
  JWKS_ALGORITHMS,
} from './verify.ts';
export type { TokenVerifier, TokenVerifierOptions, VerifiedToken } from './verify.ts';
export { mintToken } from './mint.ts';
export type { MintTokenOptions } from './mint.ts';
export { generateSigningKeyPair, buildJwks, isSigningAlgorithm, SIGNING_ALGORITHMS } from './keys.ts';
export type { GeneratedKeyPair, SigningAlgorithm } from './keys.ts';
export { createStaticJwks, createDynamicJwks, createFunctionJwks, openFileJwks, parseJwks } from './jwks.ts';
export type { JwksSource, DynamicJwksSource, FileJwksOptions } from './jwks.ts';
export { createRemoteJwks } from './remote-jwks.ts';
export type { RemoteJwksOptions, RemoteJwksSource } from './remote-jwks.ts';
export { methodAllowed, targetRefusal } from './scope.ts';
export { openConsulJwks } from './consul-jwks.ts';
export type { KvReader, ConsulJwksOptions } from './consul-jwks.ts';
export { readSecretFile, secretFromBytes, MIN_SECRET_BYTES } from './secret.ts';
