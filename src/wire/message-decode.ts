// Strict mesh message decoder: a frame body in, a typed message out, typed MeshErrors for every malformation.
import {
  InvalidPayloadError,
  InvalidUtf8Error,
  MessageTruncatedError,
  MethodLengthInvalidError,
  UnknownMessageKindError,
} from '../errors.ts';
import {
  MESSAGE_HEADER_BYTES,
  MESSAGE_KIND_NAMES,
  MessageKind,
  REQUEST_PREFIX_BYTES,
  RESPONSE_PREFIX_BYTES,
  SIGNAL_PREFIX_BYTES,
  type MeshMessage,
} from './message-types.ts';
import { u16le, u32le, u64leBig } from './bytes.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Names up to this length are checked for pure ASCII byte by byte, which beats TextDecoder on short strings. */
const ASCII_FAST_PATH_MAX = 64;

/**
 * Direct-mapped cache of recently decoded names: the same few method names arrive over and over, and comparing
 * bytes is cheaper than building a string. Entries hold copies, never views of a frame the handler owns.
 */
const NAME_CACHE_SLOTS = 64;
const NAME_CACHE_MAX_BYTES = 64;
const cachedNameBytes: (Buffer | undefined)[] = new Array<Buffer | undefined>(NAME_CACHE_SLOTS).fill(undefined);
const cachedNames: string[] = new Array<string>(NAME_CACHE_SLOTS).fill('');

function sameBytes(cached: Buffer, body: Buffer, start: number): boolean {
  for (let i = 0; i < cached.length; i++) {
    if (cached[i] !== body[start + i]) return false;
  }
  return true;
}

/** Decodes a UTF-8 name; InvalidUtf8Error when the bytes are not well-formed UTF-8. */
function decodeName(body: Buffer, start: number, end: number, what: string): string {
  const length = end - start;
  if (length === 0) return '';
  if (length > NAME_CACHE_MAX_BYTES) return decodeUncached(body, start, end, what);
  const first = body[start] as number;
  const middle = body[start + (length >> 1)] as number;
  const last = body[end - 1] as number;
  const slot = (length * 7 + first * 3 + middle * 5 + last) & (NAME_CACHE_SLOTS - 1);
  const cached = cachedNameBytes[slot];
  if (cached?.length === length && sameBytes(cached, body, start)) return cachedNames[slot] as string;
  const name = decodeUncached(body, start, end, what);
  cachedNameBytes[slot] = Buffer.from(body.subarray(start, end));
  cachedNames[slot] = name;
  return name;
}

function decodeUncached(body: Buffer, start: number, end: number, what: string): string {
  if (end - start <= ASCII_FAST_PATH_MAX) {
    let ascii = true;
    for (let i = start; i < end; i++) {
      if ((body[i] as number) > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) return body.toString('latin1', start, end);
  }
  try {
    return utf8.decode(body.subarray(start, end));
  } catch (err) {
    throw new InvalidUtf8Error(what, err);
  }
}

/** Reads [u16 length][name] at `offset`; the name must end inside the body. */
function readName(body: Buffer, offset: number, what: string): { name: string; end: number } {
  const length = u16le(body, offset);
  const start = offset + 2;
  const end = start + length;
  if (end > body.length) throw new MethodLengthInvalidError(what, length, body.length - start);
  return { name: decodeName(body, start, end, what), end };
}

/**
 * Decodes one mesh frame body ([u8 kind][u8 flags][u64 LE id][payload]).
 *
 * Structural checks only: the header, the kind, the per-kind prefix, name lengths and name UTF-8. Semantic rules
 * (request id != 0, which side may send which kind) belong to the session. Payload and body fields are views into
 * `body` (no copy). Trailing bytes after PING, PONG and CANCEL are ignored, like undefined flag bits.
 */
export function decodeMessage(body: Buffer): MeshMessage {
  if (body.length < MESSAGE_HEADER_BYTES) {
    throw new MessageTruncatedError('message header', MESSAGE_HEADER_BYTES, body.length);
  }
  const kind = body[0] as number;
  const flags = body[1] as number;
  const id = u64leBig(body, 2);
  switch (kind) {
    case MessageKind.REQUEST: {
      if (body.length < REQUEST_PREFIX_BYTES) {
        throw new MessageTruncatedError('REQUEST', REQUEST_PREFIX_BYTES, body.length);
      }
      const deadlineMs = u32le(body, MESSAGE_HEADER_BYTES);
      const { name: method, end } = readName(body, MESSAGE_HEADER_BYTES + 4, 'method name');
      return { kind, flags, id, deadlineMs, method, body: body.subarray(end) };
    }
    case MessageKind.RESPONSE: {
      if (body.length < RESPONSE_PREFIX_BYTES) {
        throw new MessageTruncatedError('RESPONSE', RESPONSE_PREFIX_BYTES, body.length);
      }
      const status = u16le(body, MESSAGE_HEADER_BYTES);
      return { kind, flags, id, status, body: body.subarray(RESPONSE_PREFIX_BYTES) };
    }
    case MessageKind.SIGNAL: {
      if (body.length < SIGNAL_PREFIX_BYTES) {
        throw new MessageTruncatedError('SIGNAL', SIGNAL_PREFIX_BYTES, body.length);
      }
      const { name, end } = readName(body, MESSAGE_HEADER_BYTES, 'signal name');
      return { kind, flags, id, name, body: body.subarray(end) };
    }
    case MessageKind.PING:
    case MessageKind.PONG:
    case MessageKind.CANCEL:
      return { kind, flags, id };
    case MessageKind.HELLO:
    case MessageKind.WELCOME:
    case MessageKind.GOAWAY:
    case MessageKind.ERROR:
    case MessageKind.REAUTH:
      return { kind, flags, id, payload: body.subarray(MESSAGE_HEADER_BYTES) };
    default:
      throw new UnknownMessageKindError(kind);
  }
}

/**
 * Parses a JSON payload that must be an object (arrays, primitives and invalid JSON or UTF-8 are rejected with
 * InvalidPayloadError naming `what`, e.g. 'HELLO').
 */
export function parseJsonPayload(payload: Buffer, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(payload)) as unknown;
  } catch (err) {
    throw new InvalidPayloadError(what, err);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidPayloadError(what, new TypeError('not a JSON object'));
  }
  return value as Record<string, unknown>;
}

/** The name of a kind for logs ('REQUEST'), or `kind <n>` for unknown values. */
export function messageKindName(kind: number): string {
  return (MESSAGE_KIND_NAMES as Record<number, string | undefined>)[kind] ?? `kind ${kind}`;
}
