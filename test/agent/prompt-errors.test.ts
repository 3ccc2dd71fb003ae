// Prompt, honest errors from MeshClient against real loopback spearlets: handshake refusals retrying cannot fix,
// a registry that does not answer at start-up, requests over the spearlet's frame limit, idle pool shrinking and
// pinning static endpoints by the spearlet id from WELCOME.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { connect as netConnect } from 'node:net';
import { MeshClient } from '../../src/agent/mesh-client.ts';
import type { MeshClientOptions } from '../../src/agent/options.ts';
import type { HandshakeRefusedError } from '../../src/conn/errors.ts';
import { ConfigError, MeshError } from '../../src/errors.ts';
import type { Spearlet } from '../../src/spearlet/spearlet.ts';
import { startTestRegistry } from '../helpers/dev-registry.ts';
import { deferred, startSpearlet, tcp, token, waitFor } from '../spearlet/fixture.ts';

async function client(t: TestContext, options: Partial<MeshClientOptions>): Promise<MeshClient> {
  const mesh = await MeshClient.connect({
    tokenProvider: () => token(),
    reconnectBackoff: { initialMs: 20, maxMs: 200 },
    closeGraceMs: 0,
    ...options,
  });
  t.after(() => mesh.close());
  return mesh;
}

const endpointOf = (s: Spearlet): string => `127.0.0.1:${tcp(s).port}`;

