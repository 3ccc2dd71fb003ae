import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { MeshConnection, type MeshConnectionOptions, type ResponseHandler } from '../../src/conn/mesh-connection.ts';
import { ConnState, canTransition } from '../../src/conn/states.ts';
import type { TransportTarget } from '../../src/conn/transport.ts';
import { MeshError } from '../../src/errors.ts';
import { Status, encodeResponse } from '../../src/wire/index.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { StandInServer, type StandInOptions } from './stand-in-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'spear-conn-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Harness {
  server: StandInServer;
  conn: MeshConnection;
  states: ConnState[];
  tokens: string[];
}

async function setup(
  t: { after: (fn: () => Promise<void>) => void },
  serverOptions: StandInOptions = {},
  connOptions: Partial<MeshConnectionOptions> = {},
): Promise<Harness> {
  const server = new StandInServer(serverOptions);
  await server.listen();
  const tokens: string[] = [];
  const target: TransportTarget =
    serverOptions.path !== undefined
      ? { kind: 'unix', path: serverOptions.path }
      : { kind: 'tcp', host: '127.0.0.1', port: server.port };
  const conn = new MeshConnection({
    spearletId: 'stand-in',
    target,
    tokenProvider: () => {
      const token = `token-${tokens.length + 1}`;
      tokens.push(token);
      return Promise.resolve(token);
    },
    agentName: 'test-agent',
    backoff: { initialMs: 20, maxMs: 200 },
    tickMs: 10,
    ...connOptions,
  });
  const states: ConnState[] = [];
  conn.on('state', (to) => states.push(to));
  t.after(async () => {
    await conn.close();
    await server.close();
  });
  return { server, conn, states, tokens };
}

async function expectCode(p: Promise<unknown>, code: string): Promise<MeshError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof MeshError, `expected a MeshError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${code}, but the promise resolved`);
}

async function waitForState(conn: MeshConnection, state: ConnState, timeoutMs = 10_000): Promise<void> {
  if (conn.state === state) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`state ${state} not reached within ${timeoutMs} ms (now ${conn.state})`));
    }, timeoutMs);
    const on = (to: ConnState): void => {
      if (to === state) {
        clearTimeout(timer);
        conn.off('state', on);
        resolve();
      }
    };
    conn.on('state', on);
  });
}

describe('state machine', () => {
  it('allows only the documented transitions', () => {
    assert.equal(canTransition('IDLE', 'CONNECTING'), true);
    assert.equal(canTransition('IDLE', 'READY'), false);
    assert.equal(canTransition('READY', 'DRAINING'), true);
    assert.equal(canTransition('DRAINING', 'READY'), false);
    assert.equal(canTransition('TRANSIENT_FAILURE', 'CONNECTING'), true);
    assert.equal(canTransition('CLOSED', 'CONNECTING'), false);
  });
});

