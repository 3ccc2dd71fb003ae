// One legacy (Go SPEAR) agent connection, after its secret preface, offered to the runtime as a TaskChannel.
import type { Socket } from 'node:net';
import { MeshError } from '../../errors.ts';
import { silentLogger, type Logger } from '../../util/logger.ts';
import { FrameDecoder, encodeCloseFrame } from '../../wire/frame.ts';
import {
  LegacySignal,
  decodeCustomResponse,
  decodeLegacyMessage,
  encodeLegacyInvoke,
  encodeLegacyMethodNotFound,
  encodeLegacyResponse,
  encodeLegacySignal,
  type LegacyMessage,
} from '../../wire/legacy/envelope.ts';
import type { LegacyMethodHandler, TaskChannel } from './task-runtime.ts';

/** After Terminate, how long the agent gets to send its zero-length frame before the socket is cut. */
export const DEFAULT_TERMINATE_TIMEOUT_MS = 5000;
/** TransportResponse.code for a handler that threw. */
export const LEGACY_HANDLER_FAILED_CODE = 1;

export interface LegacySessionOptions {
  readonly taskId: string;
  readonly socket: Socket;
  /** Bytes that followed the preface in the same reads. */
  readonly firstBytes: Buffer;
  /** Looks up the handler for an agent's request by legacy method number. */
  readonly handlerFor: (method: number) => LegacyMethodHandler | undefined;
  readonly maxFrameSize?: number;
  readonly terminateTimeoutMs?: number;
  readonly logger?: Logger;
}

interface Pending {
  readonly resolve: (data: Buffer) => void;
  readonly reject: (err: Error) => void;
  readonly cleanup: () => void;
}

const INT64_MAX = (1n << 63n) - 1n;

/**
 * Owns the socket from construction on. invoke() sends a Custom request and resolves with CustomResponse.data;
 * requests from the agent go to the runtime's legacy handlers (code 2 "method not found" otherwise). After the
 * connection closes, in-flight invocations reject with TASK_LOST and new ones with TASK_NOT_FOUND.
 */
export class LegacySession implements TaskChannel {
  readonly protocol = 'legacy' as const;
  readonly taskId: string;
  readonly #socket: Socket;
  readonly #handlerFor: (method: number) => LegacyMethodHandler | undefined;
  readonly #terminateTimeoutMs: number;
  readonly #log: Logger;
  readonly #decoder: FrameDecoder;
  readonly #pending = new Map<bigint, Pending>();
  /** Aborted when the connection closes, for handlers of the agent's requests. */
  readonly #connection = new AbortController();
  #nextId = 1n;
  #open = true;
  #terminating = false;
  #peerClosed = false;
  #terminateTimer: NodeJS.Timeout | undefined;
  readonly #closed: Promise<void>;