async function rejection(p: Promise<unknown>): Promise<MeshError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof MeshError, `expected a MeshError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

/** A closed loopback port: bound on port 0, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A TCP front for the registry on its own port 0: while down it resets every connection (as a registry that is not
 * up yet), once up it relays to `target`.
 */
async function lateFront(t: TestContext, target: () => number): Promise<{ url: string; up: () => void }> {
  let isUp = false;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (!isUp) {
      socket.resetAndDestroy();
      return;
    }
    const upstream = netConnect(target(), '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    up: () => {
      isUp = true;
    },
  };
}

describe('handshake refusals retrying cannot fix', () => {
  it('fail waiting requests with the refusal code (not retryable), emit refused, and recover on a new token', async (t) => {
    const [a, b] = [await startSpearlet(t, { id: 'a' }), await startSpearlet(t, { id: 'b' })];
    let good = false;
    const refused: [HandshakeRefusedError, string][] = [];
    const started = performance.now();
    const mesh = await client(t, {
      endpoints: [endpointOf(a), endpointOf(b)],
      tokenProvider: () => (good ? token() : token({ iss: 'someone-else' })),
      // Long enough that only the refusal can end these waits early.
      readyTimeoutMs: 60_000,
      queue: { timeoutMs: 60_000 },
    });
    const connectMs = performance.now() - started;
    mesh.on('refused', (err, id) => refused.push([err, id]));
    const err = await rejection(mesh.request('echo', 'x', { deadlineMs: 60_000 }));
    const requestMs = performance.now() - started;
    assert.equal(err.code, 'ISSUER_MISMATCH', err.message);
    assert.equal(err.retryable, false);
    assert.match(err.message, /refused the handshake: token issuer does not match/);
    assert.ok(requestMs < 30_000, `connect took ${connectMs} ms and the request failed after ${requestMs} ms`);
    const pinned = await rejection(mesh.request('echo', 'x', { spearletId: endpointOf(b) }));
    assert.equal(pinned.code, 'ISSUER_MISMATCH');
    // The token provider now hands out a token the spearlets accept: the connections notice without a restart.
    good = true;
    await waitFor(() => mesh.stats().endpoints.every((e) => e.state === 'READY'), 20_000, 'both endpoints READY');
    assert.equal((await mesh.request('echo', 'back')).toString(), 'back');
    // Events seen after the listener was attached name the refusing endpoint; the earliest ones came during connect().
    for (const [e, id] of refused) {
      assert.equal(e.code, 'ISSUER_MISMATCH');
      assert.ok([endpointOf(a), endpointOf(b)].includes(id));
    }
  });

  it('fails a request queued before the refusal arrives, at the refusal', async (t) => {
    const s = await startSpearlet(t, { id: 'q' });
    const provider = deferred<string>();
    const mesh = await client(t, {
      endpoints: [endpointOf(s)],
      tokenProvider: () => provider.promise,
      readyTimeoutMs: 50,
      queue: { timeoutMs: 60_000 },
    });
    const pending = rejection(mesh.request('echo', 'x', { deadlineMs: 60_000 }));
    assert.equal(mesh.stats().queued, 1);
    const refused = once(mesh, 'refused');
    // Minted an hour ago with a minute to live: expired beyond any clock tolerance.
    const hourAgo = Date.now() - 3_600_000;
    provider.resolve(await token({ expiresInSec: 60, now: () => hourAgo }));
    const [event] = (await refused) as [HandshakeRefusedError];
    const err = await pending;
    assert.equal(event.code, 'TOKEN_EXPIRED');
    assert.equal(err, event, 'the waiting request fails with the refusal itself');
    assert.equal(err.retryable, false);
    assert.equal(mesh.stats().queued, 0);
  });

  it('emits refused during connect() and fails with AUDIENCE_MISMATCH without waiting for readyTimeoutMs', async (t) => {
    const s = await startSpearlet(t, { id: 'aud' });
    const seen = deferred<HandshakeRefusedError>();
    const started = performance.now();
    const mesh = await MeshClient.connect({
      endpoints: [endpointOf(s)],
      token: await token({ aud: 'another-audience' }),
      readyTimeoutMs: 60_000,
      closeGraceMs: 0,
    });
    t.after(() => mesh.close());
    assert.ok(performance.now() - started < 30_000, 'connect() returned at the refusal, not after readyTimeoutMs');
    mesh.once('refused', (e) => {
      seen.resolve(e);
    });
    const err = await rejection(mesh.request('echo', 'x'));
    assert.equal(err.code, 'AUDIENCE_MISMATCH');
    assert.equal(err.retryable, false);
    assert.equal(mesh.stats().endpoints[0]?.state, 'TRANSIENT_FAILURE');
    // A static token is presented again only after refusedRetryMs (30 s): nothing more happens within this test.
    assert.equal(
      await Promise.race([seen.promise.then(() => 'event'), new Promise((r) => setTimeout(r, 300, 'quiet'))]),
      'quiet',
    );
  });

  it('fails only the requests the refusal concerns: a token limited to one spearlet still reaches it', async (t) => {
    const [a, b] = [await startSpearlet(t, { id: 'a' }), await startSpearlet(t, { id: 'b' })];
    const mesh = await client(t, {
      endpoints: [endpointOf(a), endpointOf(b)],
      tokenProvider: () => token({ spearlets: ['a'] }),
      readyTimeoutMs: 60_000,
      queue: { timeoutMs: 60_000 },
    });
    await waitFor(
      () => mesh.stats().endpoints.some((e) => e.state === 'TRANSIENT_FAILURE'),
      20_000,
      'b refusing the token',
    );
    for (let i = 0; i < 4; i++) assert.equal((await mesh.request('echo', String(i))).toString(), String(i));
    // b never sent a WELCOME, so only its endpoint string names it.
    const err = await rejection(mesh.request('echo', 'x', { spearletId: endpointOf(b) }));
    assert.equal(err.code, 'FORBIDDEN_SPEARLET');
    assert.equal(err.retryable, false);
  });
});

describe('a registry that does not answer at start-up', () => {
  it('fails requests with REGISTRY_UNAVAILABLE after registryWaitMs (closed port)', async (t) => {
    const port = await closedPort();
    const started = performance.now();
    const mesh = await client(t, {
      consul: `http://127.0.0.1:${port}`,
      registryWaitMs: 300,
      readyTimeoutMs: 60_000,
      queue: { timeoutMs: 60_000 },
    });
    const err = await rejection(mesh.request('echo', 'x', { deadlineMs: 60_000 }));
    const elapsedMs = performance.now() - started;
    assert.equal(err.code, 'REGISTRY_UNAVAILABLE', err.message);
    assert.match(err.message, /no answer from the registry within 300 ms/);
    assert.ok(elapsedMs >= 290 && elapsedMs < 30_000, `failed after ${elapsedMs} ms`);
    // Later requests fail at once while the registry still does not answer.
    const again = performance.now();
    assert.equal((await rejection(mesh.request('echo', 'y'))).code, 'REGISTRY_UNAVAILABLE');
    assert.ok(performance.now() - again < 5_000);
  });

  it('serves requests queued within the wait once a late registry answers', async (t) => {
    const registry = await startTestRegistry();
    t.after(() => registry.close());
    const registryPort = Number(new URL(registry.url).port);
    const front = await lateFront(t, () => registryPort);
    await startSpearlet(t, { id: 'late', consul: registry.url });
    await waitFor(async () => {
      const res = await fetch(`${registry.url}/v1/health/service/spearlet?passing`);
      return ((await res.json()) as unknown[]).length === 1;
    }, 20_000);
    const mesh = await client(t, { consul: front.url, registryWaitMs: 60_000, readyTimeoutMs: 100 });
    const pending = mesh.request('echo', 'queued', { deadlineMs: 60_000 });
    await waitFor(() => mesh.stats().resolver === 'stale', 20_000, 'the resolver to see the registry failing');
    assert.equal(mesh.stats().queued, 1);
    front.up();
    assert.equal((await pending).toString(), 'queued');
  });

  it('validates registryWaitMs and poolIdleTimeoutMs with ConfigError', async () => {
    for (const [key, value] of [
      ['registryWaitMs', 0],
      ['registryWaitMs', -5],
      ['registryWaitMs', 'soon'],
      ['poolIdleTimeoutMs', 0],
      ['poolIdleTimeoutMs', Number.NaN],
    ] as const) {
      await assert.rejects(
        MeshClient.connect({ endpoints: ['127.0.0.1:1'], token: 't', [key]: value }),
        (err: unknown) => err instanceof ConfigError && err.option === key,
        `${key}=${String(value)}`,
      );
    }
  });
});

