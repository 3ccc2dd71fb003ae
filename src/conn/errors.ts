// Errors a connection hands to its callers; the codes are documented in docs/errors.md.
import { MeshError, type ErrorCode } from '../errors.ts';

export { CancelledError, DeadlineExceededError, RemoteError } from '../protocol/errors.ts';

/** A connection could not be opened or the handshake failed. Retryable (MeshClient reconnects with backoff). */
export class ConnectFailedError extends MeshError {
  readonly spearletId: string;
  constructor(spearletId: string, message: string, cause?: unknown) {
    super('CONNECT_FAILED', `connect to spearlet ${spearletId} failed: ${message}`, { cause, retryable: true });
    this.spearletId = spearletId;
  }
}

/** The request was not written: the connection was not usable. It did not run anywhere; safe to send elsewhere. */
export class ConnectionClosedError extends MeshError {
  readonly spearletId: string;
  constructor(spearletId: string, message: string, cause?: unknown) {
    super('CONNECTION_CLOSED', `spearlet ${spearletId}: ${message}; the request was not sent`, {
      cause,
      retryable: true,
    });
    this.spearletId = spearletId;
  }
}

/** The connection died after the request was written: the spearlet may have run it. */
export class SpearletLostError extends MeshError {
  readonly spearletId: string;
  readonly reason: string;
  constructor(spearletId: string, reason: string, cause?: unknown) {
    super(
      'SPEARLET_LOST',
      `connection to spearlet ${spearletId} was lost (${reason}) while the request was in flight; it may have run`,
      { cause, retryable: false },
    );
    this.spearletId = spearletId;
    this.reason = reason;
  }
}

export class HeartbeatTimeoutError extends MeshError {
  readonly silentMs: number;
  constructor(spearletId: string, silentMs: number) {
    super('HEARTBEAT_TIMEOUT', `nothing received from spearlet ${spearletId} for ${silentMs} ms`, { retryable: true });
    this.silentMs = silentMs;
  }
}

export class HandshakeTimeoutError extends MeshError {
  constructor(spearletId: string, timeoutMs: number) {
    super('HANDSHAKE_TIMEOUT', `spearlet ${spearletId} sent no WELCOME within ${timeoutMs} ms`, { retryable: true });
  }
}

export { NON_RETRYABLE_REFUSALS } from '../errors.ts';

/**
 * The spearlet refused the handshake for a reason retrying with the same token cannot fix; `code` is the
 * spearlet's (ISSUER_MISMATCH, TOKEN_EXPIRED, ...). Not retryable: requests waiting for the spearlet fail with it.
 */
export class HandshakeRefusedError extends MeshError {
  readonly spearletId: string;
  constructor(spearletId: string, code: ErrorCode, reason: string, cause?: unknown) {
    super(code, `spearlet ${spearletId} refused the handshake: ${reason}`, { cause, retryable: false });
    this.spearletId = spearletId;
  }
}

/**
 * A request (or signal) larger than the spearlet's maximum frame size (its WELCOME `maxFrame`). It was not sent;
 * the connection and the other requests on it are untouched.
 */
export class RequestTooLargeError extends MeshError {
  readonly spearletId: string;
  /** The frame body the request needs, in bytes. */
  readonly size: number;
  readonly limit: number;
  constructor(spearletId: string, what: string, size: number, limit: number) {
    super(
      'REQUEST_TOO_LARGE',
      `${what} needs a frame of ${size} bytes, over spearlet ${spearletId}'s maximum of ${limit} bytes; it was not sent`,
    );
    this.spearletId = spearletId;
    this.size = size;
    this.limit = limit;
  }
}
