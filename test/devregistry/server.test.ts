// Dev-registry-only behaviour: ACL mode, keep-alive settings, prompt close, body limits, real HTTP/TCP checks, CLI.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ManualClock, spawnRegistry, startTestRegistry, type DevRegistry } from '../helpers/dev-registry.ts';
import { cliArgs } from '../helpers/cli.ts';

const run = promisify(execFile);

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function checkStatus(reg: DevRegistry, id: string): Promise<string | undefined> {
  const res = await fetch(`${reg.url}/v1/agent/checks`);
  return ((await res.json()) as Record<string, { Status: string }>)[id]?.Status;
}

describe('ACL mode', () => {
  it('requires the token on every API call except status and datacenters', async () => {
    await using reg = await startTestRegistry({ aclToken: 's3cret' });
    const get = (path: string, headers: Record<string, string> = {}): Promise<Response> =>
      fetch(`${reg.url}${path}`, { headers });
    const r = await get('/v1/agent/services');
    assert.equal(r.status, 403);
    assert.equal(await r.text(), 'ACL not found');
    assert.equal(r.headers.get('x-consul-default-acl-policy'), 'deny');
    assert.equal((await get('/v1/agent/services', { 'X-Consul-Token': 'wrong' })).status, 403);
    assert.equal((await get('/v1/agent/services', { 'X-Consul-Token': 's3cret' })).status, 200);
    assert.equal((await get('/v1/agent/services', { Authorization: 'Bearer s3cret' })).status, 200);
    assert.equal((await get('/v1/agent/services', { Authorization: 'bearer s3cret' })).status, 200);
    assert.equal((await get('/v1/agent/services?token=s3cret')).status, 200);
    assert.equal(
      (await get('/v1/agent/services?token=wrong', { 'X-Consul-Token': 's3cret' })).status,
      403,
      '?token wins',
    );
    assert.equal((await get('/v1/kv/x')).status, 403);
    assert.equal((await get('/v1/status/leader')).status, 200);
    assert.equal((await get('/v1/catalog/datacenters')).status, 200);
  });

  it('answers allow without ACLs', async () => {
    await using reg = await startTestRegistry();
    const r = await fetch(`${reg.url}/v1/status/leader`);
    assert.equal(r.headers.get('x-consul-default-acl-policy'), 'allow');
  });
});

describe('connections and lifecycle', () => {
  it('never times idle keep-alive connections out (Go does not)', async () => {
    await using reg = await startTestRegistry();
    assert.equal(reg.keepAliveTimeout, 0);
  });

  it('close() releases blocked watchers promptly and is idempotent', async () => {
    const reg = await startTestRegistry();
    const first = await fetch(`${reg.url}/v1/catalog/services`);
    const idx = first.headers.get('x-consul-index') ?? '1';
    await first.text();
    const watchers = Array.from({ length: 20 }, () =>
      fetch(`${reg.url}/v1/catalog/services?index=${idx}&wait=5m`).then(
        async (r) => {
          await r.text();
          return 'answered';
        },
        () => 'closed',
      ),
    );
    await until(() => reg.waiting >= 20);
    const start = Date.now();
    await Promise.all([reg.close(), reg.close()]);
    const outcomes = await Promise.all(watchers);
    assert.ok(Date.now() - start < 5_000, 'close took too long');
    assert.equal(outcomes.length, 20);
    await reg.close();
  });

  it('a client that goes away frees its watcher', async () => {
    await using reg = await startTestRegistry();
    const ac = new AbortController();
    const pending = fetch(`${reg.url}/v1/catalog/services?index=999999&wait=5m`, { signal: ac.signal }).catch(
      () => undefined,
    );
    await until(() => reg.waiting === 1);
    ac.abort();
    await pending;
    await until(() => reg.waiting === 0);
  });

  it('rejects bodies over the 8 MiB read limit with 413 and keeps serving', async () => {
    await using reg = await startTestRegistry();
    const r = await fetch(`${reg.url}/v1/agent/service/register`, {
      method: 'PUT',
      body: Buffer.alloc(9 * 1024 * 1024, 0x20),
    });
    assert.equal(r.status, 413);
    await r.text();
    assert.equal((await fetch(`${reg.url}/v1/status/leader`)).status, 200);
  });

  it('registers the consul service and a passing serfHealth node check at start', async () => {
    await using reg = await startTestRegistry({ node: 'n1', datacenter: 'lab' });
    const r = await fetch(`${reg.url}/v1/health/service/consul`);
    const [entry] = (await r.json()) as {
      Node: { Node: string; Datacenter: string };
      Service: { Port: number };
      Checks: { CheckID: string; Status: string }[];
    }[];
    assert.equal(entry?.Node.Node, 'n1');
    assert.equal(entry.Node.Datacenter, 'lab');
    assert.equal(entry.Service.Port, 8300);
    assert.deepEqual(
      entry.Checks.map((c) => [c.CheckID, c.Status]),
      [['serfHealth', 'passing']],
    );
    assert.equal((await fetch(`${reg.url}/v1/catalog/services?dc=other`)).status, 500);
  });
});

