// Limits before authentication: the HELLO's size checked from its frame header, and the count of connections still
// in their handshake (in total and per source address), so unauthenticated peers cannot take memory or slots.
import type { Socket } from 'node:net';
import { MeshError } from '../errors.ts';
import { FRAME_HEADER_BYTES, MessageKind, encodeJson, readFrameLength } from '../wire/index.ts';

export type HelloGateResult =
  | { readonly ok: true; readonly bytes: Buffer }
  | { readonly ok: false; readonly reason: 'too_large' | 'closed' | 'timeout' | 'invalid' };

/**
 * Reads the first frame (the HELLO) after the preface. Its declared length is checked against `maxHelloSize` as soon
 * as the 8-byte header is in: a larger one gets ERROR FRAME_TOO_LARGE and the socket is ended without its body being
 * buffered. On success resolves with every byte read (the whole HELLO frame and whatever followed it in the same
 * reads) and leaves the socket paused with no 'data' listener, like sniffPreface.
 */
export function readHelloFrame(
  socket: Socket,
  first: Buffer,
  maxHelloSize: number,
  deadlineMs: number,
): Promise<HelloGateResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let need = -1;
    const finish = (result: HelloGateResult): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('end', onClose);
      if (result.ok) socket.pause();
      resolve(result);
    };
    const check = (): boolean => {
      if (need < 0) {
        if (length < FRAME_HEADER_BYTES) return false;
        const head = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length);
        let declared: number;
        try {
          declared = readFrameLength(head, 0);
        } catch {
          socket.destroy();
          finish({ ok: false, reason: 'invalid' });
          return true;
        }
        if (declared > maxHelloSize) {
          const message = `a frame of ${declared} bytes before WELCOME exceeds --max-hello-size ${maxHelloSize}`;
          socket.end(encodeJson(MessageKind.ERROR, 0n, { code: 'FRAME_TOO_LARGE', message }));
          // Whatever else arrives is discarded; the socket goes soon even if the peer keeps it open.
          socket.on('data', () => undefined);
          setTimeout(() => socket.destroy(), 1000).unref();
          finish({ ok: false, reason: 'too_large' });
          return true;
        }
        need = FRAME_HEADER_BYTES + declared;
      }
      if (length < need) return false;
      finish({ ok: true, bytes: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length) });
      return true;
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      length += chunk.length;
      check();
    };
    const onClose = (): void => {
      finish({ ok: false, reason: 'closed' });
    };
    const timer = setTimeout(
      () => {
        finish({ ok: false, reason: 'timeout' });
      },
      Math.max(0, deadlineMs),
    ).unref();
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('end', onClose);
    if (first.length > 0) {
      chunks.push(first);
      length = first.length;
      if (check()) return;
    }
    socket.resume();
  });
}

/** Counts connections that have not finished their handshake, in total and per source address. */
export class PendingHandshakes {
  readonly #max: number;
  readonly #maxPerSource: number;
  readonly #pending = new Map<Socket, string>();
  readonly #perSource = new Map<string, number>();

  constructor(max: number, maxPerSource: number) {
    this.#max = max;
    this.#maxPerSource = maxPerSource;
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Counts `socket` as pending, or returns which cap refuses it. */
  add(socket: Socket): 'total' | 'source' | undefined {
    if (this.#pending.size >= this.#max) return 'total';
    const source = socket.remoteAddress ?? 'unix';
    const n = this.#perSource.get(source) ?? 0;
    // Unix-socket peers are local processes: only the total cap applies to them.
    if (source !== 'unix' && n >= this.#maxPerSource) return 'source';
    this.#pending.set(socket, source);
    this.#perSource.set(source, n + 1);
    return undefined;
  }

  /** The handshake finished or the socket closed; idempotent. Returns whether it was pending. */
  delete(socket: Socket): boolean {
    const source = this.#pending.get(socket);
    if (source === undefined) return false;
    this.#pending.delete(socket);
    const n = (this.#perSource.get(source) ?? 1) - 1;
    if (n <= 0) this.#perSource.delete(source);
    else this.#perSource.set(source, n);
    return true;
  }
}

/** Frames a client may send behind HELLO before the WELCOME (they are held until the token is verified). */
export const MAX_QUEUED_BEFORE_WELCOME = 256;

/** The frames a client pipelined behind its HELLO, held (copied) until the WELCOME; a flood is a violation. */
export class PreWelcomeQueue {
  #bodies: Buffer[] = [];

  /** Keeps a copy of `body`; PROTOCOL_ERROR beyond MAX_QUEUED_BEFORE_WELCOME frames. */
  push(body: Buffer): void {
    if (this.#bodies.length >= MAX_QUEUED_BEFORE_WELCOME) {
      throw new MeshError('PROTOCOL_ERROR', `more than ${MAX_QUEUED_BEFORE_WELCOME} frames before WELCOME`);
    }
    this.#bodies.push(Buffer.from(body));
  }

  /** The held frames in arrival order; the queue is empty afterwards. */
  take(): Buffer[] {
    const bodies = this.#bodies;
    this.#bodies = [];
    return bodies;
  }
}
