// Little-endian integer reads for hot decode paths whose callers have already checked that the bytes exist. Buffer's
// own readers validate their offset argument on every call, which showed in the spearlet's per-request profile.

const TWO_POW_32 = 0x1_0000_0000;

/** The u16 at `at` (2 bytes must be available). */
export function u16le(b: Uint8Array, at: number): number {
  return (b[at] as number) | ((b[at + 1] as number) << 8);
}

/** The u32 at `at` (4 bytes must be available). */
export function u32le(b: Uint8Array, at: number): number {
  return (
    ((b[at] as number) | ((b[at + 1] as number) << 8) | ((b[at + 2] as number) << 16)) +
    (b[at + 3] as number) * 0x100_0000
  );
}

/** The u64 at `at` as a number: exact up to 2^53 - 1, above that rounded as Number(bigint) rounds (8 bytes). */
export function u64le(b: Uint8Array, at: number): number {
  return u32le(b, at) + u32le(b, at + 4) * TWO_POW_32;
}

/** The u64 at `at` as a BigInt (8 bytes must be available). */
export function u64leBig(b: Uint8Array, at: number): bigint {
  const low = u32le(b, at);
  const high = u32le(b, at + 4);
  return high === 0 ? BigInt(low) : (BigInt(high) << 32n) + BigInt(low);
}

/** Stores `value` (0 to 2^16 - 1) at `at` (2 bytes must be available). */
export function putU16le(b: Uint8Array, at: number, value: number): void {
  b[at] = value & 0xff;
  b[at + 1] = value >>> 8;
}

/** Stores `value` (0 to 2^32 - 1) at `at` (4 bytes must be available). */
export function putU32le(b: Uint8Array, at: number, value: number): void {
  b[at] = value & 0xff;
  b[at + 1] = (value >>> 8) & 0xff;
  b[at + 2] = (value >>> 16) & 0xff;
  b[at + 3] = value >>> 24;
}

/** Stores `value` (a non-negative safe integer) as a u64 at `at` (8 bytes must be available). */
export function putU64le(b: Uint8Array, at: number, value: number): void {
  const low = value % TWO_POW_32;
  putU32le(b, at, low);
  putU32le(b, at + 4, (value - low) / TWO_POW_32);
}
