// The raw baseline of the echo benchmarks: `[u64 LE length][u8 kind][u8 flags][u64 LE id][payload]` frames echoed
// over one connection, both ends coalescing the frames of one tick into one socket.write (what a careful
// hand-written implementation does); plus a minimal mesh server for bench/mesh-echo.ts.
import * as net from 'node:net';
import { FrameDecoder } from '../src/wire/frame.ts';
import { MessageKind, decodeMessage, encodeControl, encodeJson, encodeResponse } from '../src/wire/message.ts';

/** Length prefix plus kind, flags and id: the same 18 bytes a mesh REQUEST or RESPONSE carries before its prefix. */
export const RAW_HEADER_BYTES = 8 + 1 + 1 + 8;
const RAW_KIND_REQUEST = 3;
const RAW_KIND_RESPONSE = 4;
/**
 * Frames are written into slabs of this size; a flushed part is written again only once the socket took it whole (it
 * may hold it otherwise).
 */
const SLAB_BYTES = 64 * 1024;

/**
 * Gathers the frames written in one tick and hands them to the socket in one write at the end of the tick
 * (process.nextTick runs after the promise continuations that issued them). Frames are encoded straight into a
 * slab: no per-frame allocation, no second copy, and the slab is reused while the socket takes every write whole (the
 * mesh's FrameWriter does the same).
 */
export class TickWriter {
  readonly #socket: net.Socket;
  #slab = Buffer.allocUnsafe(SLAB_BYTES);
  /** Start of the unflushed part of the slab, and its end. */
  #start = 0;
  #end = 0;
  #scheduled = false;
  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#end === this.#start) return;
    this.#socket.write(this.#slab.subarray(this.#start, this.#end));
    // Nothing queued in the socket after write(): the kernel took the bytes before it returned and nobody holds the
    // slab any more, so the next tick starts at its beginning again (no new slab while writes complete at once).
    this.#start = this.#end = this.#socket.writableLength === 0 ? 0 : this.#end;
  };

  constructor(socket: net.Socket) {
    this.#socket = socket;
  }

  /** Appends one frame; it leaves with the others of this tick. */
  frame(kind: number, idLow: number, idHigh: number, payload: Uint8Array): void {
    const size = RAW_HEADER_BYTES + payload.length;
    if (this.#end + size > this.#slab.length) {
      // Flush what this slab holds and continue in a fresh one (large enough for this frame).
      this.#flush();
      this.#slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, size));
      this.#start = 0;
      this.#end = 0;
    }
    const b = this.#slab;
    const o = this.#end;
    const bodyLength = size - 8;
    b.writeUInt32LE(bodyLength, o);
    b.writeUInt32LE(0, o + 4);
    b[o + 8] = kind;
    b[o + 9] = 0;
    b.writeUInt32LE(idLow, o + 10);
    b.writeUInt32LE(idHigh, o + 14);
    b.set(payload, o + RAW_HEADER_BYTES);
    this.#end = o + size;
    if (!this.#scheduled) {
      this.#scheduled = true;
      process.nextTick(this.#flush);
    }
  }
}

/** Echoes every REQUEST as a RESPONSE with the same id and payload; TCP on 127.0.0.1, or the Unix `socketPath`. */
export async function startRawEchoServer(socketPath?: string): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const writer = new TickWriter(socket);
    const decoder = new FrameDecoder({
      onFrame: (body) => {
        writer.frame(RAW_KIND_RESPONSE, body.readUInt32LE(2), body.readUInt32LE(6), body.subarray(10));
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

/**
 * One connection. Requests carry increasing ids and the echo answers in order, so a FIFO of resolvers is all the
 * correlation needed; each answer's id is still checked against the head of the FIFO.
 */
export class RawEchoClient {
  readonly #socket: net.Socket;
  readonly #writer: TickWriter;
  readonly #waiting: ((body: Buffer) => void)[] = [];
  #head = 0;
  #nextId = 1;
  #expectId = 1;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    this.#writer = new TickWriter(socket);
    const decoder = new FrameDecoder({
      onFrame: (body) => {
        const id = body.readUInt32LE(2);
        if (id !== this.#expectId++ % 0x1_0000_0000) throw new Error(`raw echo: answer ${id} out of order`);
        const resolve = this.#waiting[this.#head++];
        if (this.#head > 1024) {
          this.#waiting.splice(0, this.#head);
          this.#head = 0;
        }
        resolve?.(body.subarray(10));
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

  /** The connection (tests count its writes). */
  get socket(): net.Socket {
    return this.#socket;
  }

  request(payload: Uint8Array): Promise<Buffer> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      const id = this.#nextId++;
      this.#writer.frame(RAW_KIND_REQUEST, id >>> 0, Math.floor(id / 0x1_0000_0000), payload);
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
