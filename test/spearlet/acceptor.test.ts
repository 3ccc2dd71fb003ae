// ConnectionAcceptor on real loopback sockets with a fake clock: node:test's mock timers stand in for the handshake
// deadline's setTimeout (a real wait would make the test slow and timing-dependent) and `now` is a counter.
import { afterEach, beforeEach, describe, it, mock, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { ConnectionAcceptor } from '../../src/spearlet/acceptor.ts';
import { SpearletMetrics } from '../../src/metrics/spearlet-metrics.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { MESH_MAGIC, MessageKind, encodeJson } from '../../src/wire/index.ts';

const HANDSHAKE_MS = 5_000;

interface Rig {
  acceptor: ConnectionAcceptor;
  metrics: SpearletMetrics;
  started: { socket: net.Socket; acceptedAt: number }[];
  /** Connects a client and waits until the acceptor has taken the server side. */
  connect(): Promise<{ client: net.Socket; server: net.Socket }>;
  clock: { now: number };
}

async function rig(t: TestContext, caps: { total: number; perSource: number }): Promise<Rig> {
  const clock = { now: 1_000 };
  const metrics = new SpearletMetrics({ spearlet: 'acceptor-test' });
  const started: Rig['started'] = [];
  const acceptor = new ConnectionAcceptor({
    maxConnections: 100,
    handshakeTimeoutMs: HANDSHAKE_MS,
    maxHelloSize: 64 * 1024,
    maxPendingHandshakes: caps.total,
    maxPendingHandshakesPerSource: caps.perSource,
    metrics,
    logger: silentLogger(),
    now: () => clock.now,
    accepting: () => true,
    startMesh: (socket, _rest, acceptedAt) => {
      started.push({ socket, acceptedAt });
    },
    legacyHandler: () => undefined,
  });
  const accepted: net.Socket[] = [];
  const server = net.createServer((socket) => {
    accepted.push(socket);
    acceptor.accept(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const clients: net.Socket[] = [];
  t.after(() => {
    for (const c of clients) c.destroy();
    acceptor.destroyAll();
    for (const s of accepted) s.destroy();
    server.close();
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    acceptor,
    metrics,
    started,
    clock,
    async connect() {
      const before = accepted.length;
      const client = net.connect(port, '127.0.0.1');
      client.on('error', () => undefined);
      clients.push(client);
      await once(client, 'connect');
      while (accepted.length === before) await once(server, 'connection');
      return { client, server: accepted[before] as net.Socket };
    },
  };
}

/** The value of one counter series in the metrics text, 0 when absent. */
async function counter(metrics: SpearletMetrics, line: string): Promise<number> {
  const text = await metrics.text();
  const found = text.split('\n').find((l) => l.startsWith(line));
  return found === undefined ? 0 : Number(found.split(' ').at(-1));
}

describe('ConnectionAcceptor', () => {
  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout'] });
  });
  afterEach(() => {
    mock.timers.reset();
  });

  it('closes a connection that sends no preface once the handshake deadline passes, not before', async (t) => {
    const r = await rig(t, { total: 10, perSource: 10 });
    const { server } = await r.connect();
    assert.equal(r.acceptor.pending, 1);
    mock.timers.tick(HANDSHAKE_MS - 1);
    assert.equal(server.destroyed, false, 'still inside the deadline');
    const closed = once(server, 'close');
    mock.timers.tick(1);
    await closed;
    assert.equal(r.acceptor.pending, 0);
    assert.equal(await counter(r.metrics, 'spear_mesh_handshakes_total{result="timeout"'), 1);
  });

  it('answers HANDSHAKE_TIMEOUT when the preface came but the HELLO did not, counting from acceptance', async (t) => {
    const r = await rig(t, { total: 10, perSource: 10 });
    const { client } = await r.connect();
    const received: Buffer[] = [];
    client.on('data', (c: Buffer) => received.push(c));
    // The preface arrives 2 s (fake) after acceptance: the HELLO gets the remaining 3 s, not a fresh 5 s.
    r.clock.now += 2_000;
    client.write(MESH_MAGIC);
    // The preface was read once the connection is counted as mesh; the HELLO deadline runs from then.
    while ((await counter(r.metrics, 'spear_mesh_connections_total{protocol="mesh"')) === 0) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    const ended = once(client, 'end');
    mock.timers.tick(3_000);
    await ended;
    const expected = encodeJson(MessageKind.ERROR, 0n, {
      code: 'HANDSHAKE_TIMEOUT',
      message: `no HELLO within ${HANDSHAKE_MS} ms`,
    });
    assert.deepEqual(Buffer.concat(received), expected);
    assert.equal(r.started.length, 0);
  });

  it('caps pending handshakes per source and in total; a finished handshake frees its slot', async (t) => {
    const r = await rig(t, { total: 3, perSource: 2 });
    const a = await r.connect();
    await r.connect();
    // A third from the same address is over the per-source cap: closed without a reply.
    const third = await r.connect();
    await once(third.client, 'close');
    assert.equal(r.acceptor.pending, 2);
    assert.equal(await counter(r.metrics, 'spear_mesh_connections_rejected_total{reason="limit"'), 1);
    // Finishing a handshake frees its slot for the next connection from that address.
    r.acceptor.handshakeDone(a.server);
    assert.equal(r.acceptor.pending, 1);
    assert.equal(r.acceptor.established, 1);
    const fourth = await r.connect();
    assert.equal(fourth.server.destroyed, false);
    assert.equal(r.acceptor.pending, 2);
  });

  it('sends CONNECTION_LIMIT to a mesh client beyond the total cap', async (t) => {
    const r = await rig(t, { total: 1, perSource: 10 });
    await r.connect();
    const over = await r.connect();
    const received: Buffer[] = [];
    over.client.on('data', (c: Buffer) => received.push(c));
    const ended = once(over.client, 'end');
    over.client.write(MESH_MAGIC);
    await ended;
    const text = Buffer.concat(received).subarray(18).toString('utf8');
    assert.match(text, /"code":"CONNECTION_LIMIT"/);
    assert.equal(r.acceptor.pending, 1);
  });
});
