// MeshClient against stand-in servers (test/conn/stand-in-server.ts): routing, failover, queueing and lifecycle.
// The end-to-end behaviour against real spearlet processes is in failover.test.ts.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeshClient } from '../../src/agent/mesh-client.ts';
import type { MeshClientOptions } from '../../src/agent/options.ts';
import { MeshError } from '../../src/errors.ts';
import { StandInServer } from '../conn/stand-in-server.ts';
import { waitFor } from '../helpers/wait-for.ts';

const dir = mkdtempSync(join(tmpdir(), 'spear-agent-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

type T = { after: (fn: () => Promise<void>) => void };

async function servers(t: T, n: number): Promise<StandInServer[]> {
  const list: StandInServer[] = [];
  for (let i = 0; i < n; i++) {
    const s = new StandInServer({ heartbeatMs: 100, heartbeatTimeoutMs: 400 });
    await s.listen();
    s.handlers.set('who', () => Buffer.from(String(i)));
    list.push(s);
  }
  t.after(async () => {
    await Promise.all(list.map((s) => s.close()));
  });
  return list;
}

async function client(t: T, list: StandInServer[], options: Partial<MeshClientOptions> = {}): Promise<MeshClient> {
  const mesh = await MeshClient.connect({
    endpoints: list.map((s) => `127.0.0.1:${s.port}`),
    token: 'test-token',
    reconnectBackoff: { initialMs: 20, maxMs: 200 },
    readyTimeoutMs: 5000,
    closeGraceMs: 0,
    ...options,
  });
  t.after(() => mesh.close());
  return mesh;
}

async function waitAllReady(mesh: MeshClient, n: number): Promise<void> {
  const until = Date.now() + 10_000;
  while (mesh.stats().endpoints.filter((e) => e.state === 'READY').length < n) {
    if (Date.now() > until) throw new Error(`not all ${n} endpoints READY: ${JSON.stringify(mesh.stats().endpoints)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<MeshError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof MeshError, `expected MeshError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${code}`);
}

/** Makes 'work' hang on every server until released; returns a function to find where a request landed. */
function holdWork(list: StandInServer[]): { hold: Set<StandInServer>; landed: () => Promise<StandInServer> } {
  const hold = new Set(list);
  for (const s of list) {
    s.handlers.set('work', (req) => (hold.has(s) ? 'hang' : Buffer.from(req.body)));
  }
  return {
    hold,
    landed: async () => {
      for (;;) {
        const s = list.find((x) => x.requests.some((r) => r.method === 'work'));
        if (s !== undefined) return s;
        await new Promise((r) => setTimeout(r, 5));
      }
    },
  };
}

describe('MeshClient', () => {
  it('spreads requests over every spearlet with round-robin and reports stats', async (t) => {
    const list = await servers(t, 3);
    const mesh = await client(t, list, { policy: 'round-robin' });
    await waitAllReady(mesh, 3);
    const seen = new Set<string>();
    for (let i = 0; i < 9; i++) seen.add((await mesh.request('who', '')).toString());
    assert.deepEqual([...seen].sort(), ['0', '1', '2']);
    const st = mesh.stats();
    assert.equal(st.requests, 9);
    assert.equal(st.succeeded, 9);
    assert.equal(st.failed, 0);
    assert.equal(st.inFlight, 0);
    assert.equal(st.endpoints.length, 3);
    assert.ok(st.endpoints.every((e) => e.state === 'READY' && e.outstanding === 0 && !e.ejected));
  });

  it('retries an idempotent request elsewhere when its spearlet is lost, and fails a non-idempotent one with SPEARLET_LOST', async (t) => {
    const list = await servers(t, 3);
    const mesh = await client(t, list);
    await waitAllReady(mesh, 3);
    const w = holdWork(list);
    const p = mesh.request('work', 'payload', { idempotent: true });
    const victim = await w.landed();
    w.hold.clear();
    victim.resetAll();
    assert.equal((await p).toString(), 'payload');
    assert.equal(mesh.stats().retried, 1);

    await waitAllReady(mesh, 3);
    for (const s of list) s.requests.length = 0;
    const w2 = holdWork(list);
    const q = mesh.request('work', 'once');
    const victim2 = await w2.landed();
    victim2.resetAll();
    const err = await rejectsWith(q, 'SPEARLET_LOST');
    assert.equal(err.retryable, false);
    assert.match(err.message, /may have run/);
  });

  it('fails with RETRY_BUDGET_EXHAUSTED when the budget is spent', async (t) => {
    const list = await servers(t, 2);
    const mesh = await client(t, list, { retryBudget: { ratio: 0, minRetriesPerSecond: 0 } });
    await waitAllReady(mesh, 2);
    const w = holdWork(list);
    const p = mesh.request('work', 'x', { idempotent: true });
    (await w.landed()).resetAll();
    const err = await rejectsWith(p, 'RETRY_BUDGET_EXHAUSTED');
    assert.equal((err.cause as MeshError).code, 'SPEARLET_LOST');
  });

  it('moves traffic off a spearlet that sends GOAWAY without failing anything', async (t) => {
    const list = await servers(t, 2);
    const mesh = await client(t, list, { policy: 'round-robin' });
    await waitAllReady(mesh, 2);
    list[0]!.goaway('draining', 60_000);
    const until = Date.now() + 10_000;
    while (mesh.stats().endpoints.find((e) => e.id.endsWith(`:${list[0]!.port}`))?.state === 'READY') {
      assert.ok(Date.now() < until);
      await new Promise((r) => setTimeout(r, 5));
    }
    const before = list[0]!.requests.length;
    const out = await Promise.all(Array.from({ length: 20 }, () => mesh.request('who', '')));
    assert.ok(out.every((b) => b.toString() === '1'));
    assert.equal(list[0]!.requests.length, before);
    assert.equal(mesh.stats().failed, 0);
  });

  it('keeps affinity keys on one spearlet with consistent-hash', async (t) => {
    const list = await servers(t, 3);
    const mesh = await client(t, list, { policy: 'consistent-hash' });
    await waitAllReady(mesh, 3);
    for (const key of ['a', 'b', 'c', 'd', 'e']) {
      const first = (await mesh.request('who', '', { affinityKey: key })).toString();
      for (let i = 0; i < 5; i++) assert.equal((await mesh.request('who', '', { affinityKey: key })).toString(), first);
    }
  });

  it('queues while no spearlet is usable, then serves when one comes up', async (t) => {
    const path = join(dir, 'late.sock');
    const mesh = await client(t, [], { endpoints: [`unix:${path}`], readyTimeoutMs: 50 });
    const p = mesh.request('echo', 'late', { deadlineMs: 20_000 });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(mesh.stats().queued, 1);
    const s = new StandInServer({ path });
    await s.listen();
    t.after(() => s.close());
    assert.equal((await p).toString(), 'late');
  });

  it('fails queued requests with NO_SPEARLET_AVAILABLE at their deadline, QUEUE_FULL beyond maxSize, CANCELLED on abort', async (t) => {
    const mesh = await client(t, [], {
      endpoints: [`unix:${join(dir, 'never.sock')}`],
      readyTimeoutMs: 20,
      queue: { maxSize: 2 },
    });
    const started = Date.now();
    const first = mesh.request('echo', '', { deadlineMs: 200 });
    const ac = new AbortController();
    const second = mesh.request('echo', '', { signal: ac.signal });
    await rejectsWith(mesh.request('echo', ''), 'QUEUE_FULL');
    ac.abort();
    await rejectsWith(second, 'CANCELLED');
    await rejectsWith(first, 'NO_SPEARLET_AVAILABLE');
    assert.ok(Date.now() - started < 5000);
    assert.equal(mesh.stats().failed, 3);
  });

  it('passes deadlines to the spearlet and does not retry a request that ran out of time', async (t) => {
    const list = await servers(t, 2);
    const mesh = await client(t, list);
    await waitAllReady(mesh, 2);
    await rejectsWith(mesh.request('hang', '', { idempotent: true, deadlineMs: 150 }), 'DEADLINE_EXCEEDED');
    const sent = list.flatMap((s) => s.requests);
    assert.equal(sent.length, 1);
    assert.ok(sent[0]!.deadlineMs > 0 && sent[0]!.deadlineMs <= 150);
  });

  it('emits signals with the spearlet id', async (t) => {
    const list = await servers(t, 1);
    const mesh = await client(t, list);
    const got = new Promise<[string, string, string]>((resolve) => {
      mesh.on('signal', (name, body, id) => {
        resolve([name, body.toString(), id]);
      });
    });
    list[0]!.signal('progress', Buffer.from('50%'));
    assert.deepEqual(await got, ['progress', '50%', `127.0.0.1:${list[0]!.port}`]);
  });

  it('opens another connection to a spearlet whose connection is saturated', async (t) => {
    const s = new StandInServer({ maxInFlight: 4 });
    await s.listen();
    t.after(() => s.close());
    const release: (() => void)[] = [];
    s.handlers.set(
      'held',
      (req) =>
        new Promise<Buffer>((resolve) =>
          release.push(() => {
            resolve(Buffer.from(req.body));
          }),
        ),
    );
    const mesh = await client(t, [s], { maxConnectionsPerSpearlet: 2 });
    const calls = Array.from({ length: 8 }, (_, i) => mesh.request('held', String(i), { deadlineMs: 20_000 }));
    const until = Date.now() + 10_000;
    while (release.length < 8) {
      assert.ok(Date.now() < until, `only ${release.length} of 8 requests arrived`);
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(s.sessions.length, 2);
    assert.equal(mesh.stats().endpoints[0]!.connections, 2);
    for (const r of release) r();
    assert.deepEqual(
      (await Promise.all(calls)).map((b) => b.toString()),
      ['0', '1', '2', '3', '4', '5', '6', '7'],
    );
  });

  it('sends signals to one spearlet or to all READY ones', async (t) => {
    const list = await servers(t, 2);
    const mesh = await client(t, list);
    await waitAllReady(mesh, 2);
    assert.equal(mesh.signal('reload', 'all'), 2);
    assert.equal(mesh.signal('reload', 'one', { spearletId: `127.0.0.1:${list[1]!.port}` }), 1);
    const until = Date.now() + 10_000;
    while (list[1]!.signalsReceived.length < 2) {
      assert.ok(Date.now() < until);
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.deepEqual(list[0]!.signalsReceived, [{ name: 'reload', body: 'all' }]);
    assert.deepEqual(list[1]!.signalsReceived, [
      { name: 'reload', body: 'all' },
      { name: 'reload', body: 'one' },
    ]);
  });

  it('closes: queued and new requests fail with CLIENT_CLOSED and no socket or timer is left', async (t) => {
    const baseline = process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'Timeout').length;
    const list = await servers(t, 2);
    const mesh = await MeshClient.connect({
      endpoints: list.map((s) => `127.0.0.1:${s.port}`),
      token: 'x',
      closeGraceMs: 0,
    });
    await waitAllReady(mesh, 2);
    const inflight = rejectsWith(mesh.request('hang', ''), 'CLIENT_CLOSED');
    await waitFor(() => list.some((s) => s.requests.length > 0), 10_000, 'the request on a stand-in');
    await mesh.close();
    await inflight;
    await rejectsWith(mesh.request('who', ''), 'CLIENT_CLOSED');
    await mesh.close();
    await Promise.all(list.map((s) => s.close()));
    await new Promise((r) => setImmediate(r));
    const left = process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'Timeout').length;
    assert.ok(left <= baseline, `resources left: ${left} > ${baseline}: ${process.getActiveResourcesInfo().join(',')}`);
  });

  it('rejects bad options with CONFIG_INVALID', async () => {
    await rejectsWith(MeshClient.connect({ endpoints: ['127.0.0.1:1'] }), 'CONFIG_INVALID');
    await rejectsWith(
      MeshClient.connect({ endpoints: ['127.0.0.1:1'], token: 'x', resolver: undefined, consul: {} }),
      'CONFIG_INVALID',
    );
    const misspelt = { endpoints: ['127.0.0.1:1'], token: 'x', polcy: 'round-robin' };
    await rejectsWith(MeshClient.connect(misspelt), 'CONFIG_INVALID');
  });
});
