// Mesh message encoders: each returns a complete frame (length header included) built in one allocation.
import { putU64le } from './bytes.ts';
import { FRAME_HEADER_BYTES, writeFrameHeader } from './frame-header.ts';
import {
  MAX_DEADLINE_MS,
  MAX_ID,
  MAX_NAME_BYTES,
  MESSAGE_HEADER_BYTES,
  MessageKind,
  REQUEST_PREFIX_BYTES,
  RESPONSE_PREFIX_BYTES,
  SIGNAL_PREFIX_BYTES,
  type ControlKind,
  type JsonKind,
} from './message-types.ts';

/** Offset of the message body inside an encoded frame. */
const BODY = FRAME_HEADER_BYTES;

// ---- name bytes cache --------------------------------------------------------------------------------------------

/** Method and signal names repeat endlessly on the hot path: keep the UTF-8 bytes of recent ones. */
const NAME_CACHE_LIMIT = 512;
const NAME_CACHE_MAX_NAME_BYTES = 256;
const nameCache = new Map<string, Buffer>();
/** In a `u` regex paired surrogates form one code point, so this matches lone surrogates only. */
const LONE_SURROGATE = /\p{Cs}/u;

function nameBytes(name: string, what: string): Buffer {
  const cached = nameCache.get(name);
  if (cached !== undefined) return cached;
  if (typeof name !== 'string') throw new TypeError(`${what} must be a string`);
  if (LONE_SURROGATE.test(name))
    throw new TypeError(`${what} contains a lone surrogate and cannot be encoded as UTF-8`);
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length > MAX_NAME_BYTES) {
    throw new TypeError(`${what} is ${bytes.length} bytes of UTF-8; the limit is ${MAX_NAME_BYTES}`);
  }
  if (bytes.length <= NAME_CACHE_MAX_NAME_BYTES) {
    // A full cache is simply dropped: cheaper than LRU bookkeeping, and the working set refills it at once.
    if (nameCache.size >= NAME_CACHE_LIMIT) nameCache.clear();
    nameCache.set(name, bytes);
  }
  return bytes;
}

// ---- validation ------------------------------------------------------------------------------------------------

function checkId(id: bigint, what = 'id'): void {
  if (typeof id !== 'bigint' || id < 0n || id > MAX_ID) throw new TypeError(`${what} must be a bigint in [0, 2^64)`);
}

function checkU8(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xff)
    throw new TypeError(`${what} must be an integer in [0, 255]`);
}

function checkU16(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new TypeError(`${what} must be an integer in [0, 65535]`);
  }
}

function checkBytes(body: Uint8Array, what: string): void {
  if (!(body instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
}

/** Allocates a frame for a message of `messageBytes` and writes the frame and message headers. */
function allocMessage(messageBytes: number, kind: number, flags: number, id: bigint): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + messageBytes);
  writeFrameHeader(frame, 0, messageBytes);
  frame[BODY] = kind;
  frame[BODY + 1] = flags;
  writeId(frame, BODY + 2, id);
  return frame;
}

const MAX_SAFE_ID = BigInt(Number.MAX_SAFE_INTEGER);

/** u64 LE write; ids below 2^53 (nearly all) skip BigInt arithmetic, which is several times slower. */
function writeId(target: Buffer, offset: number, id: bigint): void {
  if (id <= MAX_SAFE_ID) {
    putU64le(target, offset, Number(id));
  } else {
    target.writeBigUInt64LE(id, offset);
  }
}

// ---- encoders ----------------------------------------------------------------------------------------------------

