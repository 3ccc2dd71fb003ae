// Every error spear-mesh raises: one base class with a stable `code`, one subclass per failure.
// Codes are part of the public contract (docs/errors.md) and travel on the wire in ERROR frames.

export const ERROR_CODES = [
  // wire
  'FRAME_TOO_LARGE',
  'FRAME_LENGTH_INVALID',
  'MESSAGE_TRUNCATED',
  'UNKNOWN_MESSAGE_KIND',
  'METHOD_LENGTH_INVALID',
  'INVALID_UTF8',
  'INVALID_PREFACE',
  'INVALID_PAYLOAD',
  'LEGACY_ENVELOPE_INVALID',
  // auth
  'AUTH_FAILED',
  'TOKEN_EXPIRED',
  'TOKEN_NOT_YET_VALID',
  'TOKEN_INVALID',
  'AUDIENCE_MISMATCH',
  'ISSUER_MISMATCH',
  'ALG_NOT_ALLOWED',
  'UNKNOWN_KEY',
  'FORBIDDEN_METHOD',
  'FORBIDDEN_SPEARLET',
  'JWKS_UNAVAILABLE',
  // registry (Consul)
  'REGISTRY_UNAVAILABLE',
  'REGISTRY_BAD_RESPONSE',
  'REGISTRY_HTTP_ERROR',
  'SPEARLET_ID_IN_USE',
  // spearlet sessions
  'HANDSHAKE_TIMEOUT',
  'HELLO_INVALID',
  'PROTOCOL_VERSION_UNSUPPORTED',
  'PROTOCOL_ERROR',
  'CONNECTION_LIMIT',
  'OVERLOADED',
  'METHOD_NOT_FOUND',
  'HANDLER_ERROR',
  'DEADLINE_EXCEEDED',
  'CANCELLED',
  'DRAINING',
  'HEARTBEAT_TIMEOUT',
  // agent side
  'CONNECT_FAILED',
  'CONNECTION_CLOSED',
  'SPEARLET_LOST',
  'NO_SPEARLET_AVAILABLE',
  'RETRY_BUDGET_EXHAUSTED',
  'QUEUE_FULL',
  'CLIENT_CLOSED',
  'REQUEST_TOO_LARGE',
  // tasks and legacy agents
  'TASK_NOT_FOUND',
  'TASK_START_FAILED',
  'SECRET_REJECTED',
  'DUPLICATE_SECRET',
  'TASK_LOST',
  'TASK_COMMAND_NOT_ALLOWED',
  // admin API
  'ADMIN_UNAUTHORIZED',
  'ADMIN_FORBIDDEN',
  'ADMIN_CONTENT_TYPE',
  // configuration
  'CONFIG_INVALID',
  'ADDRESS_IN_USE',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const CODE_SET: ReadonlySet<string> = new Set(ERROR_CODES);

/**
 * Handshake refusals that reconnecting with the same token cannot fix: the token itself, or this agent, is not
 * accepted. Everything else a spearlet refuses a HELLO with (CONNECTION_LIMIT, DRAINING, JWKS_UNAVAILABLE, ...) may
 * pass on the next attempt and stays CONNECT_FAILED (retryable).
 */
export const NON_RETRYABLE_REFUSALS: ReadonlySet<string> = new Set<ErrorCode>([
  'TOKEN_EXPIRED',
  'TOKEN_NOT_YET_VALID',
  'TOKEN_INVALID',
  'ISSUER_MISMATCH',
  'AUDIENCE_MISMATCH',
  'ALG_NOT_ALLOWED',
  'UNKNOWN_KEY',
  'AUTH_FAILED',
  'FORBIDDEN_METHOD',
  'FORBIDDEN_SPEARLET',
  'HELLO_INVALID',
  'PROTOCOL_VERSION_UNSUPPORTED',
]);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && CODE_SET.has(value);
}

export interface MeshErrorOptions {
  cause?: unknown;
  /** True when the same operation may succeed if tried again (possibly elsewhere). */
  retryable?: boolean;
}

export class MeshError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: MeshErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }

  /** The `{code, message, retryable}` shape carried by RESPONSE and ERROR frames. */
  toJSON(): { code: ErrorCode; message: string; retryable: boolean } {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}

// ---- wire ------------------------------------------------------------------

