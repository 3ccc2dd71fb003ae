import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MessageKind } from '../../src/wire/index.ts';
import { startTestRegistry, type DevRegistry } from '../helpers/dev-registry.ts';
import { spawnSpearlet, TEST_AUDIENCE, TEST_ISSUER, type SpearletChild } from '../helpers/spearlet.ts';
import { RawClient } from './raw-client.ts';
import { createTestPki } from '../helpers/tls.ts';
import { cliArgs } from '../helpers/cli.ts';

const run = promisify(execFile);

async function cli(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, cliArgs(args));
}

async function cliFails(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, cliArgs(args), { env: { ...process.env, ...env } });
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
  throw new Error('expected the command to fail');
}

interface HealthEntry {
  Service: { ID: string; Address: string; Port: number; Tags: string[]; Meta: Record<string, string> };
  Checks: { Status: string }[];
}

async function passing(registry: DevRegistry): Promise<HealthEntry[]> {
  const res = await fetch(`${registry.url}/v1/health/service/spearlet?passing`);
  return (await res.json()) as HealthEntry[];
}

async function mint(secretFile: string, sub = 'agent-1'): Promise<string> {
  const { stdout } = await cli([
    'token',
    'mint',
    '--secret-file',
    secretFile,
    '--sub',
    sub,
    '--iss',
    TEST_ISSUER,
    '--aud',
    TEST_AUDIENCE,
    '--ttl',
    '10m',
  ]);
  return stdout.trim();
}

async function echoOver(target: { port?: number; path?: string }, token: string): Promise<string> {
  const { client } = await RawClient.open(target, token);
  try {
    client.request(1n, 'echo', 'ping through');
    const m = await client.nextMessage();
    if (m.kind !== MessageKind.RESPONSE) throw new Error(`got kind ${m.kind}`);
    return m.body.toString();
  } finally {
    client.destroy();
  }
}

