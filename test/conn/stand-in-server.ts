// A minimal mesh server for connection unit tests, built from the wire codec. It is a stand-in, not the spearlet:
// just enough protocol to drive the client through handshakes, requests, heartbeats, GOAWAY, REAUTH and faults.
import * as net from 'node:net';
import * as tls from 'node:tls';
import {
  FrameDecoder,
  MESH_MAGIC,
  MessageKind,
  RequestFlag,
  decodeMessage,
  encodeControl,
  encodeErrorResponse,
  encodeJson,
  encodeResponse,
  encodeSignal,
  parseJsonPayload,
  type RequestMessage,
} from '../../src/wire/index.ts';

export interface StandInOptions {
  readonly heartbeatMs?: number;
  readonly heartbeatTimeoutMs?: number;
  readonly tokenExp?: number | null;
  readonly maxInFlight?: number;
  /** Returns an auth error code to refuse the HELLO token, or undefined to accept it. */
  readonly checkToken?: (token: string) => string | undefined;
  readonly path?: string;
  readonly tls?: tls.TlsOptions;
}

export interface StandInSession {
  readonly socket: net.Socket;
  readonly hello: Record<string, unknown>;
  lastAccepted: bigint;
  send(frame: Buffer): void;
}

type Handler = (req: RequestMessage, session: StandInSession) => Buffer | Promise<Buffer> | 'hang';

export class StandInServer {
  readonly server: net.Server;
  readonly sessions: StandInSession[] = [];
  readonly requests: RequestMessage[] = [];
  readonly cancels: bigint[] = [];
  readonly reauthTokens: string[] = [];
  readonly signalsReceived: { name: string; body: string }[] = [];
  readonly handlers = new Map<string, Handler>();
  pingsReceived = 0;
  closeFramesReceived = 0;
  /** While frozen the server drops what it reads and answers nothing (a SIGSTOPped process, seen from the client). */
  frozen = false;
  readonly #options: StandInOptions;
  readonly #sockets = new Set<net.Socket>();

  constructor(options: StandInOptions = {}) {
    this.#options = options;
    const onSocket = (socket: net.Socket): void => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      socket.on('error', () => undefined);
      this.#serve(socket);
    };
    this.server = options.tls !== undefined ? tls.createServer(options.tls, onSocket) : net.createServer(onSocket);
    this.handlers.set('echo', (req) => Buffer.from(req.body));
    this.handlers.set('hang', () => 'hang');
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => {
      if (this.#options.path !== undefined) this.server.listen(this.#options.path, resolve);
      else this.server.listen(0, '127.0.0.1', resolve);
    });
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Sends GOAWAY on every session. */
  goaway(reason = 'draining', retryAfterMs = 0): void {
    for (const s of this.sessions) s.send(encodeJson(MessageKind.GOAWAY, s.lastAccepted, { reason, retryAfterMs }));
  }

  signal(name: string, body: Buffer): void {
    for (const s of this.sessions) s.send(encodeSignal(name, body));
  }

  /** Resets every open socket (an abrupt loss, like a killed process). */
  resetAll(): void {
    for (const s of this.#sockets) s.resetAndDestroy();
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
  }

  #serve(socket: net.Socket): void {
    let preface = Buffer.alloc(0);
    let session: StandInSession | undefined;
    const decoder = new FrameDecoder({
      onFrame: (body) => {
        const msg = decodeMessage(body);
        if (session === undefined) {
          if (msg.kind !== MessageKind.HELLO) {
            socket.destroy();
            return;
          }
          const hello = parseJsonPayload(msg.payload, 'HELLO');
          const refused = this.#options.checkToken?.(String(hello.token));
          if (refused !== undefined) {
            socket.end(encodeJson(MessageKind.ERROR, 0n, { code: refused, message: 'refused by stand-in' }));
            return;
          }
          const s: StandInSession = {
            socket,
            hello,
            lastAccepted: 0n,
            send: (frame) => {
              if (socket.writable) socket.write(frame);
            },
          };
          session = s;
          this.sessions.push(s);
          s.send(
            encodeJson(MessageKind.WELCOME, 0n, {
              v: 1,
              spearlet: 'stand-in',
              session: `s${this.sessions.length}`,
              heartbeatMs: this.#options.heartbeatMs ?? 1000,
              heartbeatTimeoutMs: this.#options.heartbeatTimeoutMs ?? 3000,
              maxFrame: 16777216,
              maxInFlight: this.#options.maxInFlight ?? 1024,
              tokenExp: this.#options.tokenExp ?? null,
              features: [],
            }),
          );
          return;
        }
        const s = session;
        switch (msg.kind) {
          case MessageKind.PING:
            this.pingsReceived++;
            s.send(encodeControl(MessageKind.PONG, msg.id));
            return;
          case MessageKind.CANCEL:
            this.cancels.push(msg.id);
            return;
          case MessageKind.SIGNAL:
            this.signalsReceived.push({ name: msg.name, body: msg.body.toString() });
            return;
          case MessageKind.REAUTH: {
            this.reauthTokens.push(String(parseJsonPayload(msg.payload, 'REAUTH').token));
            s.send(
              encodeResponse(
                msg.id,
                0,
                Buffer.from(JSON.stringify({ tokenExp: Math.floor(Date.now() / 1000) + 3600 })),
              ),
            );
            return;
          }
          case MessageKind.REQUEST: {
            this.requests.push(msg);
            if (msg.id > s.lastAccepted) s.lastAccepted = msg.id;
            const handler = this.handlers.get(msg.method);
            const noReply = (msg.flags & RequestFlag.NO_REPLY) !== 0;
            if (handler === undefined) {
              if (!noReply)
                s.send(encodeErrorResponse(msg.id, 404, 'METHOD_NOT_FOUND', `no method ${msg.method}`, false));
              return;
            }
            void Promise.resolve(handler(msg, s)).then((out) => {
              if (out !== 'hang' && !noReply) s.send(encodeResponse(msg.id, 0, out));
            });
            return;
          }
          default:
            return;
        }
      },
      onClose: () => {
        this.closeFramesReceived++;
        socket.end();
      },
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.frozen) return;
      if (preface.length < 8) {
        preface = Buffer.concat([preface, chunk]);
        if (preface.length < 8) return;
        if (!preface.subarray(0, 8).equals(MESH_MAGIC)) {
          socket.destroy();
          return;
        }
        chunk = preface.subarray(8);
      }
      decoder.push(chunk);
    });
  }
}
