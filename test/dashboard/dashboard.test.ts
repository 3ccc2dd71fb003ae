// The dashboard server without a browser: Host/Origin/credential checks, loopback rule, read-only KV, drill reports,
// the admin token staying on the server, Prometheus text parsing, and the CLI's metrics endpoint.
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry, Counter } from 'prom-client';
import { startDashboard } from '../../src/dashboard/dashboard.ts';
import { parseScrape, quantileMs, ratePerSec } from '../../src/dashboard/prom-text.ts';
import { serveMetrics } from '../../src/cli/metrics-endpoint.ts';
import { ConfigError } from '../../src/errors.ts';
import { createConsulClient } from '../../src/registry/consul-client.ts';
import { startTestRegistry } from '../helpers/dev-registry.ts';
import { runCli } from '../cli/run-cli.ts';

type T = { after: (fn: () => Promise<void> | void) => void };

function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function registryAndDashboard(
  t: T,
  extra: Parameters<typeof startDashboard>[0] extends infer O ? Partial<O> : never = {},
) {
  const registry = await startTestRegistry();
  t.after(() => registry.close());
  const dashboard = await startDashboard({
    consul: { addr: registry.url },
    listen: { host: '127.0.0.1', port: 0 },
    ...extra,
  });
  t.after(() => dashboard.close());
  return { registry, dashboard };
}

