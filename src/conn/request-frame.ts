// A REQUEST frame that encodes itself into the frame writer's memory (FrameWriter.writeInPlace): no buffer, no
// BigInt and no copy per request. One per session, reused by every request it writes.
import type { InPlaceFrame } from '../protocol/frame-writer.ts';
import {
  FRAME_HEADER_BYTES,
  MAX_DEADLINE_MS,
  MessageKind,
  encodeRequest,
  putU16le,
  putU32le,
  putU64le,
} from '../wire/index.ts';

/** A REQUEST's frame body without method name and body: kind, flags, id, deadline, method length (protocol.md §3). */
export const REQUEST_OVERHEAD_BYTES = 16;
const EMPTY = Buffer.alloc(0);

/** UTF-8 bytes of recent method names, validated by the wire encoder (see methodBytes). */
const NAME_CACHE_LIMIT = 256;
const names = new Map<string, Buffer>();

/**
 * The method name's bytes, as encodeRequest writes them (and with its checks: it throws TypeError for a name it
 * cannot encode). Cached: method names repeat endlessly.
 */
function methodBytes(method: string): Buffer {
  const cached = names.get(method);
  if (cached !== undefined) return cached;
  const name = encodeRequest(1n, 0, 0, method, EMPTY).subarray(FRAME_HEADER_BYTES + REQUEST_OVERHEAD_BYTES);
  if (names.size >= NAME_CACHE_LIMIT) names.clear();
  names.set(method, name);
  return name;
}

export class RequestFrame implements InPlaceFrame {
  size = 0;
  #id = 0;
  #flags = 0;
  #deadlineMs = 0;
  #name: Buffer = EMPTY;
  #body: Uint8Array = EMPTY;

  /**
   * Sets the next request to write. `id` a positive safe integer, `flags` a u8, `deadlineMs` an integer in
   * [0, 2^32). Throws TypeError (nothing set) as encodeRequest does for a method name it cannot encode.
   */
  set(id: number, flags: number, deadlineMs: number, method: string, body: Uint8Array): void {
    const name = methodBytes(method);
    this.#id = id;
    this.#flags = flags;
    this.#deadlineMs = deadlineMs;
    this.#name = name;
    this.#body = body;
    this.size = FRAME_HEADER_BYTES + REQUEST_OVERHEAD_BYTES + name.length + body.byteLength;
  }

  /** True when set() can take these values; otherwise encode with encodeRequest (which reports what is wrong). */
  static fits(deadlineMs: number, body: unknown): boolean {
    return deadlineMs <= MAX_DEADLINE_MS && body instanceof Uint8Array;
  }

  encodeInto(target: Buffer, offset: number): void {
    // Byte stores: the writer reserved exactly `size` bytes at `offset`, so Buffer's checked writers add nothing but
    // their checks.
    putU64le(target, offset, this.size - FRAME_HEADER_BYTES);
    let at = offset + FRAME_HEADER_BYTES;
    target[at] = MessageKind.REQUEST;
    target[at + 1] = this.#flags;
    putU64le(target, at + 2, this.#id);
    putU32le(target, at + 10, this.#deadlineMs);
    const name = this.#name;
    putU16le(target, at + 14, name.length);
    at += REQUEST_OVERHEAD_BYTES;
    // A short name is copied byte by byte: cheaper than a TypedArray.set call at this size.
    if (name.length <= 16) for (let i = 0; i < name.length; i++) target[at + i] = name[i] as number;
    else target.set(name, at);
    target.set(this.#body, at + name.length);
    // Drop the caller's body: the session keeps this object for its lifetime.
    this.#body = EMPTY;
  }
}
