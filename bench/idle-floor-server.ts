// The floor of the idle suite: a minimal hand-written server for the same heartbeat traffic as the spearlet (child
// process; configured from BENCH_SPEARLET like bench/spearlet-child.ts; prints `ready <{pid, port}>`). It accepts the
// `SPEARMS1` preface and any HELLO without verifying it, answers a fixed WELCOME, then answers every PING frame with a
// PONG carrying the same id: one `socket.write` per received chunk. Liveness is one flag per connection, judged by
// one sweep over a Set every heartbeatMs/4: a connection that sent no PING for two intervals gets a PING every
// interval (as the spearlet PINGs a client that does not PING it), one silent for heartbeatTimeoutMs is destroyed.
// No streams
// beyond the socket itself, no per-connection timer, no logging, no metrics: the least a Node server can do here.
import * as net from 'node:net';
import { MESH_MAGIC } from '../src/wire/preface.ts';
import { MessageKind, encodeControl, encodeJson } from '../src/wire/message.ts';
import type { BenchSpearletConfig } from './lib/spearlet-process.ts';

const cfg = JSON.parse(process.env.BENCH_SPEARLET ?? '{}') as BenchSpearletConfig;
const heartbeatMs = cfg.heartbeatMs ?? 1000;
const timeoutMs = cfg.heartbeatTimeoutMs ?? heartbeatMs * 3;

const WELCOME = encodeJson(MessageKind.WELCOME, 0n, {
  v: 1,
  session: 'floor',
  spearlet: cfg.id,
  heartbeatMs,
  maxFrameSize: 16 * 1024 * 1024,
  features: [],
});
const PING = encodeControl(MessageKind.PING, 1n);
/** [u64 LE length][u8 kind][u8 flags][u64 LE id]: a PING or PONG frame is 18 bytes. */
const CONTROL_FRAME_BYTES = 18;
const KIND_OFFSET = 8;

interface Conn {
  readonly socket: net.Socket;
  welcomed: boolean;
  /** Bytes of an incomplete frame (or preface) left over from the previous chunk. */
  rest: Buffer | undefined;
  received: boolean;
  lastReceivedAt: number;
  pinged: boolean;
  lastPeerPingAt: number;
  lastPingAt: number;
}

const conns = new Set<Conn>();

function onData(conn: Conn, chunk: Buffer): void {
  let buf = conn.rest === undefined ? chunk : Buffer.concat([conn.rest, chunk]);
  conn.rest = undefined;
  let offset = 0;
  if (!conn.welcomed) {
    if (buf.length < MESH_MAGIC.length) {
      conn.rest = buf;
      return;
    }
    if (!buf.subarray(0, MESH_MAGIC.length).equals(MESH_MAGIC)) {
      conn.socket.destroy();
      return;
    }
    offset = MESH_MAGIC.length;
  }
  let pongs: Buffer | undefined;
  let pongEnd = 0;
  while (buf.length - offset >= 8) {
    const length = buf.readUInt32LE(offset);
    if (buf.readUInt32LE(offset + 4) !== 0 || length > 1 << 20) {
      conn.socket.destroy();
      return;
    }
    if (buf.length - offset - 8 < length) break;
    conn.received = true;
    const kind = buf[offset + KIND_OFFSET];
    if (!conn.welcomed) {
      conn.welcomed = true;
      conn.socket.write(WELCOME);
    } else if (kind === MessageKind.PING && length + 8 === CONTROL_FRAME_BYTES) {
      // The PONG is the PING with its kind byte changed; the PONGs of one chunk leave in one write.
      conn.pinged = true;
      pongs ??= Buffer.allocUnsafe(buf.length - offset);
      buf.copy(pongs, pongEnd, offset, offset + CONTROL_FRAME_BYTES);
      pongs[pongEnd + KIND_OFFSET] = MessageKind.PONG;
      pongEnd += CONTROL_FRAME_BYTES;
    } else if (length === 0) {
      conn.socket.end();
      return;
    }
    offset += 8 + length;
  }
  if (offset < buf.length) {
    buf = buf.subarray(offset);
    conn.rest = conn.welcomed ? Buffer.from(buf) : Buffer.concat([MESH_MAGIC, buf]);
  }
  if (pongs !== undefined) conn.socket.write(pongs.subarray(0, pongEnd));
}

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  const conn: Conn = {
    socket,
    welcomed: false,
    rest: undefined,
    received: false,
    lastReceivedAt: Date.now(),
    pinged: false,
    lastPeerPingAt: Number.NEGATIVE_INFINITY,
    lastPingAt: 0,
  };
  conns.add(conn);
  socket.on('data', (chunk: Buffer) => {
    onData(conn, chunk);
  });
  socket.on('error', () => {
    socket.destroy();
  });
  socket.on('close', () => {
    conns.delete(conn);
  });
});
server.maxConnections = cfg.maxConnections ?? 100_000;

setInterval(
  () => {
    const now = Date.now();
    for (const conn of conns) {
      if (conn.received) {
        conn.received = false;
        conn.lastReceivedAt = now;
      } else if (now - conn.lastReceivedAt >= timeoutMs) {
        conn.socket.destroy();
        continue;
      }
      if (conn.pinged) {
        conn.pinged = false;
        conn.lastPeerPingAt = now;
      }
      if (conn.welcomed && now - conn.lastPeerPingAt >= 2 * heartbeatMs && now - conn.lastPingAt >= heartbeatMs) {
        conn.lastPingAt = now;
        conn.socket.write(PING);
      }
    }
  },
  Math.max(20, Math.floor(heartbeatMs / 4)),
).unref();

server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => {
  const address = server.address() as net.AddressInfo;
  process.stdout.write(`ready ${JSON.stringify({ pid: process.pid, port: address.port, socketPath: null })}\n`);
});
process.on('SIGTERM', () => {
  process.exit(0);
});