describe('dashboard server', () => {
  it('refuses foreign Host and Origin headers, sends a strict CSP', async (t) => {
    const { dashboard } = await registryAndDashboard(t);
    const ok = await get(dashboard.url);
    assert.equal(ok.status, 200);
    assert.match(ok.body, /<title>spear-mesh dashboard<\/title>/);
    assert.match(String(ok.headers['content-security-policy']), /script-src 'self'/);
    assert.equal((await get(dashboard.url, { host: 'localhost:1' })).status, 200);
    // DNS rebinding: a name that resolves here but is not ours.
    const rebound = await get(dashboard.url, { host: 'attacker.example:8600' });
    assert.equal(rebound.status, 403);
    const port = new URL(dashboard.url).port;
    const crossSite = await get(`${dashboard.url}api/snapshot`, { origin: 'http://attacker.example' });
    assert.equal(crossSite.status, 403);
    const sameSite = await get(`${dashboard.url}api/snapshot`, { origin: `http://127.0.0.1:${port}` });
    assert.equal(sameSite.status, 200);
  });

  it('asks for HTTP Basic credentials when configured (health stays open)', async (t) => {
    const { dashboard } = await registryAndDashboard(t, {
      basicAuth: { user: 'ops', password: 'correct horse battery' },
    });
    const none = await get(`${dashboard.url}api/snapshot`);
    assert.equal(none.status, 401);
    assert.match(String(none.headers['www-authenticate']), /^Basic /);
    const wrong = Buffer.from('ops:wrong password!!').toString('base64');
    assert.equal((await get(`${dashboard.url}api/snapshot`, { authorization: `Basic ${wrong}` })).status, 401);
    const right = Buffer.from('ops:correct horse battery').toString('base64');
    assert.equal((await get(`${dashboard.url}api/snapshot`, { authorization: `Basic ${right}` })).status, 200);
    assert.equal((await get(`${dashboard.url}health`)).status, 200);
  });

  it('will not listen off loopback without credentials (library ConfigError, CLI exit 2)', async () => {
    await assert.rejects(
      startDashboard({ consul: { addr: 'http://127.0.0.1:1' }, listen: { host: '0.0.0.0', port: 0 } }),
      (err: unknown) => err instanceof ConfigError && err.option === 'listen',
    );
    const help = await runCli(['dashboard', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: spear-mesh dashboard/);
    const cli = await runCli(['dashboard', '--consul', 'http://127.0.0.1:1', '--listen', '0.0.0.0:0']);
    assert.equal(cli.code, 2, cli.stderr);
    assert.match(cli.stderr, /--listen.*not a loopback address.*--basic-auth-file/);
  });

  it('browses KV read-only and lists drill reports from its directory', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'spear-dash-drills-'));
    t.after(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const report = {
      fault: 'kill',
      target: 's1',
      ratePerSec: 10,
      durationMs: 1000,
      faultAtMs: 300,
      detectionMs: 12,
      recoveryMs: 40,
      sent: 10,
      succeeded: 10,
      failed: 0,
      retried: 1,
      lost: 0,
      duplicated: 0,
      errors: {},
      latency: {
        before: { count: 3, p50Ms: 1, p90Ms: 1, p99Ms: 1, maxMs: 1 },
        during: { count: 3, p50Ms: 1, p90Ms: 1, p99Ms: 1, maxMs: 1 },
        after: { count: 4, p50Ms: 1, p90Ms: 1, p99Ms: 1, maxMs: 1 },
      },
      timeline: [{ tMs: 0, ok: 10, failed: 0 }],
      passed: true,
    };
    writeFileSync(join(dir, 'kill-1.json'), JSON.stringify(report));
    writeFileSync(join(dir, 'notes.json'), '{"not": "a report"}');
    const { registry, dashboard } = await registryAndDashboard(t, { drillDir: dir });
    const consul = createConsulClient({ addr: registry.url });
    t.after(() => {
      consul.close();
    });
    await consul.kvPut('app/config/a', 'hello');
    await consul.kvPut('app/b', Buffer.from([0xff, 0x00]));
    const root = JSON.parse((await get(`${dashboard.url}api/kv?prefix=`)).body) as { keys: string[] };
    assert.deepEqual(root.keys, ['app/']);
    const app = JSON.parse((await get(`${dashboard.url}api/kv?prefix=app/`)).body) as { keys: string[] };
    assert.deepEqual(app.keys, ['app/b', 'app/config/']);
    const a = JSON.parse((await get(`${dashboard.url}api/kv/value?key=app/config/a`)).body) as Record<string, unknown>;
    assert.equal(a.value, 'hello');
    assert.equal(a.encoding, 'utf8');
    const b = JSON.parse((await get(`${dashboard.url}api/kv/value?key=app/b`)).body) as Record<string, unknown>;
    assert.equal(b.encoding, 'base64');
    assert.equal(b.value, Buffer.from([0xff, 0x00]).toString('base64'));
    assert.equal((await get(`${dashboard.url}api/kv/value?key=nope`)).status, 404);
    // Read-only: nothing but GET is routed.
    const put = await new Promise<number>((resolve, reject) => {
      const req = request(`${dashboard.url}api/kv/value?key=app/b`, { method: 'PUT' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('x');
    });
    assert.equal(put, 404);

    const runs = JSON.parse((await get(`${dashboard.url}api/drills`)).body) as { runs: { name: string }[] };
    assert.deepEqual(
      runs.runs.map((r) => r.name),
      ['kill-1'],
    );
    const chart = await get(`${dashboard.url}api/drills/kill-1/chart.svg`);
    assert.equal(chart.status, 200);
    assert.match(String(chart.headers['content-type']), /^image\/svg\+xml/);
    assert.equal((await get(`${dashboard.url}api/drills/..%2Fsecret`)).status, 400);
  });

  it('sends the admin token to spearlets only, never to the browser', async (t) => {
    const seen: (string | undefined)[] = [];
    // A stand-in admin API (a real HTTP server) that records what the dashboard sends it.
    const admin = createServer((req, res) => {
      seen.push(req.headers.authorization);
      if (req.url === '/ready') res.writeHead(200).end('{"ready":true,"reasons":[]}');
      else if (req.url === '/v1/info') res.writeHead(200).end('{"pid":1,"inFlight":0,"state":"running"}');
      else if (req.url === '/v1/sessions') res.writeHead(200).end('{"sessions":[]}');
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => admin.listen(0, '127.0.0.1', resolve));
    t.after(
      () =>
        new Promise<void>((resolve) =>
          admin.close(() => {
            resolve();
          }),
        ),
    );
    const token = 'dashboard-admin-token-0123456789';
    const { registry, dashboard } = await registryAndDashboard(t, { adminToken: token });
    const consul = createConsulClient({ addr: registry.url });
    t.after(() => {
      consul.close();
    });
    await consul.registerService({
      ID: 'spearlet-x',
      Name: 'spearlet',
      Address: '127.0.0.1',
      Port: 1,
      Meta: { spearlet_id: 'x', admin_port: String((admin.address() as AddressInfo).port) },
    });
    const snap = await dashboard.poller.pollOnce();
    assert.equal(snap.spearlets[0]?.id, 'x');
    assert.ok(seen.includes(`Bearer ${token}`), JSON.stringify(seen));
    for (const path of ['', 'api/snapshot', 'app.js']) {
      assert.ok(!(await get(`${dashboard.url}${path}`)).body.includes(token), path);
    }
  });
});

describe('Prometheus text for the dashboard', () => {
  it('computes rates and histogram quantiles between two scrapes', () => {
    const a = parseScrape(
      [
        '# HELP spear_mesh_requests_total x',
        'spear_mesh_requests_total{method="echo",status="ok"} 100',
        'spear_mesh_request_duration_seconds_bucket{method="echo",le="0.001"} 50',
        'spear_mesh_request_duration_seconds_bucket{method="echo",le="0.01"} 100',
        'spear_mesh_request_duration_seconds_bucket{method="echo",le="+Inf"} 100',
      ].join('\n'),
      0,
    );
    const b = parseScrape(
      [
        'spear_mesh_requests_total{method="echo",status="ok"} 250',
        'spear_mesh_requests_total{method="info",status="ok"} 50',
        'spear_mesh_request_duration_seconds_bucket{method="echo",le="0.001"} 50',
        'spear_mesh_request_duration_seconds_bucket{method="echo",le="0.01"} 200',
        'spear_mesh_request_duration_seconds_bucket{method="echo",le="+Inf"} 300',
      ].join('\n'),
      2000,
    );
    assert.equal(ratePerSec(a, b, 'spear_mesh_requests_total'), 100);
    assert.equal(ratePerSec(undefined, b, 'spear_mesh_requests_total'), null);
    // 200 new observations: 100 in (1 ms, 10 ms], 100 above 10 ms. p50 is the top of the second bucket.
    const q = (p: number): number =>
      Math.round((quantileMs(a, b, 'spear_mesh_request_duration_seconds', p) ?? NaN) * 1e6) / 1e6;
    assert.equal(q(0.5), 10);
    assert.equal(q(0.25), 5.5);
    assert.equal(q(0.99), 10);
    assert.equal(quantileMs(b, b, 'spear_mesh_request_duration_seconds', 0.5), null);
  });
});

describe('call --metrics-port endpoint', () => {
  it('serves the registry on loopback and refuses foreign Host headers', async (t) => {
    const registry = new Registry();
    new Counter({ name: 'spear_mesh_client_calls_total', help: 'x', registers: [registry] }).inc(3);
    const endpoint = await serveMetrics(registry, 0);
    t.after(() => endpoint.close());
    const res = await get(endpoint.url);
    assert.equal(res.status, 200);
    assert.match(res.body, /spear_mesh_client_calls_total 3/);
    assert.equal((await get(endpoint.url, { host: 'attacker.example' })).status, 403);
    assert.equal((await get(endpoint.url.replace('/metrics', '/other'))).status, 404);
  });
});