describe('requests over the spearlet maximum frame size', () => {
  it('fail alone with REQUEST_TOO_LARGE while other requests on the connection finish', async (t) => {
    const s = await startSpearlet(t, { id: 'small', maxFrameSize: 4096 });
    const mesh = await client(t, { endpoints: [endpointOf(s)], maxConnectionsPerSpearlet: 1 });
    const inFlight = Array.from({ length: 6 }, () => mesh.request('sleep', '200', { deadlineMs: 30_000 }));
    await waitFor(() => s.info().inFlight === 6, 20_000, 'six requests in flight on the spearlet');
    const big = Buffer.alloc(4096);
    const err = await rejection(mesh.request('echo', big));
    assert.equal(err.code, 'REQUEST_TOO_LARGE', err.message);
    assert.equal(err.retryable, false);
    assert.match(err.message, /4116 bytes, over spearlet 127\.0\.0\.1:\d+'s maximum of 4096 bytes/);
    // Just under the limit still goes: 16 bytes of header, 4 of method name.
    assert.equal((await mesh.request('echo', Buffer.alloc(4096 - 16 - 4))).length, 4076);
    assert.throws(() => mesh.signal('note', big), { code: 'REQUEST_TOO_LARGE' });
    await Promise.all(inFlight);
    assert.equal(s.info().sessions, 1, 'the connection was never replaced');
    assert.equal(mesh.stats().endpoints[0]?.state, 'READY');
  });
});

describe('the connection pool', () => {
  it('closes idle extra connections and never the last one', async (t) => {
    const s = await startSpearlet(t, { id: 'pool', maxInFlightPerSession: 4 });
    const mesh = await client(t, {
      endpoints: [endpointOf(s)],
      maxConnectionsPerSpearlet: 2,
      poolIdleTimeoutMs: 200,
    });
    // Eight requests fill two connections of four (the pool grows when the first one is saturated).
    const burst = Array.from({ length: 8 }, () => mesh.request('sleep', '300', { deadlineMs: 30_000 }));
    await waitFor(() => mesh.stats().endpoints[0]?.connections === 2, 20_000, 'the pool to grow');
    await Promise.all(burst);
    await waitFor(() => mesh.stats().endpoints[0]?.connections === 1, 20_000, 'idle extras to close');
    await waitFor(() => s.info().sessions === 1, 20_000, 'the spearlet to see one session');
    assert.equal(mesh.stats().endpoints[0]?.state, 'READY');
    assert.equal((await mesh.request('echo', 'still')).toString(), 'still');
    assert.equal(mesh.stats().endpoints[0]?.connections, 1);
  });
});

describe('pinning to a static endpoint', () => {
  it('matches the spearlet id from WELCOME as well as the endpoint string', async (t) => {
    const [a, b] = [await startSpearlet(t, { id: 'alpha' }), await startSpearlet(t, { id: 'beta' })];
    const mesh = await client(t, { endpoints: [endpointOf(a), endpointOf(b)], readyTimeoutMs: 20_000 });
    await waitFor(() => mesh.stats().endpoints.every((e) => e.state === 'READY'), 20_000, 'both READY');
    for (let i = 0; i < 4; i++) {
      const info = JSON.parse((await mesh.request('info', '', { spearletId: 'beta' })).toString()) as {
        spearlet: string;
      };
      assert.equal(info.spearlet, 'beta');
    }
    const byAddress = JSON.parse((await mesh.request('info', '', { spearletId: endpointOf(a) })).toString()) as {
      spearlet: string;
    };
    assert.equal(byAddress.spearlet, 'alpha');
    assert.equal(mesh.signal('hello', 'x', { spearletId: 'alpha' }), 1);
    assert.equal(mesh.signal('hello', 'x', { spearletId: 'nobody' }), 0);
  });
});
