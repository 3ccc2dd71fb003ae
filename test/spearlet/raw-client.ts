// A deliberately dumb mesh client for spearlet tests: raw frames in, decoded messages out, nothing automatic
// (no PONGs, no heartbeats), so tests control every byte the spearlet sees.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import {
  FrameDecoder,
  MESH_MAGIC,
  MessageKind,
  decodeMessage,
  encodeControl,
  encodeJson,
  encodeRequest,
  parseJsonPayload,
  type MeshMessage,
} from '../../src/wire/index.ts';

export type Event = { type: 'message'; msg: MeshMessage } | { type: 'close-frame' } | { type: 'end' };

export interface ConnectTarget {
  port?: number;
  host?: string;
  path?: string;
  tls?: ConnectionOptions;
}

export class RawClient {
  readonly socket: Socket;
  readonly #events: Event[] = [];
  #waiters: (() => void)[] = [];
  #ended = false;
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    const decoder = new FrameDecoder(
      {
        onFrame: (body) => {
          this.#push({ type: 'message', msg: decodeMessage(Buffer.from(body)) });
        },
        onClose: () => {
          this.#push({ type: 'close-frame' });
        },
      },
      { maxFrameSize: 64 * 1024 * 1024 },
    );
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
    });
    // A fatal TLS alert after the handshake (mTLS `certificate required`) emits 'error' without destroying the
    // socket; bytes written after it never flush, so the socket would never close. Close it, as a real client must.
    socket.on('error', () => {
      socket.destroy();
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#ended = true;
        this.#push({ type: 'end' });
        resolve();
      });
    });
  }

  static connect(target: ConnectTarget): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      let socket: Socket;
      const onConnect = (): void => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      };
      if (target.tls !== undefined) {
        socket = tlsConnect({ port: target.port, host: target.host ?? '127.0.0.1', ...target.tls }, onConnect);
      } else if (target.path !== undefined) {
        socket = netConnect({ path: target.path }, onConnect);
      } else {
        socket = netConnect({ port: target.port ?? 0, host: target.host ?? '127.0.0.1' }, onConnect);
      }
      socket.once('error', reject);
    });
  }

  /** Connects, sends the preface and HELLO, and returns the client plus the WELCOME JSON (throws on ERROR). */
  static async open(
    target: ConnectTarget,
    token: string,
    agent = 'test-agent',
  ): Promise<{ client: RawClient; welcome: Record<string, unknown> }> {
    const client = await RawClient.connect(target);
    client.write(MESH_MAGIC);
    client.hello(token, agent);
    const msg = await client.nextMessage();
    if (msg.kind !== MessageKind.WELCOME) {
      const json = 'payload' in msg ? parseJsonPayload(msg.payload, 'ERROR') : {};
      client.destroy();
      throw new Error(`expected WELCOME, got kind ${msg.kind}: ${JSON.stringify(json)}`);
    }
    return { client, welcome: parseJsonPayload(msg.payload, 'WELCOME') };
  }

  #push(e: Event): void {
    this.#events.push(e);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  hello(token: string, agent = 'test-agent'): void {
    this.write(encodeJson(MessageKind.HELLO, 0n, { v: 1, token, agent, features: ['cancel', 'signals', 'reauth'] }));
  }

  request(
    id: bigint,
    method: string,
    body: string | Uint8Array = '',
    options: { deadlineMs?: number; flags?: number } = {},
  ): void {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    this.write(encodeRequest(id, options.flags ?? 0, options.deadlineMs ?? 0, method, bytes));
  }

  cancel(id: bigint): void {
    this.write(encodeControl(MessageKind.CANCEL, id));
  }

  /** The next event, waiting up to timeoutMs. */
  async next(timeoutMs = 10_000): Promise<Event> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const e = this.#events.shift();
      if (e !== undefined) return e;
      if (this.#ended) return { type: 'end' };
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next mesh message, skipping PINGs; throws when the connection ends first. */
  async nextMessage(timeoutMs = 10_000, options: { skipPings?: boolean } = {}): Promise<MeshMessage> {
    const skip = options.skipPings ?? true;
    for (;;) {
      const e = await this.next(timeoutMs);
      if (e.type !== 'message') throw new Error(`connection ${e.type} while waiting for a message`);
      if (skip && e.msg.kind === MessageKind.PING) continue;
      return e.msg;
    }
  }

  /** Waits for the ERROR frame that precedes a close, and the close. Returns its JSON. */
  async expectErrorThenClose(timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const msg = await this.nextMessage(timeoutMs);
    if (msg.kind !== MessageKind.ERROR) throw new Error(`expected ERROR, got kind ${msg.kind}`);
    const json = parseJsonPayload(msg.payload, 'ERROR');
    await this.expectEnd(timeoutMs);
    return json;
  }

  /** Waits until the connection ends (close frame and/or socket end), failing on any message other than PING. */
  async expectEnd(timeoutMs = 10_000): Promise<void> {
    for (;;) {
      const e = await this.next(timeoutMs);
      if (e.type === 'end') return;
      if (e.type === 'message' && e.msg.kind !== MessageKind.PING) {
        throw new Error(`expected the end, got kind ${e.msg.kind}`);
      }
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function json(msg: MeshMessage): Record<string, unknown> {
  if (!('payload' in msg)) throw new Error(`kind ${msg.kind} has no JSON payload`);
  return parseJsonPayload(msg.payload, 'test');
}

export function errorBody(msg: MeshMessage): Record<string, unknown> {
  if (msg.kind !== MessageKind.RESPONSE) throw new Error(`expected RESPONSE, got kind ${msg.kind}`);
  return parseJsonPayload(msg.body, 'error body');
}