/** REQUEST (kind 3). `id` must be non-zero; `deadlineMs` 0 means no deadline; `flags` uses RequestFlag bits. */
export function encodeRequest(id: bigint, flags: number, deadlineMs: number, method: string, body: Uint8Array): Buffer {
  checkId(id, 'request id');
  if (id === 0n) throw new TypeError('request id must not be 0');
  checkU8(flags, 'flags');
  if (!Number.isInteger(deadlineMs) || deadlineMs < 0 || deadlineMs > MAX_DEADLINE_MS) {
    throw new TypeError('deadlineMs must be an integer in [0, 2^32)');
  }
  checkBytes(body, 'request body');
  const name = nameBytes(method, 'method name');
  const frame = allocMessage(REQUEST_PREFIX_BYTES + name.length + body.byteLength, MessageKind.REQUEST, flags, id);
  frame.writeUInt32LE(deadlineMs, BODY + MESSAGE_HEADER_BYTES);
  frame.writeUInt16LE(name.length, BODY + MESSAGE_HEADER_BYTES + 4);
  name.copy(frame, BODY + REQUEST_PREFIX_BYTES);
  frame.set(body, BODY + REQUEST_PREFIX_BYTES + name.length);
  return frame;
}

/** RESPONSE (kind 4). With status 0 `body` is the result; otherwise it should be the error JSON. */
export function encodeResponse(id: bigint, status: number, body: Uint8Array): Buffer {
  checkId(id);
  checkU16(status, 'status');
  checkBytes(body, 'response body');
  const frame = allocMessage(RESPONSE_PREFIX_BYTES + body.byteLength, MessageKind.RESPONSE, 0, id);
  frame.writeUInt16LE(status, BODY + MESSAGE_HEADER_BYTES);
  frame.set(body, BODY + RESPONSE_PREFIX_BYTES);
  return frame;
}

/** RESPONSE with a non-zero status and the JSON error body {code, message, retryable}. */
export function encodeErrorResponse(
  id: bigint,
  status: number,
  code: string,
  message: string,
  retryable: boolean,
): Buffer {
  checkU16(status, 'status');
  if (status === 0) throw new TypeError('an error response needs a non-zero status');
  return encodeResponse(id, status, Buffer.from(JSON.stringify({ code, message, retryable }), 'utf8'));
}

/** SIGNAL (kind 5): id 0, flags 0. */
export function encodeSignal(name: string, body: Uint8Array): Buffer {
  checkBytes(body, 'signal body');
  const bytes = nameBytes(name, 'signal name');
  const frame = allocMessage(SIGNAL_PREFIX_BYTES + bytes.length + body.byteLength, MessageKind.SIGNAL, 0, 0n);
  frame.writeUInt16LE(bytes.length, BODY + MESSAGE_HEADER_BYTES);
  bytes.copy(frame, BODY + SIGNAL_PREFIX_BYTES);
  frame.set(body, BODY + SIGNAL_PREFIX_BYTES + bytes.length);
  return frame;
}

const CONTROL_KINDS: ReadonlySet<number> = new Set([MessageKind.PING, MessageKind.PONG, MessageKind.CANCEL]);

/** PING (6), PONG (7) or CANCEL (11): header only. */
export function encodeControl(kind: ControlKind, id: bigint): Buffer {
  if (!CONTROL_KINDS.has(kind)) {
    throw new TypeError(`kind ${String(kind)} is not PING, PONG or CANCEL`);
  }
  checkId(id);
  return allocMessage(MESSAGE_HEADER_BYTES, kind, 0, id);
}

const JSON_KINDS: ReadonlySet<number> = new Set([
  MessageKind.HELLO,
  MessageKind.WELCOME,
  MessageKind.GOAWAY,
  MessageKind.ERROR,
  MessageKind.REAUTH,
]);

/** HELLO, WELCOME, GOAWAY, ERROR or REAUTH carrying `value`, which must serialise to a JSON object. */
export function encodeJson(kind: JsonKind, id: bigint, value: unknown): Buffer {
  if (!JSON_KINDS.has(kind)) throw new TypeError(`kind ${String(kind)} does not carry a JSON payload`);
  checkId(id);
  const text = JSON.stringify(value) as string | undefined;
  if (text?.startsWith('{') !== true) throw new TypeError('a JSON payload must be a JSON object');
  const length = Buffer.byteLength(text, 'utf8');
  const frame = allocMessage(MESSAGE_HEADER_BYTES + length, kind, 0, id);
  frame.write(text, BODY + MESSAGE_HEADER_BYTES, length, 'utf8');
  return frame;
}
