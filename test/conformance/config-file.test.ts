// `spear-mesh registry --config-file FILE` with a Consul JSON agent config (keys from Consul's agent configuration
// reference: node_name, datacenter, client_addr, ports.http, enable_script_checks, acl.enabled,
// acl.tokens.initial_management), and the --enable-script-checks flag. These start the dev registry's own CLI as a
// child process, so they run only against it; a real agent reads the same file with `consul agent -config-file`.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { interpretAgentConfig } from '../../src/devregistry/agent-config.ts';
import { ConfigError } from '../../src/errors.ts';
import { devOnly } from './target.ts';
import { repoPath } from '../../scripts/repo-root.ts';

const BIN = repoPath('bin/spear-mesh.js');

interface Started {
  url?: string;
  code?: number | null;
  stderr: string;
  stop(): Promise<void>;
}

/** Starts `spear-mesh registry ARGS`; resolves once it listens or exits. */
function startCli(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, [BIN, 'registry', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      void stop().then(() => {
        resolve({ stderr: `${stderr}\n(timed out)`, stop });
      });
    }, 60_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^registry listening on (http:\/\/\S+)$/.exec(line);
      if (m?.[1] === undefined) return;
      clearTimeout(timer);
      resolve({
        url: m[1],
        get stderr() {
          return stderr;
        },
        stop,
      });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stop });
    });
  });
}

async function withConfig(ctx: { after: (fn: () => Promise<void>) => void }, config: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'spear-regcfg-'));
  ctx.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'agent.json');
  await writeFile(file, typeof config === 'string' ? config : JSON.stringify(config));
  return file;
}

describe('registry --config-file', () => {
  it(
    'reads node_name, datacenter, client_addr, ports.http, enable_script_checks and the ACL token',
    devOnly,
    async (ctx) => {
      const file = await withConfig(ctx, {
        node_name: 'cfg-node',
        datacenter: 'cfg-dc',
        client_addr: '127.0.0.1',
        ports: { http: 0, dns: 8600 },
        enable_script_checks: true,
        acl: { enabled: true, default_policy: 'deny', tokens: { initial_management: 'root-token' } },
        data_dir: '/tmp/ignored',
      });
      const reg = await startCli(['--config-file', file]);
      ctx.after(() => reg.stop());
      assert.ok(reg.url, reg.stderr);
      const self = await fetch(`${reg.url}/v1/agent/self`, { headers: { 'X-Consul-Token': 'root-token' } });
      const cfg = ((await self.json()) as { Config: { NodeName: string; Datacenter: string } }).Config;
      assert.equal(cfg.NodeName, 'cfg-node');
      assert.equal(cfg.Datacenter, 'cfg-dc');
      assert.equal((await fetch(`${reg.url}/v1/agent/self`)).status, 403, 'ACL mode: no token, no answer');
      const script = await fetch(`${reg.url}/v1/agent/check/register`, {
        method: 'PUT',
        headers: { 'X-Consul-Token': 'root-token' },
        body: JSON.stringify({ Name: 's', Args: ['true'], Interval: '10s' }),
      });
      assert.equal(script.status, 200, 'script checks enabled by the file');
      await reg.stop();
      assert.match(reg.stderr, /config key data_dir ignored/);
      assert.match(reg.stderr, /config key ports\.dns ignored/);
    },
  );

  it('flags win over the file; --enable-script-checks alone enables script checks', devOnly, async (ctx) => {
    const file = await withConfig(ctx, { node_name: 'from-file', enable_script_checks: false });
    const reg = await startCli([
      '--listen',
      '127.0.0.1:0',
      '--config-file',
      file,
      '--node',
      'from-flag',
      '--enable-script-checks',
    ]);
    ctx.after(() => reg.stop());
    assert.ok(reg.url, reg.stderr);
    const self = (await (await fetch(`${reg.url}/v1/agent/self`)).json()) as { Config: { NodeName: string } };
    assert.equal(self.Config.NodeName, 'from-flag');
    const r = await fetch(`${reg.url}/v1/agent/check/register`, {
      method: 'PUT',
      body: JSON.stringify({ Name: 's', Args: ['true'], Interval: '10s' }),
    });
    assert.equal(r.status, 200);
  });

  it('script checks stay off without the flag or the key', devOnly, async (ctx) => {
    const reg = await startCli(['--listen', '127.0.0.1:0']);
    ctx.after(() => reg.stop());
    const r = await fetch(`${reg.url ?? ''}/v1/agent/check/register`, {
      method: 'PUT',
      body: JSON.stringify({ Name: 's', Args: ['true'], Interval: '10s' }),
    });
    assert.equal(r.status, 500);
  });

  it('a config file that is not JSON exits 2 with one line naming the problem', devOnly, async (ctx) => {
    const file = await withConfig(ctx, 'node_name = "x"');
    const reg = await startCli(['--config-file', file]);
    ctx.after(() => reg.stop());
    assert.equal(reg.url, undefined);
    assert.equal(reg.code, 2);
    assert.match(reg.stderr, /^spear-mesh registry: CONFIG_INVALID: --config-file: .* is not JSON/);
    assert.equal(reg.stderr.trim().split('\n').length, 1, reg.stderr);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['a mistyped key', { enable_script_checks: 'yes' }, /enable_script_checks must be a boolean, got "yes"/],
    ['ACLs on without a token', { acl: { enabled: true } }, /acl.enabled needs acl.tokens.initial_management/],
    ['a bad port', { ports: { http: 70000 } }, /ports.http must be a port number/],
  ];
  for (const [what, config, message] of bad) {
    it(`a config file with ${what} is a ConfigError naming it`, devOnly, () => {
      assert.throws(
        () => interpretAgentConfig(config),
        (err: unknown) => err instanceof ConfigError && err.code === 'CONFIG_INVALID' && message.test(err.message),
      );
    });
  }

  it('a missing config file exits 2', devOnly, async () => {
    const reg = await startCli(['--config-file', join(tmpdir(), 'no-such-spear-config.json')]);
    assert.equal(reg.code, 2);
    assert.match(reg.stderr, /CONFIG_INVALID: --config-file: cannot read/);
  });
});
