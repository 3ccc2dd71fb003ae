// Byte transports for one connection: TCP, Unix stream socket or TLS, behind one small interface.
import { readFile } from 'node:fs/promises';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { FrameWriter, type InPlaceFrame } from '../protocol/frame-writer.ts';

export interface TlsClientOptions {
  /** PEM CA bundle file used to verify the spearlet (default: Node's bundled roots). */
  readonly caFile?: string | undefined;
  /** Client certificate and key files for mutual TLS. */
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  /** Name the spearlet's certificate must carry (default: the endpoint's host). */
  readonly servername?: string | undefined;
}

/** Where to connect: a Unix socket path, or host and port (with TLS when `tls` is set). */
export type TransportTarget =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly tls?: TlsClientOptions | undefined };

export interface TransportEvents {
  /** Bytes from the peer. The chunk belongs to the receiver. */
  onData(chunk: Buffer): void;
  /** The transport is gone (peer closed, reset, or destroyed locally). Called exactly once. */
  onClose(err: Error | undefined): void;
}

/** An open byte stream. After `destroy()` nothing more is delivered except the single onClose. */
export interface Transport {
  readonly description: string;
  /** Queues bytes for the peer (each frame is one write). */
  write(bytes: Buffer): void;
  /** Queues a frame that encodes itself into the writer's memory (FrameWriter.writeInPlace). */
  writeInPlace(frame: InPlaceFrame): void;
  /** Bytes queued locally and not yet handed to the kernel. */
  readonly bufferedBytes: number;
  /** Half-close after queued bytes are written; the peer's close completes it. */
  end(): void;
  destroy(err?: Error): void;
  /** Calls `cb` once the transport has closed (at once if it already has). */
  onClosed(cb: () => void): void;
}

export function describeTarget(target: TransportTarget): string {
  return target.kind === 'unix' ? `unix:${target.path}` : `${target.tls ? 'tls' : 'tcp'}:${target.host}:${target.port}`;
}

class SocketTransport implements Transport {
  readonly description: string;
  readonly #socket: net.Socket;
  readonly #writer: FrameWriter;
  #closed = false;
  readonly #closeWaiters: (() => void)[] = [];

  constructor(socket: net.Socket, description: string, events: TransportEvents) {
    this.description = description;
    this.#socket = socket;
    this.#writer = new FrameWriter(socket);
    let lastError: Error | undefined;
    socket.on('data', (chunk: Buffer) => {
      events.onData(chunk);
    });
    socket.on('error', (err) => {
      lastError = err;
      // A TLS socket that hits a fatal error after its handshake (the server's `certificate required` alert, say)
      // is not destroyed by Node: with writes queued behind the error it never closes. Close it here.
      socket.destroy();
    });
    socket.on('close', () => {
      if (this.#closed) return;
      this.#closed = true;
      events.onClose(lastError);
      for (const cb of this.#closeWaiters.splice(0)) cb();
    });
  }

  get bufferedBytes(): number {
    return this.#writer.bufferedBytes;
  }

  /** Frames written in one tick leave together (FrameWriter). */
  write(bytes: Buffer): void {
    if (this.#socket.destroyed || !this.#socket.writable) return;
    this.#writer.write(bytes);
  }

  writeInPlace(frame: InPlaceFrame): void {
    if (this.#socket.destroyed || !this.#socket.writable) return;
    this.#writer.writeInPlace(frame);
  }

  onClosed(cb: () => void): void {
    if (this.#closed) cb();
    else this.#closeWaiters.push(cb);
  }

  end(): void {
    // The frames of this tick go out before the FIN.
    this.#writer.end();
  }

  destroy(err?: Error): void {
    // Hand what this tick wrote (an ERROR frame, say) to the kernel before the socket goes.
    this.#writer.flush();
    this.#socket.destroy(err);
  }
}

async function tlsOptions(
  target: { host: string; port: number },
  options: TlsClientOptions,
): Promise<tls.ConnectionOptions> {
  const [ca, cert, key] = await Promise.all([
    options.caFile === undefined ? undefined : readFile(options.caFile),
    options.certFile === undefined ? undefined : readFile(options.certFile),
    options.keyFile === undefined ? undefined : readFile(options.keyFile),
  ]);
  const servername = options.servername ?? (net.isIP(target.host) === 0 ? target.host : undefined);
  return {
    host: target.host,
    port: target.port,
    rejectUnauthorized: true,
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    // Node checks the certificate against `servername` when set, else against `host` (IP SANs for an address).
    ...(servername === undefined ? {} : { servername }),
  };
}

/**
 * Opens a transport; for TLS the promise settles after the handshake and certificate check. Rejects with the
 * socket error, or a timeout error after `timeoutMs`. The socket is destroyed on any failure.
 */
export async function openTransport(
  target: TransportTarget,
  timeoutMs: number,
  events: TransportEvents,
): Promise<Transport> {
  const description = describeTarget(target);
  let socket: net.Socket;
  let readyEvent: 'connect' | 'secureConnect';
  if (target.kind === 'unix') {
    socket = net.connect({ path: target.path });
    readyEvent = 'connect';
  } else if (target.tls !== undefined) {
    socket = tls.connect(await tlsOptions(target, target.tls));
    readyEvent = 'secureConnect';
  } else {
    socket = net.connect({ host: target.host, port: target.port });
    readyEvent = 'connect';
  }
  return new Promise<Transport>((resolve, reject) => {
    const timer = setTimeout(() => {
      fail(new Error(`connect to ${description} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.removeListener(readyEvent, onReady);
      socket.destroy();
      reject(err);
    };
    const onError = (err: Error): void => {
      fail(err);
    };
    const onReady = (): void => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      if (target.kind === 'tcp') socket.setNoDelay(true);
      resolve(new SocketTransport(socket, description, events));
    };
    socket.once('error', onError);
    socket.once(readyEvent, onReady);
  });
}

/** Wait this long for the peer to close after our zero-length frame before destroying the socket. */
const CLOSE_LINGER_MS = 1_000;

/** Sends the orderly-close frame (a zero-length frame) and waits for the peer to close, destroying on a linger. */
export async function closeTransport(transport: Transport): Promise<void> {
  await new Promise<void>((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve();
    };
    // Not unref()ed: close() is awaited until the socket is gone.
    const timer = setTimeout(() => {
      transport.destroy();
      finish();
    }, CLOSE_LINGER_MS);
    transport.onClosed(finish);
    transport.write(Buffer.alloc(8));
    transport.end();
  });
}
