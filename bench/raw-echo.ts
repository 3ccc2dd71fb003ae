// Baselines for bench/mesh-echo.ts: a raw [u64 length][body] echo server and FIFO client, and a minimal mesh server.
import * as net from 'node:net';
import { FrameDecoder, encodeFrame } from '../src/wire/frame.ts';
import { MessageKind, decodeMessage, encodeControl, encodeJson, encodeResponse } from '../src/wire/message.ts';

/** Echoes every frame back as one write; returns the listening server (TCP on 127.0.0.1, or the Unix `socketPath`). */
export async function startRawEchoServer(socketPath?: string): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const decoder = new FrameDecoder({
      onFrame: (body) => {
        socket.write(encodeFrame(body));
      },
      onClose: () => {
        socket.end();
      },
    });
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => {
    if (socketPath === undefined) server.listen(0, '127.0.0.1', resolve);
    else server.listen(socketPath, resolve);
  });
  return server;
}

/** One connection; answers arrive in order, so a FIFO of resolvers is all the correlation needed. */
export class RawEchoClient {
  readonly #socket: net.Socket;
  readonly #waiting: ((body: Buffer) => void)[] = [];
  #head = 0;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    const decoder = new FrameDecoder({
      onFrame: (body) => {
        const resolve = this.#waiting[this.#head++];
        if (this.#head > 1024) {
          this.#waiting.splice(0, this.#head);
          this.#head = 0;
        }
        resolve?.(body);
      },
      onClose: () => undefined,
    });
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
    });
  }

  /** A TCP port on 127.0.0.1, or a Unix socket path. */
  static async connect(target: number | string): Promise<RawEchoClient> {
    const socket =
      typeof target === 'number' ? net.connect({ host: '127.0.0.1', port: target }) : net.connect({ path: target });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    if (typeof target === 'number') socket.setNoDelay(true);
    return new RawEchoClient(socket);
  }

  request(body: Uint8Array): Promise<Buffer> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.#socket.write(encodeFrame(body));
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}

/**
 * The least a mesh server can do: preface, WELCOME for any HELLO, RESPONSE echoing every REQUEST, PONG. No auth, no
 * handler table, no metrics. Measuring MeshClient against it separates the client's cost from the spearlet's.
 */
export async function startMinimalMeshServer(): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    let preface = 8;
    const decoder = new FrameDecoder({
      onFrame: (body) => {
        const msg = decodeMessage(body);
        if (msg.kind === MessageKind.REQUEST) socket.write(encodeResponse(msg.id, 0, msg.body));
        else if (msg.kind === MessageKind.HELLO)
          socket.write(encodeJson(MessageKind.WELCOME, 0n, { v: 1, spearlet: 'minimal', heartbeatMs: 1000 }));
        else if (msg.kind === MessageKind.PING) socket.write(encodeControl(MessageKind.PONG, msg.id));
      },
      onClose: () => {
        socket.end();
      },
    });
    socket.on('data', (chunk: Buffer) => {
      if (preface > 0) {
        const skip = Math.min(preface, chunk.length);
        preface -= skip;
        chunk = chunk.subarray(skip);
      }
      if (chunk.length > 0) decoder.push(chunk);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
