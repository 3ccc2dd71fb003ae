// The spearlet's listening sockets (TCP, optional TLS, optional Unix socket) and connection-preface sniffing.
import { lstat, unlink } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { classifyPreface, PREFACE_BYTES, type Preface } from '../wire/index.ts';
import type { HostPort, SpearletTlsOptions } from './options.ts';

export interface SniffResult {
  readonly preface: Preface;
  /** Bytes that arrived after the 8-byte preface in the same reads. */
  readonly rest: Buffer;
}

/**
 * Reads exactly the 8-byte preface from a fresh socket. Resolves null when the socket closes or the deadline passes
 * first. On success the socket is left paused with no 'data' listener: the new owner attaches one and resumes.
 */
export function sniffPreface(socket: Socket, timeoutMs: number): Promise<SniffResult | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const done = (result: SniffResult | null): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('end', onClose);
      if (result !== null) socket.pause();
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      length += chunk.length;
      if (length < PREFACE_BYTES) return;
      const all = chunks.length === 1 ? chunk : Buffer.concat(chunks, length);
      done({ preface: classifyPreface(all.subarray(0, PREFACE_BYTES)), rest: all.subarray(PREFACE_BYTES) });
    };
    const onClose = (): void => {
      done(null);
    };
    const timer = setTimeout(() => {
      done(null);
    }, timeoutMs).unref();
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('end', onClose);
  });
}

export interface Listeners {
  readonly tcp: Server | undefined;
  readonly unix: Server | undefined;
  readonly tcpAddress: HostPort | undefined;
  readonly socketPath: string | undefined;
  close(): Promise<void>;
}

export interface ListenOptions {
  listen: HostPort | null;
  socketPath: string | undefined;
  tls: SpearletTlsOptions | undefined;
  handshakeTimeoutMs: number;
  onSocket: (socket: Socket) => void;
  /** A TLS client that failed its handshake (plaintext, no certificate, bad certificate). */
  onTlsError: (err: Error, socket: TLSSocket) => void;
}

function listen(server: Server, args: { port: number; host: string } | { path: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(err);
    };
    server.once('error', onError);
    server.listen(args, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function closeServer(server: Server | undefined): Promise<void> {
  if (server === undefined || !server.listening) return Promise.resolve();
  return new Promise((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
}

/** Removes a stale Unix socket left by a crashed spearlet; refuses to touch anything that is not a socket. */
async function removeStaleSocket(path: string): Promise<void> {
  try {
    const st = await lstat(path);
    if (!st.isSocket()) throw new Error(`${path} exists and is not a socket`);
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

export async function openListeners(o: ListenOptions): Promise<Listeners> {
  let tcp: Server | undefined;
  let unix: Server | undefined;
  const servers: Server[] = [];
  try {
    if (o.listen !== null) {
      if (o.tls !== undefined) {
        const requireCert = o.tls.clientCa !== undefined;
        const server = createTlsServer({
          cert: o.tls.cert,
          key: o.tls.key,
          ...(requireCert ? { ca: o.tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
          handshakeTimeout: o.handshakeTimeoutMs,
          minVersion: 'TLSv1.2',
        });
        server.on('secureConnection', (socket: TLSSocket) => {
          o.onSocket(socket);
        });
        server.on('tlsClientError', (err, socket) => {
          o.onTlsError(err, socket);
        });
        tcp = server;
      } else {
        tcp = createServer({ noDelay: true }, o.onSocket);
      }
      servers.push(tcp);
      await listen(tcp, { port: o.listen.port, host: o.listen.host });
    }
    if (o.socketPath !== undefined) {
      await removeStaleSocket(o.socketPath);
      unix = createServer(o.onSocket);
      servers.push(unix);
      await listen(unix, { path: o.socketPath });
    }
  } catch (err) {
    await Promise.all(servers.map(closeServer));
    throw err;
  }
  const addr = tcp?.address() as AddressInfo | null | undefined;
  const socketPath = o.socketPath;
  let closing: Promise<void> | undefined;
  return {
    tcp,
    unix,
    tcpAddress: addr ? { host: addr.address, port: addr.port } : undefined,
    socketPath,
    close: () => {
      closing ??= (async () => {
        await Promise.all([closeServer(tcp), closeServer(unix)]);
        if (socketPath !== undefined) await unlink(socketPath).catch(() => undefined);
      })();
      return closing;
    },
  };
}
