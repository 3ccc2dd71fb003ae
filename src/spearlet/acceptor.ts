// Accepting connections: the total connection limit, preface sniffing, and dispatch to a mesh session, the legacy
// (process runtime) hook, or a counted close.
import type { Socket } from 'node:net';
import type { Logger } from '../util/logger.ts';
import type { SpearletMetrics } from '../metrics/spearlet-metrics.ts';
import { MessageKind, encodeJson } from '../wire/index.ts';
import { sniffPreface } from './listener.ts';
import { PendingHandshakes, readHelloFrame } from './hello-gate.ts';

/**
 * Takes over a connection whose preface was a legacy secret. `firstBytes` are the bytes that followed the preface in
 * the same reads (the start of the first frame). The socket is paused with no 'data' listener. Return false to refuse
 * (the spearlet closes the socket and counts it).
 */
export type LegacyHandler = (secret: bigint, socket: Socket, firstBytes: Buffer) => boolean;

/** Sockets beyond maxConnections still get a CONNECTION_LIMIT ERROR, but only this many at once. */
const MAX_OVER_LIMIT_SOCKETS = 64;
/** How long an over-limit socket gets to show its preface. */
const OVER_LIMIT_PREFACE_MS = 1000;

export interface AcceptorHost {
  /** Authenticated connections (checked by the spearlet when a HELLO is admitted). */
  readonly maxConnections: number;
  readonly handshakeTimeoutMs: number;
  readonly maxHelloSize: number;
  readonly maxPendingHandshakes: number;
  readonly maxPendingHandshakesPerSource: number;
  readonly metrics: SpearletMetrics;
  readonly logger: Logger;
  readonly now: () => number;
  /** False once the spearlet is closing: new sockets are dropped. */
  accepting(): boolean;
  /** A mesh preface arrived: start a session with the bytes that followed it. */
  startMesh(socket: Socket, rest: Buffer, acceptedAt: number): void;
  legacyHandler(): LegacyHandler | undefined;
}

export class ConnectionAcceptor {
  readonly #host: AcceptorHost;
  readonly #sockets = new Set<Socket>();
  readonly #established = new Set<Socket>();
  readonly #pending: PendingHandshakes;
  #overLimit = 0;

  constructor(host: AcceptorHost) {
    this.#host = host;
    this.#pending = new PendingHandshakes(host.maxPendingHandshakes, host.maxPendingHandshakesPerSource);
  }

  /** Connections past their handshake (mesh sessions after WELCOME, legacy agents), counted against maxConnections. */
  get established(): number {
    return this.#established.size;
  }

  /** Connections still in their handshake. */
  get pending(): number {
    return this.#pending.size;
  }

  /** The handshake on `socket` succeeded: it no longer counts as pending. */
  handshakeDone(socket: Socket): void {
    if (this.#pending.delete(socket) && !socket.destroyed) this.#established.add(socket);
  }

  /** Connections counted against maxConnections (mesh, legacy and those still in the preface). */
  get size(): number {
    return this.#sockets.size;
  }

  accept(socket: Socket): void {
    const acceptedAt = this.#host.now();
    if (!this.#host.accepting()) {
      socket.destroy();
      return;
    }
    socket.on('error', () => undefined); // errors end in 'close'; sessions log their own
    // Limits before authentication: unauthenticated sockets have their own caps, so they cannot take the slots of
    // authenticated agents (maxConnections counts established connections only).
    const refused = this.#pending.add(socket);
    if (refused !== undefined) {
      this.#refuseOverLimit(socket, refused);
      return;
    }
    const { metrics } = this.#host;
    this.#sockets.add(socket);
    metrics.connectionsOpen.inc();
    socket.once('close', () => {
      this.#sockets.delete(socket);
      this.#established.delete(socket);
      this.#pending.delete(socket);
      metrics.connectionsOpen.dec();
    });
    if ('setNoDelay' in socket) socket.setNoDelay(true);
    void sniffPreface(socket, this.#host.handshakeTimeoutMs).then((result) => {
      if (result === null) {
        if (!socket.destroyed) {
          metrics.handshakes.inc({ result: 'timeout' });
          this.#host.logger.info({ remote: socket.remoteAddress }, 'no preface before the handshake deadline');
          socket.destroy();
        }
        return;
      }
      const { preface, rest } = result;
      if (preface.type === 'mesh') {
        metrics.connectionsTotal.inc({ protocol: 'mesh' });
        this.#readHello(socket, rest, acceptedAt);
        return;
      }
      if (preface.type === 'legacy') {
        metrics.connectionsTotal.inc({ protocol: 'legacy' });
        let taken = false;
        try {
          taken = this.#host.legacyHandler()?.(preface.secret, socket, rest) ?? false;
        } catch (err) {
          this.#host.logger.warn({ err }, 'legacy handler threw');
        }
        if (!taken) this.#rejectPreface(socket);
        else this.handshakeDone(socket);
        return;
      }
      this.#rejectPreface(socket);
    });
  }

