// A bare mesh protocol connection for load generation: preface + HELLO, wait for WELCOME, answer PINGs with PONG,
// optionally PING on its own. Far lighter than a MeshClient, so one process can hold thousands.
import * as net from 'node:net';
import {
  FrameDecoder,
  MESH_MAGIC,
  MessageKind,
  decodeMessage,
  encodeCloseFrame,
  encodeControl,
  encodeJson,
} from '../../src/wire/index.ts';

export type RawTarget = { readonly port: number; readonly host?: string } | { readonly path: string };

const PROTOCOL_VERSION = 1;

export class RawMeshConnection {
  readonly socket: net.Socket;
  /** Frames received after WELCOME (PINGs included). */
  received = 0;
  #pingSeq = 0n;
  #closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
  }

  /** Connects and completes the handshake; rejects on an ERROR frame, a socket error or `timeoutMs`. */
  static open(target: RawTarget, token: string, timeoutMs = 30_000): Promise<RawMeshConnection> {
    const socket =
      'path' in target
        ? net.connect({ path: target.path })
        : net.connect({ host: target.host ?? '127.0.0.1', port: target.port });
    const conn = new RawMeshConnection(socket);
    return new Promise((resolve, reject) => {
      let welcomed = false;
      const timer = setTimeout(() => {
        fail(new Error('bench: handshake timed out'));
      }, timeoutMs);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        if (!welcomed) reject(err);
      };
      const decoder = new FrameDecoder({
        onFrame: (body) => {
          const msg = decodeMessage(body);
          if (!welcomed) {
            if (msg.kind === MessageKind.WELCOME) {
              welcomed = true;
              clearTimeout(timer);
              resolve(conn);
            } else if (msg.kind === MessageKind.ERROR) {
              fail(new Error(`bench: handshake refused: ${msg.payload.toString('utf8')}`));
            }
            return;
          }
          conn.received++;
          if (msg.kind === MessageKind.PING) socket.write(encodeControl(MessageKind.PONG, msg.id));
        },
        onClose: () => {
          socket.end();
        },
      });
      socket.on('data', (chunk: Buffer) => {
        decoder.push(chunk);
      });
      socket.on('error', (err) => {
        fail(err);
      });
      socket.on('close', () => {
        conn.#closed = true;
        fail(new Error('bench: connection closed during the handshake'));
      });
      socket.once('connect', () => {
        if ('port' in target) socket.setNoDelay(true);
        const hello = encodeJson(MessageKind.HELLO, 0n, { v: PROTOCOL_VERSION, token, agent: 'bench', features: [] });
        socket.write(Buffer.concat([MESH_MAGIC, hello]));
      });
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  ping(): void {
    if (!this.#closed) this.socket.write(encodeControl(MessageKind.PING, ++this.#pingSeq));
  }

  /**
   * Orderly close frame; the spearlet closes first (so TIME_WAIT lands on its side and a handshake loop does not run
   * out of client ports). The socket is destroyed if the spearlet has not closed within 5 s.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.socket.write(encodeCloseFrame());
    setTimeout(() => this.socket.destroy(), 5000).unref();
  }

  destroy(): void {
    this.#closed = true;
    this.socket.destroy();
  }
}