describe('MeshConnection against a stand-in server', () => {
  it('handshakes with preface and HELLO, then correlates concurrent requests', async (t) => {
    const h = await setup(t);
    let n = 0;
    // Answer in reverse arrival order to prove correlation is by id, not by order.
    const waiting: (() => void)[] = [];
    h.server.handlers.set('rev', (req) => {
      n++;
      return new Promise<Buffer>((resolve) => {
        waiting.push(() => {
          resolve(Buffer.from(`r:${req.body.toString()}`));
        });
        if (n === 5) for (const w of waiting.reverse()) w();
      });
    });
    h.conn.connect();
    await h.conn.whenReady();
    assert.deepEqual(h.states, ['CONNECTING', 'READY']);
    const hello = h.server.sessions[0]!.hello;
    assert.equal(hello.token, 'token-1');
    assert.equal(hello.agent, 'test-agent');
    assert.equal(hello.v, 1);
    const results = await Promise.all(
      [0, 1, 2, 3, 4].map((i) => h.conn.request('rev', Buffer.from(String(i)), { idempotent: i % 2 === 0 })),
    );
    assert.deepEqual(
      results.map((b) => b.toString()),
      ['r:0', 'r:1', 'r:2', 'r:3', 'r:4'],
    );
    assert.deepEqual(
      h.server.requests.map((r) => r.flags),
      [1, 0, 1, 0, 1],
    );
    assert.equal(h.conn.outstanding, 0);
    await expectCode(h.conn.request('nope', Buffer.alloc(0)), 'METHOD_NOT_FOUND');
  });

  it('works over a Unix socket', async (t) => {
    const h = await setup(t, { path: join(dir, 'mesh.sock') });
    h.conn.connect();
    await h.conn.whenReady();
    assert.equal((await h.conn.request('echo', Buffer.from('unix'))).toString(), 'unix');
    assert.match(h.conn.description, /^unix:/);
  });

  it('dispatch() settles its handler exactly once, with what request() settles with, and when it was read', async (t) => {
    const h = await setup(t);
    const startedAt = performance.now();
    const record = (): { handler: ResponseHandler; calls: string[]; settled: Promise<void> } => {
      const calls: string[] = [];
      let done!: () => void;
      const settled = new Promise<void>((resolve) => (done = resolve));
      const handler: ResponseHandler = {
        onResponse(body, receivedAt) {
          calls.push(`ok:${body.toString()}`);
          assert.ok(receivedAt >= startedAt && receivedAt <= performance.now(), `received at ${receivedAt}`);
          done();
        },
        onError(err) {
          calls.push(`error:${err instanceof MeshError ? err.code : String(err)}`);
          done();
        },
      };
      return { handler, calls, settled };
    };
    const early = record();
    h.conn.dispatch('echo', Buffer.from('x'), {}, early.handler);
    assert.deepEqual(early.calls, ['error:CONNECTION_CLOSED'], 'refused at once, before READY');
    h.conn.connect();
    await h.conn.whenReady();
    const cases = [
      { method: 'echo', body: 'hello', options: {}, want: 'ok:hello' },
      { method: 'nope', body: '', options: {}, want: 'error:METHOD_NOT_FOUND' },
      { method: 'hang', body: '', options: { deadlineAt: Date.now() + 50 }, want: 'error:DEADLINE_EXCEEDED' },
      { method: 'echo', body: 'late', options: { deadlineAt: Date.now() - 1 }, want: 'error:DEADLINE_EXCEEDED' },
    ];
    for (const c of cases) {
      const r = record();
      h.conn.dispatch(c.method, Buffer.from(c.body), c.options, r.handler);
      await r.settled;
      assert.deepEqual(r.calls, [c.want], c.method);
    }
    const oneWay = record();
    h.conn.dispatch('echo', Buffer.from('x'), { noReply: true }, oneWay.handler);
    assert.deepEqual(oneWay.calls, ['ok:'], 'a one-way request settles once written');
    const lost = record();
    h.conn.dispatch('hang', Buffer.alloc(0), { idempotent: true }, lost.handler);
    await waitFor(() => h.server.requests.some((r) => r.method === 'hang' && r.flags === 1), 10_000, 'the request');
    h.server.resetAll();
    await lost.settled;
    assert.deepEqual(lost.calls, ['error:SPEARLET_LOST']);
    // Nothing settles twice: the calls lists above stay as they are once the connection is gone.
    await h.conn.close();
    assert.deepEqual(lost.calls, ['error:SPEARLET_LOST']);
    assert.equal(h.conn.outstanding, 0);
  });

  it('rejects requests with CONNECTION_CLOSED before READY and after close', async (t) => {
    const h = await setup(t);
    await expectCode(h.conn.request('echo', Buffer.alloc(0)), 'CONNECTION_CLOSED');
    h.conn.connect();
    await h.conn.whenReady();
    await h.conn.close();
    await expectCode(h.conn.request('echo', Buffer.alloc(0)), 'CONNECTION_CLOSED');
    assert.equal(h.states.at(-1), 'CLOSED');
    await h.conn.close();
  });

  it('reports a refused token with the spearlet code, not retryable, and retries at once with a fresh token', async (t) => {
    const h = await setup(t, { checkToken: (tok) => (tok === 'token-1' ? 'TOKEN_EXPIRED' : undefined) });
    const refused: MeshError[] = [];
    h.conn.on('refused', (e) => refused.push(e));
    h.conn.connect();
    const err = await expectCode(h.conn.whenReady(), 'TOKEN_EXPIRED');
    assert.equal(err.retryable, false);
    assert.match(err.message, /refused the handshake/);
    assert.deepEqual(refused, [err]);
    assert.equal(h.conn.refusal, err);
    await waitForState(h.conn, 'READY');
    assert.equal(h.conn.refusal, undefined);
    assert.deepEqual(h.tokens, ['token-1', 'token-2']);
    assert.deepEqual(h.states, ['CONNECTING', 'TRANSIENT_FAILURE', 'CONNECTING', 'READY']);
  });

  it('does not present a refused token again before refusedRetryMs, and does after it', async (t) => {
    const seen: string[] = [];
    let polls = 0;
    let pollsSeen!: () => void;
    const pollsDone = new Promise<void>((resolve) => (pollsSeen = resolve));
    const h = await setup(
      t,
      {
        checkToken: (tok) => {
          seen.push(tok);
          return 'ISSUER_MISMATCH';
        },
      },
      {
        tokenProvider: () => {
          if (++polls === 6) pollsSeen();
          return Promise.resolve('same-token');
        },
        refusedRetryMs: 60_000,
      },
    );
    h.conn.connect();
    await expectCode(h.conn.whenReady(), 'ISSUER_MISMATCH');
    // The connection keeps asking the provider on its backoff, but opens no socket with the refused token.
    await pollsDone;
    assert.deepEqual(seen, ['same-token']);
    assert.equal(h.conn.state, 'TRANSIENT_FAILURE');

    const seen2: string[] = [];
    const h2 = await setup(
      t,
      {
        checkToken: (tok) => {
          seen2.push(tok);
          return 'ISSUER_MISMATCH';
        },
      },
      { tokenProvider: () => Promise.resolve('same-token'), refusedRetryMs: 200 },
    );
    const firstAt = performance.now();
    h2.conn.connect();
    await once(h2.conn, 'refused');
    await once(h2.conn, 'refused');
    assert.ok(performance.now() - firstAt >= 200, 'the same token again only after refusedRetryMs');
    assert.deepEqual(seen2.slice(0, 2), ['same-token', 'same-token']);
  });

  it('pings when idle and declares a silent server dead within the heartbeat timeout', async (t) => {
    const h = await setup(t, { heartbeatMs: 50, heartbeatTimeoutMs: 300 }, { reconnect: false });
    h.conn.connect();
    await h.conn.whenReady();
    // Idle with a 50 ms heartbeat: two PINGs arrive well within 5 s (bounded: a client that never pings fails here).
    await waitFor(() => h.server.pingsReceived >= 2, 5000, 'two PINGs');
    const inflight = h.conn.request('hang', Buffer.alloc(0));
    h.server.frozen = true;
    const frozenAt = Date.now();
    const err = await expectCode(inflight, 'SPEARLET_LOST');
    const detectedMs = Date.now() - frozenAt;
    assert.match(err.message, /may have run/);
    assert.equal((err.cause as MeshError).code, 'HEARTBEAT_TIMEOUT');
    assert.ok(detectedMs >= 250 && detectedMs < 3000, `detected after ${detectedMs} ms`);
    assert.equal(h.conn.state, 'TRANSIENT_FAILURE');
  });

  it('on GOAWAY finishes in-flight requests, refuses new ones, fails crossed ones as not run, then reconnects', async (t) => {
    const h = await setup(t);
    const release: (() => void)[] = [];
    h.server.handlers.set(
      'slow',
      () =>
        new Promise<Buffer>((resolve) =>
          release.push(() => {
            resolve(Buffer.from('done'));
          }),
        ),
    );
    h.conn.connect();
    await h.conn.whenReady();
    const inflight = h.conn.request('slow', Buffer.alloc(0));
    await waitFor(() => h.server.requests.length >= 1, 10_000, 'the request');
    // Pretend the spearlet accepted nothing after request 1, then a second request crosses the GOAWAY.
    const crossed = h.conn.request('slow', Buffer.alloc(0));
    const session = h.server.sessions[0]!;
    session.lastAccepted = 1n;
    const goaway = once(h.conn, 'goaway');
    session.send((await import('../../src/wire/index.ts')).encodeJson(8, 1n, { reason: 'draining', retryAfterMs: 0 }));
    const [info] = (await goaway) as [{ reason: string; lastId: bigint }];
    assert.equal(info.reason, 'draining');
    assert.equal(h.conn.state, 'DRAINING');
    assert.equal(h.conn.ready, false);
    await expectCode(crossed, 'CONNECTION_CLOSED');
    await expectCode(h.conn.request('echo', Buffer.alloc(0)), 'CONNECTION_CLOSED');
    release.shift()?.();
    assert.equal((await inflight).toString(), 'done');
    await waitForState(h.conn, 'READY');
    assert.deepEqual(h.states, ['CONNECTING', 'READY', 'DRAINING', 'TRANSIENT_FAILURE', 'CONNECTING', 'READY']);
    assert.equal(h.server.closeFramesReceived, 1);
    for (const r of release) r();
  });

  it('expires deadlines on the coarse timer and sends CANCEL', async (t) => {
    const h = await setup(t);
    h.conn.connect();
    await h.conn.whenReady();
    const started = Date.now();
    await expectCode(h.conn.request('hang', Buffer.alloc(0), { deadlineAt: started + 150 }), 'DEADLINE_EXCEEDED');
    const took = Date.now() - started;
    assert.ok(took >= 140 && took < 3000, `took ${took} ms`);
    const sent = h.server.requests[0]!;
    assert.ok(sent.deadlineMs > 100 && sent.deadlineMs <= 150, `wire deadline ${sent.deadlineMs}`);
    await waitFor(() => h.server.cancels.length >= 1, 10_000, 'the CANCEL');
    assert.deepEqual(h.server.cancels, [sent.id]);
    assert.equal(h.conn.outstanding, 0);
  });

  it('cancels on abort, and refuses an already aborted signal without sending', async (t) => {
    const h = await setup(t);
    h.conn.connect();
    await h.conn.whenReady();
    const ac = new AbortController();
    const p = h.conn.request('hang', Buffer.alloc(0), { signal: ac.signal });
    await waitFor(() => h.server.requests.length >= 1, 10_000, 'the request');
    ac.abort(new Error('user gave up'));
    await expectCode(p, 'CANCELLED');
    await waitFor(() => h.server.cancels.length >= 1, 10_000, 'the CANCEL');
    assert.deepEqual(h.server.cancels, [h.server.requests[0]!.id]);
    await expectCode(h.conn.request('echo', Buffer.alloc(0), { signal: ac.signal }), 'CANCELLED');
    assert.equal(h.server.requests.length, 1);
  });

  it('fails in-flight requests with SPEARLET_LOST on reset and reconnects with a fresh token', async (t) => {
    const h = await setup(t);
    h.conn.connect();
    await h.conn.whenReady();
    const p = h.conn.request('hang', Buffer.alloc(0), { idempotent: true });
    await waitFor(() => h.server.requests.length >= 1, 10_000, 'the request');
    h.server.resetAll();
    await expectCode(p, 'SPEARLET_LOST');
    await waitForState(h.conn, 'READY');
    assert.deepEqual(h.tokens, ['token-1', 'token-2']);
    assert.equal((await h.conn.request('echo', Buffer.from('again'))).toString(), 'again');
  });

  it('sends REAUTH with a fresh token before the token expires', async (t) => {
    const h = await setup(t, { tokenExp: Math.floor(Date.now() / 1000) + 30 }, { reauthLeadMs: 29_900 });
    h.conn.connect();
    await h.conn.whenReady();
    await waitFor(() => h.server.reauthTokens.length >= 1, 10_000, 'the REAUTH');
    assert.deepEqual(h.server.reauthTokens, ['token-2']);
    assert.equal(h.conn.state, 'READY');
    assert.equal((await h.conn.request('echo', Buffer.from('x'))).toString(), 'x');
  });

  it('does not REAUTH with the token the spearlet already has', async (t) => {
    const h = await setup(
      t,
      { tokenExp: Math.floor(Date.now() / 1000) + 30 },
      {
        reauthLeadMs: 29_900,
        tokenProvider: () => Promise.resolve('fixed'),
      },
    );
    h.conn.connect();
    await h.conn.whenReady();
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(h.server.reauthTokens, []);
    assert.equal((await h.conn.request('echo', Buffer.from('x'))).toString(), 'x');
  });

  it('gives up on a token provider that never answers after the connect timeout', async (t) => {
    const h = await setup(
      t,
      {},
      { tokenProvider: () => new Promise<string>(() => undefined), connectTimeoutMs: 200, reconnect: false },
    );
    h.conn.connect();
    const err = await expectCode(h.conn.whenReady(), 'CONNECT_FAILED');
    assert.match(err.message, /token provider/);
  });

  it('emits signals from the spearlet', async (t) => {
    const h = await setup(t);
    h.conn.connect();
    await h.conn.whenReady();
    const got = once(h.conn, 'signal');
    h.server.signal('task.done', Buffer.from('42'));
    const [name, body] = (await got) as [string, Buffer];
    assert.equal(name, 'task.done');
    assert.equal(body.toString(), '42');
  });

  it('closes gracefully: in-flight requests finish within the grace period, then the socket is released', async (t) => {
    const h = await setup(t);
    let release: (() => void) | undefined;
    h.server.handlers.set(
      'slow',
      () =>
        new Promise<Buffer>(
          (resolve) =>
            (release = () => {
              resolve(Buffer.from('ok'));
            }),
        ),
    );
    h.conn.connect();
    await h.conn.whenReady();
    const p = h.conn.request('slow', Buffer.alloc(0));
    await waitFor(() => release !== undefined, 10_000, 'the handler to start');
    const closing = h.conn.close({ graceMs: 5000 });
    assert.equal(h.conn.state, 'DRAINING');
    assert.ok(release !== undefined);
    release();
    assert.equal((await p).toString(), 'ok');
    await closing;
    assert.equal(h.conn.state, 'CLOSED');
    assert.equal(h.server.closeFramesReceived, 1);
  });

  it('settles a RESPONSE by its whole 64-bit id, ignoring undefined flags; a truncated one is a protocol error', async (t) => {
    const h = await setup(t, {}, { reconnect: false });
    h.conn.connect();
    await h.conn.whenReady();
    const p = h.conn.request('hang', Buffer.alloc(0));
    await waitFor(() => h.server.requests.length === 1, 10_000, 'the first request');
    const id = h.server.requests[0]!.id;
    const session = h.server.sessions[0]!;
    // Same low 32 bits, another high word: a different request, so it settles nothing.
    session.send(encodeResponse(id + (1n << 32n), Status.OK, Buffer.from('wrong')));
    const right = encodeResponse(id, Status.OK, Buffer.from('right'));
    right[9] = 0x80; // a flag bit no version defines
    session.send(right);
    assert.equal((await p).toString(), 'right');
    const q = h.conn.request('hang', Buffer.alloc(0));
    await waitFor(() => h.server.requests.length === 2, 10_000, 'the second request');
    const short = encodeResponse(h.server.requests[1]!.id, Status.OK, Buffer.alloc(0)).subarray(0, 8 + 11);
    short.writeUInt32LE(11, 0);
    session.send(short);
    const err = await expectCode(q, 'SPEARLET_LOST');
    assert.equal((err.cause as MeshError).code, 'MESSAGE_TRUNCATED');
  });

  it('treats a protocol violation from the server as a connection failure', async (t) => {
    const h = await setup(t, {}, { reconnect: false });
    h.conn.connect();
    await h.conn.whenReady();
    const p = h.conn.request('hang', Buffer.alloc(0));
    await waitFor(() => h.server.requests.length >= 1, 10_000, 'the request');
    const bad = Buffer.alloc(8 + 10);
    bad.writeUInt32LE(10, 0);
    bad[8] = 99; // unknown kind
    h.server.sessions[0]!.send(bad);
    const err = await expectCode(p, 'SPEARLET_LOST');
    assert.equal((err.cause as MeshError).code, 'UNKNOWN_MESSAGE_KIND');
  });
});
