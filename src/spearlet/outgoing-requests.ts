// Requests the spearlet sends to an agent over its session (REQUEST is allowed both ways), and their answers.
import { MeshError, isErrorCode, type ErrorCode } from '../errors.ts';
import {
  MessageKind,
  Status,
  encodeControl,
  encodeRequest,
  parseJsonPayload,
  type ResponseMessage,
} from '../wire/index.ts';

interface Pending {
  resolve(body: Buffer): void;
  reject(err: Error): void;
  cleanup(): void;
}

export interface OutgoingRequestOptions {
  /** Sent to the agent as the request's deadline; the promise rejects with DEADLINE_EXCEEDED when it passes. */
  deadlineMs?: number;
  /** Aborting sends CANCEL and rejects with CANCELLED. */
  signal?: AbortSignal;
}

export class OutgoingRequests {
  readonly #send: (frame: Buffer) => void;
  readonly #pending = new Map<bigint, Pending>();
  #nextId = 1n;

  constructor(send: (frame: Buffer) => void) {
    this.#send = send;
  }

  get size(): number {
    return this.#pending.size;
  }

  request(method: string, body: Uint8Array, options: OutgoingRequestOptions = {}): Promise<Buffer> {
    const id = this.#nextId++;
    const deadlineMs = options.deadlineMs ?? 0;
    return new Promise<Buffer>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => {
        if (this.#pending.delete(id)) {
          cleanup();
          this.#send(encodeControl(MessageKind.CANCEL, id));
          reject(new MeshError('CANCELLED', 'request aborted'));
        }
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      };
      if (deadlineMs > 0) {
        timer = setTimeout(() => {
          if (this.#pending.delete(id)) {
            cleanup();
            reject(new MeshError('DEADLINE_EXCEEDED', `no response within ${deadlineMs} ms`));
          }
        }, deadlineMs);
      }
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(id, { resolve, reject, cleanup });
      this.#send(encodeRequest(id, 0, deadlineMs, method, body));
    });
  }

  /** A RESPONSE from the agent; ids we do not know are ignored (protocol.md §3.2). */
  onResponse(msg: ResponseMessage): void {
    const pending = this.#pending.get(msg.id);
    if (pending === undefined) return;
    this.#pending.delete(msg.id);
    pending.cleanup();
    if (msg.status === Status.OK) {
      pending.resolve(msg.body);
      return;
    }
    let code: ErrorCode = 'HANDLER_ERROR';
    let message = `agent answered status ${msg.status}`;
    let retryable = false;
    try {
      const parsed = parseJsonPayload(msg.body, 'error response');
      if (isErrorCode(parsed.code)) code = parsed.code;
      if (typeof parsed.message === 'string') message = parsed.message;
      retryable = parsed.retryable === true;
    } catch {
      // Keep the generic error: the status already says it failed.
    }
    pending.reject(new MeshError(code, message, { retryable }));
  }

  /** The connection is gone: every request still waiting fails. */
  rejectAll(err: Error): void {
    for (const pending of this.#pending.values()) {
      pending.cleanup();
      pending.reject(err);
    }
    this.#pending.clear();
  }
}
