// Connection preface: the first 8 bytes tell the mesh protocol ('SPEARMS1') from a legacy agent's u64 LE secret.

export const PREFACE_BYTES = 8;
export const MESH_MAGIC: Buffer = Buffer.from('SPEARMS1', 'latin1');
export const MESH_MAGIC_U64: bigint = MESH_MAGIC.readBigUInt64LE(0);
/** Legacy secrets are non-negative int64 values (the Go side parses them as int64). */
const LEGACY_SECRET_LIMIT = 1n << 63n;

export type Preface =
  | { readonly type: 'mesh' }
  | { readonly type: 'legacy'; readonly secret: bigint }
  | { readonly type: 'invalid'; readonly reason: string };

const MESH: Preface = Object.freeze({ type: 'mesh' });

/**
 * Classifies exactly 8 preface bytes (TypeError for any other length). A legacy secret is any value below 2^63
 * other than the mesh magic; whether a task holds that secret is the listener's business, not the codec's.
 */
export function classifyPreface(bytes: Uint8Array): Preface {
  if (bytes.byteLength !== PREFACE_BYTES) {
    throw new TypeError(`a preface is exactly ${PREFACE_BYTES} bytes, got ${bytes.byteLength}`);
  }
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, PREFACE_BYTES);
  if (view.equals(MESH_MAGIC)) return MESH;
  const secret = view.readBigUInt64LE(0);
  if (secret >= LEGACY_SECRET_LIMIT) {
    return { type: 'invalid', reason: 'preface is not the mesh magic and is too large for a legacy secret' };
  }
  return { type: 'legacy', secret };
}

/** The 8 bytes a legacy agent sends for `secret`. TypeError when the spearlet could never have issued it. */
export function encodeLegacyPreface(secret: bigint): Buffer {
  if (typeof secret !== 'bigint' || secret < 0n || secret >= LEGACY_SECRET_LIMIT) {
    throw new TypeError('a legacy secret is a bigint in [0, 2^63)');
  }
  if (secret === MESH_MAGIC_U64) throw new TypeError('a legacy secret may not equal the mesh magic');
  const out = Buffer.allocUnsafe(PREFACE_BYTES);
  out.writeBigUInt64LE(secret, 0);
  return out;
}

/** True when `secret` is one a spearlet may issue: in [0, 2^63) and not the mesh magic. */
export function isValidLegacySecret(secret: bigint): boolean {
  return secret >= 0n && secret < LEGACY_SECRET_LIMIT && secret !== MESH_MAGIC_U64;
}
