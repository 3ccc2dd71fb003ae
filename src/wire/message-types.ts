// Mesh message vocabulary (docs/protocol.md §3): kinds, flags, statuses and the decoded message shapes.

export const MessageKind = {
  HELLO: 1,
  WELCOME: 2,
  REQUEST: 3,
  RESPONSE: 4,
  SIGNAL: 5,
  PING: 6,
  PONG: 7,
  GOAWAY: 8,
  ERROR: 9,
  REAUTH: 10,
  CANCEL: 11,
} as const;
export type MessageKind = (typeof MessageKind)[keyof typeof MessageKind];

export const MESSAGE_KIND_NAMES: Readonly<Record<MessageKind, string>> = {
  1: 'HELLO',
  2: 'WELCOME',
  3: 'REQUEST',
  4: 'RESPONSE',
  5: 'SIGNAL',
  6: 'PING',
  7: 'PONG',
  8: 'GOAWAY',
  9: 'ERROR',
  10: 'REAUTH',
  11: 'CANCEL',
};

export const RequestFlag = { IDEMPOTENT: 1, NO_REPLY: 2 } as const;
export type RequestFlag = (typeof RequestFlag)[keyof typeof RequestFlag];

/** [u8 kind][u8 flags][u64 LE id] */
export const MESSAGE_HEADER_BYTES = 10;
/** REQUEST: header + [u32 deadline][u16 method length] */
export const REQUEST_PREFIX_BYTES = 16;
/** RESPONSE: header + [u16 status] */
export const RESPONSE_PREFIX_BYTES = 12;
/** SIGNAL: header + [u16 name length] */
export const SIGNAL_PREFIX_BYTES = 12;
export const MAX_NAME_BYTES = 65535;
export const MAX_DEADLINE_MS = 0xffff_ffff;
export const MAX_ID = 0xffff_ffff_ffff_ffffn;

/** Kinds whose payload is a JSON object: HELLO, WELCOME, GOAWAY, ERROR, REAUTH. */
export type JsonKind = 1 | 2 | 8 | 9 | 10;
/** Kinds with an empty payload: PING, PONG, CANCEL. */
export type ControlKind = 6 | 7 | 11;

export interface JsonMessage {
  kind: JsonKind;
  flags: number;
  id: bigint;
  /** Raw UTF-8 JSON bytes; parse with parseJsonPayload. */
  payload: Buffer;
}
export interface RequestMessage {
  kind: 3;
  flags: number;
  id: bigint;
  /** Relative to receipt; 0 = no deadline. */
  deadlineMs: number;
  method: string;
  body: Buffer;
}
export interface ResponseMessage {
  kind: 4;
  flags: number;
  id: bigint;
  /** 0 = ok; otherwise the body is JSON {code, message, retryable}. */
  status: number;
  body: Buffer;
}
export interface SignalMessage {
  kind: 5;
  flags: number;
  id: bigint;
  name: string;
  body: Buffer;
}
export interface ControlMessage {
  kind: ControlKind;
  flags: number;
  id: bigint;
}

export type MeshMessage = JsonMessage | RequestMessage | ResponseMessage | SignalMessage | ControlMessage;

export const Status = {
  OK: 0,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  DEADLINE: 408,
  OVERLOADED: 429,
  CANCELLED: 499,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;
export type Status = (typeof Status)[keyof typeof Status];

const STATUS_BY_CODE: ReadonlyMap<string, number> = new Map<string, number>([
  ['INVALID_PAYLOAD', Status.BAD_REQUEST],
  ['PROTOCOL_ERROR', Status.BAD_REQUEST],
  ['AUTH_FAILED', Status.UNAUTHORIZED],
  ['TOKEN_EXPIRED', Status.UNAUTHORIZED],
  ['TOKEN_NOT_YET_VALID', Status.UNAUTHORIZED],
  ['TOKEN_INVALID', Status.UNAUTHORIZED],
  ['AUDIENCE_MISMATCH', Status.UNAUTHORIZED],
  ['ISSUER_MISMATCH', Status.UNAUTHORIZED],
  ['ALG_NOT_ALLOWED', Status.UNAUTHORIZED],
  ['UNKNOWN_KEY', Status.UNAUTHORIZED],
  ['FORBIDDEN_METHOD', Status.FORBIDDEN],
  ['FORBIDDEN_SPEARLET', Status.FORBIDDEN],
  ['METHOD_NOT_FOUND', Status.NOT_FOUND],
  ['TASK_NOT_FOUND', Status.NOT_FOUND],
  ['DEADLINE_EXCEEDED', Status.DEADLINE],
  ['OVERLOADED', Status.OVERLOADED],
  ['CANCELLED', Status.CANCELLED],
  ['HANDLER_ERROR', Status.INTERNAL],
  ['DRAINING', Status.UNAVAILABLE],
]);

/** RESPONSE status for an error code (protocol.md §3.3); 500 for any code not in the table. */
export function statusForCode(code: string): number {
  return STATUS_BY_CODE.get(code) ?? Status.INTERNAL;
}

export function isMessageKind(value: number): value is MessageKind {
  return Number.isInteger(value) && value >= MessageKind.HELLO && value <= MessageKind.CANCEL;
}