describe('probes', () => {
  it('runs HTTP checks on their interval: 2xx passing, 429 warning, 5xx critical', async (t) => {
    let code = 200;
    const target: Server = createServer((_req, res) => {
      res.statusCode = code;
      res.end('body');
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    t.after(
      () =>
        new Promise<void>((r) =>
          target.close(() => {
            r();
          }),
        ),
    );
    const port = (target.address() as AddressInfo).port;
    const clock = new ManualClock();
    await using reg = await startTestRegistry({ clock });
    await fetch(`${reg.url}/v1/agent/service/register`, {
      method: 'PUT',
      body: JSON.stringify({
        Name: 'web',
        Check: { CheckID: 'web:http', HTTP: `http://127.0.0.1:${port}/health`, Interval: '1s', Timeout: '2s' },
      }),
    });
    assert.equal(await checkStatus(reg, 'web:http'), 'critical');
    clock.advance(1_000);
    await until(async () => (await checkStatus(reg, 'web:http')) === 'passing');
    const checks = (await (await fetch(`${reg.url}/v1/agent/checks`)).json()) as Record<
      string,
      { Output: string; Interval: string }
    >;
    assert.equal(checks['web:http']?.Output, `HTTP GET http://127.0.0.1:${port}/health: 200 OK Output: body`);
    assert.equal(checks['web:http'].Interval, '1s');
    code = 429;
    await until(async () => {
      clock.advance(1_000);
      return (await checkStatus(reg, 'web:http')) === 'warning';
    });
    code = 503;
    await until(async () => {
      clock.advance(1_000);
      return (await checkStatus(reg, 'web:http')) === 'critical';
    });
  });

  it('runs TCP checks', async (t) => {
    const srv = createTcpServer((s) => s.destroy());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    t.after(
      () =>
        new Promise<void>((r) =>
          srv.close(() => {
            r();
          }),
        ),
    );
    const clock = new ManualClock();
    await using reg = await startTestRegistry({ clock });
    await fetch(`${reg.url}/v1/agent/check/register`, {
      method: 'PUT',
      body: JSON.stringify({ Name: 'tcp', TCP: `127.0.0.1:${port}`, Interval: '5s' }),
    });
    clock.advance(5_000);
    await until(async () => (await checkStatus(reg, 'tcp')) === 'passing');
    await new Promise<void>((r) =>
      srv.close(() => {
        r();
      }),
    );
    await until(async () => {
      clock.advance(5_000);
      return (await checkStatus(reg, 'tcp')) === 'critical';
    });
  });
});

describe('spear-mesh registry (CLI)', () => {
  it('prints its URL, serves, and exits 0 on SIGTERM', async () => {
    const child = await spawnRegistry(['--node', 'cli-node']);
    try {
      const self = (await (await fetch(`${child.url}/v1/agent/self`)).json()) as { Config: { NodeName: string } };
      assert.equal(self.Config.NodeName, 'cli-node');
    } finally {
      assert.equal(await child.kill('SIGTERM'), 0);
    }
  });

  it('SIGTERM with blocked watchers still exits promptly', async () => {
    const child = await spawnRegistry();
    const first = await fetch(`${child.url}/v1/catalog/services`);
    await first.text();
    const idx = first.headers.get('x-consul-index') ?? '1';
    const watchers = Array.from({ length: 5 }, () =>
      fetch(`${child.url}/v1/catalog/services?index=${idx}&wait=5m`).then(
        async (r) => {
          await r.text();
        },
        () => undefined,
      ),
    );
    await new Promise((r) => setTimeout(r, 200));
    const start = Date.now();
    assert.equal(await child.kill('SIGTERM'), 0);
    await Promise.all(watchers);
    assert.ok(Date.now() - start < 10_000);
  });

  it('exits 0 on SIGINT too', async () => {
    const child = await spawnRegistry();
    assert.equal(await child.kill('SIGINT'), 0);
  });

  it('rejects an unknown flag with exit code 2 naming it', async () => {
    await assert.rejects(
      run(process.execPath, cliArgs(['registry', '--frobnicate'])),
      (err: { code?: number; stderr?: string }) => {
        assert.equal(err.code, 2);
        assert.match(err.stderr ?? '', /--frobnicate/);
        return true;
      },
    );
  });

  it('exits 1 with a message when the port is taken', async () => {
    await using reg = await startTestRegistry();
    await assert.rejects(
      run(process.execPath, cliArgs(['registry', '--listen', `127.0.0.1:${reg.port}`])),
      (err: { code?: number; stderr?: string }) => {
        assert.equal(err.code, 1);
        assert.match(err.stderr ?? '', /cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
        return true;
      },
    );
  });

  it('rejects a malformed --listen and prints help with --help', async () => {
    await assert.rejects(run(process.execPath, cliArgs(['registry', '--listen', 'nope'])), { code: 2 });
    const { stdout } = await run(process.execPath, cliArgs(['registry', '--help']));
    assert.match(stdout, /--acl-token/);
  });
});
