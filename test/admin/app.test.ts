import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildAdminApp } from '../../src/admin/app.ts';
import { MessageKind } from '../../src/wire/index.ts';
import { RawClient } from '../spearlet/raw-client.ts';
import { SpearletFaults } from '../../src/drill/spearlet-faults.ts';
import { startSpearlet, startSpearletWithAdmin, tcp, token, waitFor } from '../spearlet/fixture.ts';

describe('admin API', () => {
  it('health, ready, metrics, info and sessions', async (t) => {
    const s = await startSpearlet(t, { zone: 'eu-1' });
    const app = buildAdminApp(s);
    t.after(() => app.close());
    const { client } = await RawClient.open(tcp(s), await token(), 'billing-7');
    t.after(() => {
      client.destroy();
    });
    client.request(1n, 'echo', 'x');
    await client.nextMessage();

    const health = await app.inject({ method: 'GET', url: '/health' });
    assert.equal(health.statusCode, 200);
    assert.deepEqual(health.json(), { status: 'ok', spearlet: 's1' });

    const ready = await app.inject({ method: 'GET', url: '/ready' });
    assert.equal(ready.statusCode, 200);
    assert.equal(ready.json<{ ready: boolean }>().ready, true);

    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(metrics.statusCode, 200);
    assert.match(metrics.headers['content-type'] as string, /text\/plain/);
    for (const name of [
      'spear_mesh_connections_open',
      'spear_mesh_handshakes_total',
      'spear_mesh_requests_total',
      'spear_mesh_request_duration_seconds_bucket',
      'spear_mesh_heartbeats_missed_total',
      'spear_mesh_bytes_in_total',
      'spear_mesh_bytes_out_total',
    ]) {
      assert.match(metrics.body, new RegExp(`^${name}`, 'm'), name);
    }

    const sessions = (await app.inject({ method: 'GET', url: '/v1/sessions' })).json<{
      sessions: { agent: string; agentName: string; requests: number; state: string }[];
    }>();
    assert.equal(sessions.sessions.length, 1);
    assert.equal(sessions.sessions[0]!.agent, 'agent-1');
    assert.equal(sessions.sessions[0]!.agentName, 'billing-7');
    assert.equal(sessions.sessions[0]!.requests, 1);
    assert.equal(sessions.sessions[0]!.state, 'open');

    const info = (await app.inject({ method: 'GET', url: '/v1/info' })).json<{ zone: string; methods: string[] }>();
    assert.equal(info.zone, 'eu-1');
    assert.deepEqual(info.methods, ['echo', 'info', 'sleep']);
  });

  it('POST /v1/drain answers 202, then the spearlet drains and stops being ready', async (t) => {
    const s = await startSpearlet(t);
    const app = buildAdminApp(s);
    t.after(() => app.close());
    const bad = await app.inject({ method: 'POST', url: '/v1/drain', payload: { timeoutMs: -1 } });
    assert.equal(bad.statusCode, 400);
    const drained = new Promise((resolve) => s.once('drained', resolve));
    const res = await app.inject({ method: 'POST', url: '/v1/drain', payload: { timeoutMs: 1000 } });
    assert.equal(res.statusCode, 202);
    const ready = await app.inject({ method: 'GET', url: '/ready' });
    assert.equal(ready.statusCode, 503);
    await drained;
    assert.equal(s.state, 'closed');
    const after = await app.inject({ method: 'GET', url: '/ready' });
    assert.deepEqual(after.json<{ reasons: string[] }>().reasons, ['closed']);
  });

  it('serves on its own port when the spearlet is given an admin address', async (t) => {
    const { spearlet: s, admin } = await startSpearletWithAdmin(t);
    const a = s.adminAddress!;
    assert.deepEqual(a, admin.address);
    const res = await fetch(`http://127.0.0.1:${a.port}/health`);
    assert.equal(res.status, 200);
    await s.close();
    await waitFor(() => s.state === 'closed');
    // The admin server closes with the spearlet.
    await admin.close();
    await assert.rejects(fetch(`http://127.0.0.1:${a.port}/health`));
  });

  it('drill partition: sessions go silent without closing, then recover; only with enableDrills', async (t) => {
    const plain = await startSpearlet(t);
    const plainApp = buildAdminApp(plain);
    t.after(() => plainApp.close());
    const none = await plainApp.inject({
      method: 'POST',
      url: '/v1/faults',
      payload: { fault: 'partition', durationMs: 10 },
    });
    assert.equal(none.statusCode, 404);

    const s = await startSpearlet(t, { heartbeatMs: 50, heartbeatTimeoutMs: 200 });
    const faults = new SpearletFaults(s);
    t.after(() => {
      faults.close();
    });
    const app = buildAdminApp(s, { faults });
    t.after(() => app.close());
    const { client } = await RawClient.open(tcp(s), await token());
    t.after(() => {
      client.destroy();
    });
    const res = await app.inject({
      method: 'POST',
      url: '/v1/faults',
      payload: { fault: 'partition', durationMs: 600 },
    });
    assert.equal(res.statusCode, 202);
    const started = Date.now();
    client.request(1n, 'echo', 'during');
    const m = await client.nextMessage(10_000);
    // The answer only comes once the partition heals, although the heartbeat timeout is far shorter.
    assert.equal(m.kind, MessageKind.RESPONSE);
    assert.ok(Date.now() - started >= 500, `answered after ${Date.now() - started} ms`);
    assert.equal(s.sessions().length, 1);
  });
});