  constructor(options: LegacySessionOptions) {
    this.taskId = options.taskId;
    this.#socket = options.socket;
    this.#handlerFor = options.handlerFor;
    this.#terminateTimeoutMs = options.terminateTimeoutMs ?? DEFAULT_TERMINATE_TIMEOUT_MS;
    this.#log = (options.logger ?? silentLogger()).child({ component: 'legacy-session', taskId: options.taskId });
    this.#decoder = new FrameDecoder(
      {
        onFrame: (body) => {
          this.#onFrame(body);
        },
        onClose: () => {
          this.#onPeerClose();
        },
      },
      options.maxFrameSize !== undefined ? { maxFrameSize: options.maxFrameSize } : {},
    );
    const socket = this.#socket;
    this.#closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#finish();
        resolve();
      });
    });
    socket.on('error', (err) => {
      this.#log.debug({ err: err.message }, 'socket error');
    });
    socket.on('data', (chunk: Buffer) => {
      this.#push(chunk);
    });
    if (options.firstBytes.length > 0) this.#push(options.firstBytes);
    socket.resume();
  }

  /** Resolves once the socket is closed. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  get open(): boolean {
    return this.#open;
  }

  invoke(method: string, params: string, signal?: AbortSignal): Promise<Buffer> {
    if (!this.#open || this.#terminating || this.#peerClosed) {
      return Promise.reject(new MeshError('TASK_NOT_FOUND', `task ${this.taskId} is not connected`));
    }
    if (signal?.aborted === true) return Promise.reject(new MeshError('CANCELLED', 'invocation aborted'));
    const id = this.#nextId;
    this.#nextId = this.#nextId === INT64_MAX ? 1n : this.#nextId + 1n;
    const frame = encodeLegacyInvoke(id, method, params);
    return new Promise<Buffer>((resolve, reject) => {
      const onAbort = (): void => {
        // The legacy protocol has no cancel: the agent may still answer, and that answer is dropped.
        if (this.#pending.delete(id)) {
          cleanup();
          reject(new MeshError('CANCELLED', 'invocation aborted'));
        }
      };
      const cleanup = (): void => {
        signal?.removeEventListener('abort', onAbort);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(id, { resolve, reject, cleanup });
      this.#socket.write(frame);
    });
  }

  /** Sends Terminate; the agent answers with a zero-length frame and closes (or is cut after the timeout). */
  terminate(): void {
    if (!this.#open || this.#terminating) return;
    this.#terminating = true;
    this.#log.info('sending Terminate');
    this.#socket.write(encodeLegacySignal(LegacySignal.Terminate));
    this.#terminateTimer = setTimeout(() => {
      this.#log.warn({ timeoutMs: this.#terminateTimeoutMs }, 'agent did not close after Terminate');
      this.#socket.destroy();
    }, this.#terminateTimeoutMs);
    this.#terminateTimer.unref();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  // ---- inbound ------------------------------------------------------------------------------------------------

  #push(chunk: Buffer): void {
    if (!this.#open) return;
    try {
      this.#decoder.push(chunk);
    } catch (err) {
      const code = err instanceof MeshError ? err.code : 'LEGACY_ENVELOPE_INVALID';
      this.#log.warn({ code, err: err instanceof Error ? err.message : String(err) }, 'bad legacy frame: closing');
      this.#socket.destroy();
    }
  }

  #onFrame(body: Buffer): void {
    // A decode error propagates out of push() and closes the connection (LEGACY_ENVELOPE_INVALID).
    const msg = decodeLegacyMessage(body);
    switch (msg.type) {
      case 'response':
        this.#onResponse(msg);
        return;
      case 'request':
        this.#onRequest(msg);
        return;
      case 'signal':
        this.#log.debug({ signal: msg.method }, 'ignoring signal from agent');
        return;
    }
  }

  #onResponse(msg: Extract<LegacyMessage, { type: 'response' }>): void {
    const pending = this.#pending.get(msg.id);
    if (pending === undefined) {
      this.#log.debug({ id: String(msg.id) }, 'response for no pending invocation');
      return;
    }
    this.#pending.delete(msg.id);
    pending.cleanup();
    if (msg.code !== 0) {
      pending.reject(
        new MeshError('HANDLER_ERROR', `agent of task ${this.taskId} answered code ${msg.code}: ${msg.message}`),
      );
      return;
    }
    try {
      // Copied: the view would keep the whole socket chunk alive.
      pending.resolve(Buffer.from(decodeCustomResponse(msg.response)));
    } catch (err) {
      pending.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #onRequest(msg: Extract<LegacyMessage, { type: 'request' }>): void {
    const handler = this.#handlerFor(msg.method);
    if (handler === undefined) {
      this.#log.debug({ method: msg.method }, 'agent called an unknown method');
      this.#socket.write(encodeLegacyMethodNotFound(msg.id));
      return;
    }
    const request = Buffer.from(msg.request);
    void (async () => {
      let frame: Buffer;
      try {
        const out = await handler({
          taskId: this.taskId,
          method: msg.method,
          request,
          signal: this.#connection.signal,
        });
        frame = encodeLegacyResponse(msg.id, 0, '', out ?? new Uint8Array(0));
      } catch (err) {
        const message = err instanceof Error ? err.message : 'handler failed';
        this.#log.warn({ method: msg.method, err: message }, 'legacy handler failed');
        frame = encodeLegacyResponse(msg.id, LEGACY_HANDLER_FAILED_CODE, message, new Uint8Array(0));
      }
      if (this.#open) this.#socket.write(frame);
    })();
  }

  #onPeerClose(): void {
    this.#peerClosed = true;
    this.#log.info({ terminating: this.#terminating }, 'agent closed the connection');
    this.#failPending();
    // Our side has nothing more to say either: the zero-length frame, then the end of the stream.
    if (!this.#socket.destroyed) this.#socket.end(encodeCloseFrame());
  }

  #failPending(): void {
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.cleanup();
      p.reject(new MeshError('TASK_LOST', `the agent connection of task ${this.taskId} closed during the invocation`));
    }
  }

  #finish(): void {
    if (!this.#open) return;
    this.#open = false;
    clearTimeout(this.#terminateTimer);
    this.#connection.abort(new MeshError('TASK_LOST', `the agent connection of task ${this.taskId} closed`));
    this.#failPending();
  }
}
