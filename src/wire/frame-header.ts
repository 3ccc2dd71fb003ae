// Length-prefixed framing shared by both protocols, [u64 LE length][body]: frame encoder and header helpers.
import { FrameLengthInvalidError } from '../errors.ts';
import { putU64le, u32le } from './bytes.ts';

export const FRAME_HEADER_BYTES = 8;
export const DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024;

const TWO_POW_32 = 0x1_0000_0000;
/** The high 32-bit word of a u64 above this makes the value larger than 2^53-1. */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff;

/**
 * Writes the 8-byte little-endian length header of a frame at `offset`.
 * `length` must be a non-negative safe integer (TypeError otherwise); the caller guarantees room for 8 bytes.
 */
export function writeFrameHeader(target: Buffer, offset: number, length: number): void {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new TypeError(`frame length must be a non-negative safe integer, got ${String(length)}`);
  }
  putU64le(target, offset, length);
}

/**
 * Reads a frame length header at `offset` (8 bytes must be available).
 * Throws FrameLengthInvalidError when the declared length does not fit a safe integer.
 */
export function readFrameLength(source: Buffer, offset: number): number {
  const low = u32le(source, offset);
  const high = u32le(source, offset + 4);
  if (high > MAX_SAFE_HIGH_WORD) {
    throw new FrameLengthInvalidError((BigInt(high) << 32n) | BigInt(low));
  }
  return high * TWO_POW_32 + low;
}

/**
 * Returns header and body as one contiguous buffer, so a single socket write carries the whole frame
 * (Go peers read the header with one read). The body is copied; the caller keeps ownership of `body`.
 */
export function encodeFrame(body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.byteLength);
  writeFrameHeader(frame, 0, body.byteLength);
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

/** The zero-length frame: an orderly close. A fresh buffer each call, so callers may not corrupt a shared one. */
export function encodeCloseFrame(): Buffer {
  return Buffer.alloc(FRAME_HEADER_BYTES);
}