export class FrameTooLargeError extends MeshError {
  readonly length: number | bigint;
  readonly limit: number;
  constructor(length: number | bigint, limit: number) {
    super('FRAME_TOO_LARGE', `frame of ${length} bytes exceeds the limit of ${limit} bytes`);
    this.length = length;
    this.limit = limit;
  }
}

export class FrameLengthInvalidError extends MeshError {
  readonly length: bigint;
  constructor(length: bigint) {
    super('FRAME_LENGTH_INVALID', `frame length ${length} is not a safe integer`);
    this.length = length;
  }
}

export class MessageTruncatedError extends MeshError {
  constructor(what: string, needed: number, available: number) {
    super('MESSAGE_TRUNCATED', `${what}: needs ${needed} bytes, ${available} available`);
  }
}

export class UnknownMessageKindError extends MeshError {
  readonly kind: number;
  constructor(kind: number) {
    super('UNKNOWN_MESSAGE_KIND', `unknown message kind ${kind}`);
    this.kind = kind;
  }
}

export class MethodLengthInvalidError extends MeshError {
  constructor(what: string, length: number, available: number) {
    super('METHOD_LENGTH_INVALID', `${what} length ${length} runs past the end of the body (${available} bytes left)`);
  }
}

export class InvalidUtf8Error extends MeshError {
  constructor(what: string, cause?: unknown) {
    super('INVALID_UTF8', `${what} is not valid UTF-8`, { cause });
  }
}

export class InvalidPayloadError extends MeshError {
  constructor(what: string, cause?: unknown) {
    super('INVALID_PAYLOAD', `invalid ${what} payload`, { cause });
  }
}

export class LegacyEnvelopeInvalidError extends MeshError {
  constructor(message: string, cause?: unknown) {
    super('LEGACY_ENVELOPE_INVALID', message, { cause });
  }
}

// ---- auth ------------------------------------------------------------------

export type AuthErrorCode =
  | 'AUTH_FAILED'
  | 'TOKEN_EXPIRED'
  | 'TOKEN_NOT_YET_VALID'
  | 'TOKEN_INVALID'
  | 'AUDIENCE_MISMATCH'
  | 'ISSUER_MISMATCH'
  | 'ALG_NOT_ALLOWED'
  | 'UNKNOWN_KEY'
  | 'FORBIDDEN_METHOD'
  | 'FORBIDDEN_SPEARLET'
  | 'JWKS_UNAVAILABLE';

export class AuthError extends MeshError {
  declare readonly code: AuthErrorCode;
  // Narrows the accepted codes to the auth ones.
  // eslint-disable-next-line @typescript-eslint/no-useless-constructor
  constructor(code: AuthErrorCode, message: string, options?: MeshErrorOptions) {
    super(code, message, options);
  }
}

// ---- registry ----------------------------------------------------------------

export class RegistryUnavailableError extends MeshError {
  constructor(message: string, cause?: unknown) {
    super('REGISTRY_UNAVAILABLE', message, { cause, retryable: true });
  }
}

export class RegistryBadResponseError extends MeshError {
  constructor(message: string, cause?: unknown) {
    super('REGISTRY_BAD_RESPONSE', message, { cause, retryable: true });
  }
}

export class RegistryHttpError extends MeshError {
  readonly statusCode: number;
  constructor(statusCode: number, message: string, cause?: unknown) {
    super('REGISTRY_HTTP_ERROR', message, { cause, retryable: statusCode >= 500 || statusCode === 429 });
    this.statusCode = statusCode;
  }
}

/** Another live spearlet (its TTL check passing) holds the Consul registration of this spearlet id. */
export class SpearletIdInUseError extends MeshError {
  readonly serviceId: string;
  constructor(serviceId: string, message: string) {
    super('SPEARLET_ID_IN_USE', message);
    this.serviceId = serviceId;
  }
}

// ---- configuration -------------------------------------------------------------

export class ConfigError extends MeshError {
  readonly option: string;
  constructor(option: string, message: string) {
    super('CONFIG_INVALID', `${option}: ${message}`);
    this.option = option;
  }
}

/** A listener could not bind because another process holds its address; `option` is the flag that set it. */
export class AddressInUseError extends MeshError {
  readonly option: string;
  readonly address: string;
  readonly hint: string;
  constructor(option: string, address: string, hint: string, cause?: unknown) {
    super('ADDRESS_IN_USE', `${option} ${address} is already in use by another process`, { cause });
    this.option = option;
    this.address = address;
    this.hint = hint;
  }
}
