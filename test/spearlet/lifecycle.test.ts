import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MessageKind, encodeJson, parseJsonPayload, type MeshMessage } from '../../src/wire/index.ts';
import { RawClient, json } from './raw-client.ts';
import { startSpearlet, tcp, token, waitFor } from './fixture.ts';

function isResponse(msg: MeshMessage): msg is Extract<MeshMessage, { kind: 4 }> {
  return msg.kind === MessageKind.RESPONSE;
}

describe('spearlet lifecycle', () => {
  it('closes a client that completes HELLO and then goes silent (heartbeat timeout)', async (t) => {
    const s = await startSpearlet(t, { heartbeatMs: 100, heartbeatTimeoutMs: 500 });
    const { client } = await RawClient.open(tcp(s), await token());
    const started = Date.now();
    // The raw client never answers PINGs: the spearlet must give up on it.
    let pings = 0;
    let error: Record<string, unknown> | undefined;
    for (;;) {
      const e = await client.next(10_000);
      if (e.type === 'end') break;
      if (e.type === 'message' && e.msg.kind === MessageKind.PING) pings++;
      if (e.type === 'message' && e.msg.kind === MessageKind.ERROR) error = json(e.msg);
    }
    const elapsed = Date.now() - started;
    assert.ok(pings >= 2, `saw ${pings} PINGs`);
    assert.equal(error?.code, 'HEARTBEAT_TIMEOUT');
    assert.ok(elapsed >= 400 && elapsed < 8000, `closed after ${elapsed} ms`);
    const metrics = await s.metricsText();
    assert.match(metrics, /spear_mesh_heartbeat_timeouts_total\{spearlet="s1"\} 1/);
    assert.match(metrics, /spear_mesh_heartbeats_missed_total\{spearlet="s1"\} [1-9]/);
    await waitFor(() => s.sessions().length === 0, 5000, 'the session to go');
  });

  it('keeps a client that talks (any inbound frame is liveness)', async (t) => {
    const s = await startSpearlet(t, { heartbeatMs: 100, heartbeatTimeoutMs: 400 });
    const { client } = await RawClient.open(tcp(s), await token());
    t.after(() => {
      client.destroy();
    });
    for (let i = 1n; i <= 8n; i++) {
      client.request(i, 'sleep', '100');
      const m = await client.nextMessage();
      assert.ok(isResponse(m) && m.status === 0);
    }
    assert.equal(s.sessions().length, 1);
  });

  it('drain: GOAWAY to every session, in-flight requests finish, none lost, late ones get DRAINING', async (t) => {
    const s = await startSpearlet(t, { goAwayGraceMs: 300 });
    const clients = await Promise.all(
      [1, 2].map(async (n) => (await RawClient.open(tcp(s), await token({ sub: `agent-${n}` }))).client),
    );
    t.after(() => {
      for (const c of clients) c.destroy();
    });
    for (const c of clients)
      for (let i = 1n; i <= 5n; i++) c.request(i, 'sleep', `${150 + Number(i) * 20}`, { flags: 0 });
    // Make sure the spearlet accepted all ten before draining.
    await waitFor(() => s.sessions().reduce((n, x) => n + x.inFlight, 0) === 10, 10_000, 'ten requests in flight');
    const drained = s.drain({ timeoutMs: 10_000 });
    const check = async (c: RawClient): Promise<void> => {
      const statuses: number[] = [];
      let goaway: MeshMessage | undefined;
      let late: MeshMessage | undefined;
      for (;;) {
        const e = await c.next();
        if (e.type !== 'message') break;
        if (e.msg.kind === MessageKind.GOAWAY) {
          goaway = e.msg;
          c.request(99n, 'echo', 'too late'); // crosses the GOAWAY
        } else if (isResponse(e.msg) && e.msg.id === 99n) late = e.msg;
        else if (isResponse(e.msg)) statuses.push(e.msg.status);
      }
      assert.ok(goaway !== undefined);
      assert.equal(goaway.id, 5n);
      assert.deepEqual(json(goaway).reason, 'draining');
      assert.deepEqual(statuses, [0, 0, 0, 0, 0]);
      assert.ok(late !== undefined && isResponse(late));
      assert.equal(late.status, 503);
      const body = parseJsonPayload(late.body, 'x');
      assert.equal(body.code, 'DRAINING');
      assert.equal(body.retryable, true);
    };
    await Promise.all(clients.map(check));
    const report = await drained;
    assert.equal(report.completed, true);
    assert.equal(report.sessions, 2);
    assert.equal(report.abortedRequests, 0);
    assert.equal(s.state, 'closed');
  });

  it('a drain that runs out of time aborts what is left with DRAINING', async (t) => {
    const s = await startSpearlet(t, { goAwayGraceMs: 0 });
    s.handle(
      'stubborn',
      () =>
        new Promise((resolve) =>
          setTimeout(() => {
            resolve('done');
          }, 3000),
        ),
    );
    const { client } = await RawClient.open(tcp(s), await token());
    t.after(() => {
      client.destroy();
    });
    client.request(1n, 'stubborn');
    await waitFor(() => s.sessions()[0]?.inFlight === 1, 10_000, 'the request in flight');
    const report = await s.drain({ timeoutMs: 100 });
    assert.equal(report.completed, false);
    assert.equal(report.abortedRequests, 1);
    const seen: number[] = [];
    for (;;) {
      const e = await client.next();
      if (e.type !== 'message') break;
      if (isResponse(e.msg)) seen.push(e.msg.status);
    }
    assert.deepEqual(seen, [503]);
  });

  it('sends GOAWAY token_expired at the token exp', async (t) => {
    const realNow = Date.now();
    // The spearlet's clock sits 300 ms before the token's exp.
    const s = await startSpearlet(t, { now: () => Date.now() + 600_000 - 300 - (realNow % 1000) });
    const { client } = await RawClient.open(tcp(s), await token({ expiresInSec: 600, now: () => realNow }));
    t.after(() => {
      client.destroy();
    });
    const msg = await client.nextMessage(5000);
    assert.equal(msg.kind, MessageKind.GOAWAY);
    assert.equal(json(msg).reason, 'token_expired');
    await client.expectEnd();
  });

  it('REAUTH extends a session past the first token exp', async (t) => {
    const realNow = Date.now();
    const s = await startSpearlet(t, { now: () => Date.now() + 600_000 - 400 - (realNow % 1000) });
    const { client, welcome } = await RawClient.open(tcp(s), await token({ expiresInSec: 600, now: () => realNow }));
    t.after(() => {
      client.destroy();
    });
    const fresh = await token({ expiresInSec: 1200, now: () => realNow });
    client.write(encodeJson(MessageKind.REAUTH, 5n, { token: fresh }));
    const r = await client.nextMessage();
    assert.ok(isResponse(r) && r.id === 5n && r.status === 0);
    const tokenExp = (parseJsonPayload(r.body, 'x') as { tokenExp: number }).tokenExp;
    assert.ok(tokenExp > (welcome.tokenExp as number));
    // Well past the first exp: still no GOAWAY and requests are served.
    await new Promise((resolve) => setTimeout(resolve, 900));
    client.request(1n, 'echo', 'still here');
    const m = await client.nextMessage();
    assert.ok(isResponse(m) && m.status === 0, `got kind ${m.kind}`);
    assert.equal(s.sessions()[0]?.tokenExp, tokenExp);

    // A REAUTH for another subject is refused and the old token stays.
    client.write(encodeJson(MessageKind.REAUTH, 6n, { token: await token({ sub: 'agent-2', now: () => realNow }) }));
    const bad = await client.nextMessage();
    assert.ok(isResponse(bad) && bad.status === 401);
    client.write(encodeJson(MessageKind.REAUTH, 7n, { token: 'garbage' }));
    const bad2 = await client.nextMessage();
    assert.ok(isResponse(bad2) && bad2.status === 401);
    assert.equal(parseJsonPayload(bad2.body, 'x').code, 'TOKEN_INVALID');
  });
});
