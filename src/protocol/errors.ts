// Errors of one request, the same on both ends of a connection (codes in docs/errors.md).
import { isErrorCode, MeshError, type ErrorCode } from '../errors.ts';
import { parseJsonPayload } from '../wire/index.ts';

export class DeadlineExceededError extends MeshError {
  constructor(method: string, deadlineMs: number) {
    super('DEADLINE_EXCEEDED', `request '${method}' did not complete within its ${deadlineMs} ms deadline`);
  }
}

export class CancelledError extends MeshError {
  constructor(method: string, cause?: unknown) {
    super('CANCELLED', `request '${method}' was cancelled by the caller`, { cause });
  }
}

/**
 * An error the peer reported: an error RESPONSE (status != 0) or an ERROR frame. `remoteCode` is the code exactly
 * as sent; `code` is the same when it is one of ours, else HANDLER_ERROR. `spearletId` names the peer (on the
 * spearlet's side, the agent).
 */
export class RemoteError extends MeshError {
  readonly status: number;
  readonly remoteCode: string;
  readonly spearletId: string;
  constructor(spearletId: string, status: number, remoteCode: string, message: string, retryable: boolean) {
    const code: ErrorCode = isErrorCode(remoteCode) ? remoteCode : 'HANDLER_ERROR';
    super(code, message, { retryable });
    this.status = status;
    this.remoteCode = remoteCode;
    this.spearletId = spearletId;
  }
}

/** Turns an error RESPONSE body or ERROR payload ({code, message, retryable?}) into a RemoteError. */
export function parseRemoteError(
  peerId: string,
  status: number,
  body: Buffer,
  defaultRetryable: boolean,
  peerKind: 'spearlet' | 'agent' = 'spearlet',
): RemoteError {
  let o: Record<string, unknown> = {};
  try {
    o = parseJsonPayload(body, 'error body');
  } catch {
    // Unreadable body: keep the status, report a generic code.
  }
  const code = typeof o.code === 'string' ? o.code : 'HANDLER_ERROR';
  const message = typeof o.message === 'string' ? o.message : `${peerKind} answered status ${status}`;
  const retryable = typeof o.retryable === 'boolean' ? o.retryable : defaultRetryable;
  return new RemoteError(peerId, status, code, `${peerKind} ${peerId}: ${code}: ${message}`, retryable);
}