  /** Reads the HELLO frame under --max-hello-size, then hands the socket to a mesh session. */
  #readHello(socket: Socket, rest: Buffer, acceptedAt: number): void {
    const { metrics, logger } = this.#host;
    const left = this.#host.handshakeTimeoutMs - (this.#host.now() - acceptedAt);
    void readHelloFrame(socket, rest, this.#host.maxHelloSize, left).then((r) => {
      if (r.ok) {
        this.#host.startMesh(socket, r.bytes, acceptedAt);
        return;
      }
      const remote = socket.remoteAddress ?? 'unix';
      if (r.reason === 'too_large') {
        metrics.handshakes.inc({ result: 'invalid' });
        logger.info({ remote, limit: this.#host.maxHelloSize }, 'HELLO larger than --max-hello-size: refused');
      } else if (r.reason === 'timeout') {
        metrics.handshakes.inc({ result: 'timeout' });
        logger.info({ remote }, 'no complete HELLO before the handshake deadline');
        const message = `no HELLO within ${this.#host.handshakeTimeoutMs} ms`;
        socket.end(encodeJson(MessageKind.ERROR, 0n, { code: 'HANDSHAKE_TIMEOUT', message }));
        setTimeout(() => socket.destroy(), 1000).unref();
      } else {
        if (r.reason === 'invalid') metrics.handshakes.inc({ result: 'invalid' });
        socket.destroy();
      }
    });
  }

  /** Destroys every counted connection (spearlet close). */
  destroyAll(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  /** A preface that is neither the mesh magic nor the secret of a task we started (protocol.md: close, count). */
  #rejectPreface(socket: Socket): void {
    this.#host.metrics.connectionsRejected.inc({ reason: 'invalid_preface' });
    // Never log the preface bytes: they may be somebody's legacy secret.
    this.#host.logger.warn({ remote: socket.remoteAddress ?? 'unix' }, 'invalid connection preface: closing');
    socket.destroy();
  }

  #refuseOverLimit(socket: Socket, cap: 'total' | 'source'): void {
    this.#host.metrics.connectionsRejected.inc({ reason: 'limit' });
    if (cap === 'source') {
      // One address holding many unfinished handshakes gets no courtesy reply.
      socket.destroy();
      return;
    }
    if (this.#overLimit >= MAX_OVER_LIMIT_SOCKETS) {
      socket.destroy();
      return;
    }
    this.#overLimit++;
    socket.once('close', () => {
      this.#overLimit--;
    });
    const limit = this.#host.maxPendingHandshakes;
    const wait = Math.min(this.#host.handshakeTimeoutMs, OVER_LIMIT_PREFACE_MS);
    void sniffPreface(socket, wait).then((result) => {
      if (result?.preface.type === 'mesh' && socket.writable) {
        const message = `spearlet has ${limit} connections in their handshake`;
        socket.end(encodeJson(MessageKind.ERROR, 0n, { code: 'CONNECTION_LIMIT', message }));
        setTimeout(() => socket.destroy(), OVER_LIMIT_PREFACE_MS).unref();
      } else {
        socket.destroy();
      }
    });
  }
}
