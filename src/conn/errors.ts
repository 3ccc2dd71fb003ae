// Errors a connection hands to its callers; the codes are documented in docs/errors.md.
import { MeshError } from '../errors.ts';

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
