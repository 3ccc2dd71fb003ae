// Legacy task secrets: random non-negative 63-bit integers, never the mesh magic, compared in constant time.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isValidLegacySecret } from '../../wire/preface.ts';

const MAX_SECRET = (1n << 63n) - 1n;

/** A fresh secret for a task: uniformly random in [1, 2^63 - 1], excluding the mesh magic. */
export function generateSecret(): bigint {
  for (;;) {
    const value = randomBytes(8).readBigUInt64LE(0) & MAX_SECRET;
    if (value !== 0n && isValidLegacySecret(value)) return value;
  }
}

function toBytes(secret: bigint): Buffer {
  const buf = Buffer.allocUnsafe(8);
  buf.writeBigUInt64LE(BigInt.asUintN(64, secret), 0);
  return buf;
}

/** Constant-time equality of two secrets (the comparison time does not depend on where they differ). */
export function secretsEqual(a: bigint, b: bigint): boolean {
  return timingSafeEqual(toBytes(a), toBytes(b));
}