describe('spear-mesh spearlet and token (child processes)', () => {
  let dir: string;
  let secretFile: string;
  let registry: DevRegistry;
  const children: SpearletChild[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'spearlet-cli-'));
    secretFile = join(dir, 'secret');
    await writeFile(secretFile, randomBytes(32), { mode: 0o600 });
    registry = await startTestRegistry();
  });
  after(async () => {
    await Promise.all(children.map((c) => c.stop()));
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('registers in Consul, serves agents, and drains on SIGTERM: deregistered, exit 0', async () => {
    const socketPath = join(dir, 's1.sock');
    const s = await spawnSpearlet({
      id: 's1',
      secretFile,
      consul: registry.url,
      args: ['--zone', 'z1', '--socket', socketPath, '--tags', 'gpu'],
    });
    children.push(s);
    assert.equal(s.socketPath, socketPath);
    let entries: HealthEntry[] = [];
    const deadline = Date.now() + 20_000;
    while ((entries = await passing(registry)).length === 0) {
      if (Date.now() > deadline) throw new Error(`no passing registration: ${s.stderr()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const svc = entries[0]!.Service;
    assert.equal(svc.ID, 'spearlet-s1');
    assert.equal(svc.Port, s.tcp.port);
    assert.equal(svc.Address, '127.0.0.1');
    assert.deepEqual(svc.Tags, ['spear-mesh', 'proto-1', 'zone-z1', 'gpu']);
    assert.equal(svc.Meta.spearlet_id, 's1');
    assert.equal(svc.Meta.admin_port, String(s.admin.port));
    assert.equal(svc.Meta.zone, 'z1');
    assert.equal(svc.Meta.socket, socketPath);
    assert.equal(svc.Meta.proto, '1');

    const ready = await fetch(`${s.adminUrl}/ready`);
    assert.equal(ready.status, 200);

    const token = await mint(secretFile);
    assert.equal(await echoOver({ port: s.tcp.port }, token), 'ping through');
    assert.equal(await echoOver({ path: socketPath }, token), 'ping through');

    assert.equal(await s.stop(), 0);
    const gone = await fetch(`${registry.url}/v1/health/service/spearlet`);
    assert.deepEqual(await gone.json(), []);
    await assert.rejects(stat(socketPath));
  });

  it('drains on POST /v1/drain and exits 0', async () => {
    const s = await spawnSpearlet({ id: 's2', secretFile, args: ['--no-consul'] });
    children.push(s);
    const res = await fetch(`${s.adminUrl}/v1/drain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(res.status, 202);
    assert.equal(await s.exited, 0);
  });

  it('bad configuration exits 2 with a message naming the option', async () => {
    const base = ['spearlet', '--id', 'x', '--no-consul', '--issuer', 'i', '--audience', 'a'];
    let r = await cliFails(base);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--token-secret-file/);
    r = await cliFails([...base, '--token-secret-file', join(dir, 'missing')]);
    assert.match(r.stderr, /--token-secret-file: cannot read/);
    r = await cliFails([...base, '--token-secret-file', secretFile, '--heartbeat-ms', 'fast']);
    assert.match(r.stderr, /--heartbeat-ms/);
    r = await cliFails([...base, '--token-secret-file', secretFile, '--tls-cert', secretFile]);
    assert.match(r.stderr, /--tls-cert/);
    r = await cliFails(['spearlet', '--no-consul', '--issuer', 'i', '--audience', 'a'], {
      SPEARLET_TOKEN_SECRET: 'x'.repeat(32),
    });
    assert.match(r.stderr, /--id/);
    r = await cliFails(['spearlet', '--nope']);
    assert.equal(r.code, 2);
    const help = await cli(['spearlet', '--help']);
    assert.match(help.stdout, /--token-secret-file/);
  });

  it('takes every flag from SPEARLET_* variables too', async () => {
    const s = await spawnSpearlet({
      id: 'ignored-by-env',
      args: ['--no-consul'],
      env: { SPEARLET_TOKEN_SECRET: 'an-env-secret-of-enough-length', SPEARLET_ZONE: 'envzone' },
    });
    children.push(s);
    const info = (await (await fetch(`${s.adminUrl}/v1/info`)).json()) as { zone: string };
    assert.equal(info.zone, 'envzone');
    const { stdout } = await run(
      process.execPath,
      cliArgs(['token', 'mint', '--sub', 'a', '--iss', TEST_ISSUER, '--aud', TEST_AUDIENCE]),
      {
        env: { ...process.env, SPEAR_TOKEN_SECRET: 'an-env-secret-of-enough-length' },
      },
    );
    assert.equal(await echoOver({ port: s.tcp.port }, stdout.trim()), 'ping through');
    assert.equal(await s.stop(), 0);
  });

  it('token keygen + a JWKS file spearlet + token mint --key', async () => {
    const keys = join(dir, 'keys');
    const { stdout: kid } = await cli(['token', 'keygen', '--alg', 'EdDSA', '--kid', 'k1', '--out', keys]);
    assert.equal(kid.trim(), 'k1');
    const priv = await stat(join(keys, 'k1.private.jwk'));
    assert.equal(priv.mode & 0o777, 0o600);
    await cli(['token', 'keygen', '--alg', 'ES256', '--kid', 'k2', '--out', keys]);
    const jwks = JSON.parse(await readFile(join(keys, 'jwks.json'), 'utf8')) as { keys: { kid: string; d?: string }[] };
    assert.deepEqual(
      jwks.keys.map((k) => k.kid),
      ['k1', 'k2'],
    );
    assert.ok(jwks.keys.every((k) => k.d === undefined));

    const s = await spawnSpearlet({ id: 's3', args: ['--no-consul', '--jwks', join(keys, 'jwks.json')] });
    children.push(s);
    for (const k of ['k1', 'k2']) {
      const { stdout } = await cli([
        'token',
        'mint',
        '--key',
        join(keys, `${k}.private.jwk`),
        '--sub',
        'a',
        '--iss',
        TEST_ISSUER,
        '--aud',
        TEST_AUDIENCE,
        '--scope',
        'echo',
      ]);
      assert.equal(await echoOver({ port: s.tcp.port }, stdout.trim()), 'ping through');
    }
    assert.equal(await s.stop(), 0);
  });

  it('--jwks consul:KEY follows a rotated key set without a restart', async () => {
    const keys = join(dir, 'consul-keys');
    await cli(['token', 'keygen', '--kid', 'old', '--out', keys]);
    const put = async (): Promise<void> => {
      const body = await readFile(join(keys, 'jwks.json'));
      const res = await fetch(`${registry.url}/v1/kv/spear/jwks`, { method: 'PUT', body });
      assert.equal(res.status, 200);
    };
    await put();
    const s = await spawnSpearlet({ id: 's4', consul: registry.url, args: ['--jwks', 'consul:spear/jwks'] });
    children.push(s);
    const mintWith = async (kid: string): Promise<string> =>
      (
        await cli([
          'token',
          'mint',
          '--key',
          join(keys, `${kid}.private.jwk`),
          '--sub',
          'a',
          '--iss',
          TEST_ISSUER,
          '--aud',
          TEST_AUDIENCE,
        ])
      ).stdout.trim();
    assert.equal(await echoOver({ port: s.tcp.port }, await mintWith('old')), 'ping through');
    await cli(['token', 'keygen', '--kid', 'new', '--out', keys]);
    const fresh = await mintWith('new');
    await put();
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        assert.equal(await echoOver({ port: s.tcp.port }, fresh), 'ping through');
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.equal(await s.stop(), 0);
  });

  it('TLS flags: serves TLS, advertises it in Consul (tag and Meta.tls)', async () => {
    const pki = await createTestPki();
    try {
      const s = await spawnSpearlet({
        id: 's5',
        secretFile,
        consul: registry.url,
        args: [
          '--tls-cert',
          pki.files.serverCert,
          '--tls-key',
          pki.files.serverKey,
          '--tls-client-ca',
          pki.files.caCert,
        ],
      });
      children.push(s);
      let entries: HealthEntry[] = [];
      const deadline = Date.now() + 20_000;
      while ((entries = (await passing(registry)).filter((e) => e.Service.ID === 'spearlet-s5')).length === 0) {
        if (Date.now() > deadline) throw new Error(`no passing registration: ${s.stderr()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(entries[0]!.Service.Tags.includes('tls'));
      assert.equal(entries[0]!.Service.Meta.tls, 'true');
      const tls = { ca: pki.caCert, servername: 'localhost', cert: pki.clientCert, key: pki.clientKey };
      const { client } = await RawClient.open({ port: s.tcp.port, tls }, await mint(secretFile));
      client.request(1n, 'echo', 'tls');
      assert.equal((await client.nextMessage()).kind, MessageKind.RESPONSE);
      client.destroy();
      assert.equal(await s.stop(), 0);
    } finally {
      await pki.cleanup();
    }
  });

  it('a second signal during a drain exits at once with 1', async () => {
    const s = await spawnSpearlet({ id: 's6', secretFile, args: ['--no-consul', '--drain-timeout-ms', '60000'] });
    children.push(s);
    const { client } = await RawClient.open({ port: s.tcp.port }, await mint(secretFile));
    client.request(1n, 'sleep', '60000');
    // The sleep is in flight once the spearlet reports it.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const info = (await (await fetch(`${s.adminUrl}/v1/info`)).json()) as { inFlight: number };
      if (info.inFlight === 1) break;
      if (Date.now() > deadline) throw new Error('the sleep never started');
      await new Promise((r) => setTimeout(r, 50));
    }
    process.kill(s.pid, 'SIGTERM');
    assert.equal((await client.nextMessage()).kind, MessageKind.GOAWAY);
    const started = Date.now();
    process.kill(s.pid, 'SIGTERM');
    assert.equal(await s.exited, 1);
    assert.ok(Date.now() - started < 10_000);
    client.destroy();
  });
});
