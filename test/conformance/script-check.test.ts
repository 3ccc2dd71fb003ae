// Script checks, from Consul's check documentation (https://developer.hashicorp.com/consul/docs/services/usage/checks)
// and its agent configuration reference (enable_script_checks). With the flag off, a check with `Args` is refused
// with Consul's 500. With it on, the command runs every Interval: exit 0 passing, 1 warning, anything else critical,
// output captured up to 4 KB. Against a real Consul the enabled cases run only when CONSUL_ENABLE_SCRIPT_CHECKS=1
// says the agent was started with -enable-script-checks. The clean environment and the kill on close are the dev
// registry's own guarantees (a Consul agent passes its environment on), so they run only against it. Checked against
// the documentation and source only: the "Captured N of M bytes" and "Timed out (…) running check" texts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevRegistry, type DevRegistry } from '../../src/devregistry/index.ts';
import { againstDev, devOnly, openTarget, putJson, raw, uniq, waitFor, type Target } from './target.ts';

let t: Target;
/** Where scripts may run: a dev registry started with script checks on, or the real agent when it allows them. */
let scriptUrl: string | undefined;
let scriptRegistry: DevRegistry | undefined;
before(async () => {
  t = await openTarget();
  if (againstDev) {
    scriptRegistry = await startDevRegistry({ port: 0, enableScriptChecks: true });
    scriptUrl = scriptRegistry.url;
  } else if (process.env.CONSUL_ENABLE_SCRIPT_CHECKS === '1') {
    scriptUrl = t.url;
  }
});
after(async () => {
  await scriptRegistry?.close();
  await t.close();
});

const enabledOnly = {
  skip: againstDev || process.env.CONSUL_ENABLE_SCRIPT_CHECKS === '1' ? false : 'agent without -enable-script-checks',
} as const;

interface AgentCheck {
  Status: string;
  Output: string;
  Type: string;
}

async function put(path: string, body: unknown): Promise<{ status: number; text: string }> {
  const r = await fetch(`${scriptUrl ?? ''}${path}`, { method: 'PUT', body: JSON.stringify(body) });
  return { status: r.status, text: await r.text() };
}

async function check(id: string): Promise<AgentCheck | undefined> {
  const r = await fetch(`${scriptUrl ?? ''}/v1/agent/checks`);
  return ((await r.json()) as Record<string, AgentCheck>)[id];
}

/** Registers a script check and waits for its first result. */
async function runScript(script: string, extra: Record<string, unknown> = {}): Promise<AgentCheck> {
  const id = uniq('script');
  const r = await put('/v1/agent/check/register', {
    ID: id,
    Name: id,
    Args: ['sh', '-c', script],
    Interval: '1s',
    ...extra,
  });
  assert.equal(r.status, 200, r.text);
  let got: AgentCheck | undefined;
  try {
    await waitFor(async () => {
      got = await check(id);
      return got !== undefined && got.Output !== '';
    });
  } finally {
    await put(`/v1/agent/check/deregister/${id}`, undefined);
  }
  assert.ok(got);
  return got;
}

describe('script checks', () => {
  it('are refused with 500 when enable_script_checks is off', async () => {
    const r = await putJson(t, '/v1/agent/check/register', { Name: uniq('s'), Args: ['true'], Interval: '10s' });
    assert.equal(r.status, 500);
    assert.equal(
      r.text,
      "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true",
    );
    const svc = await putJson(t, '/v1/agent/service/register', {
      Name: uniq('s'),
      Check: { Args: ['true'], Interval: '10s' },
    });
    assert.equal(svc.status, 500);
    assert.match(svc.text, /^Scripts are disabled on this agent from remote calls/);
  });

  it('exit 0 is passing, 1 warning, anything else critical, with the output', enabledOnly, async () => {
    const ok = await runScript('echo fine; exit 0');
    assert.equal(ok.Status, 'passing');
    assert.equal(ok.Output, 'fine\n');
    assert.equal(ok.Type, 'script');
    assert.equal((await runScript('echo meh >&2; exit 1')).Status, 'warning');
    const bad = await runScript('echo broken; exit 3');
    assert.equal(bad.Status, 'critical');
    assert.equal(bad.Output, 'broken\n');
  });

  it('output above 4 KB keeps the last 4096 bytes with a "Captured" preface', enabledOnly, async () => {
    const c = await runScript("printf 'HEAD'; head -c 5000 /dev/zero | tr '\\0' a");
    assert.equal(c.Output, `Captured 4096 of 5004 bytes\n...\n${'a'.repeat(4096)}`);
  });

  it('a script past its Timeout is killed and critical', enabledOnly, async () => {
    const c = await runScript('echo started; sleep 30', { Timeout: '300ms' });
    assert.equal(c.Status, 'critical');
    assert.equal(c.Output, 'Timed out (300ms) running check\n\nstarted\n');
  });

  it('scripts get a clean environment, none of the registry variables (dev registry)', devOnly, async (ctx) => {
    process.env.SPEAR_SCRIPT_TEST_SECRET = 'do-not-leak';
    ctx.after(() => {
      delete process.env.SPEAR_SCRIPT_TEST_SECRET;
    });
    const c = await runScript('env');
    assert.doesNotMatch(c.Output, /SPEAR_SCRIPT_TEST_SECRET|do-not-leak/);
    assert.match(c.Output, /^PATH=/m);
  });

  it('running scripts are killed when the registry closes (dev registry)', devOnly, async (ctx) => {
    const dir = await mkdtemp(join(tmpdir(), 'spear-script-'));
    ctx.after(() => rm(dir, { recursive: true, force: true }));
    const reg = await startDevRegistry({ port: 0, enableScriptChecks: true });
    let closed = false;
    ctx.after(async () => {
      if (!closed) await reg.close();
    });
    const pidFile = join(dir, 'pid');
    const r = await fetch(`${reg.url}/v1/agent/check/register`, {
      method: 'PUT',
      body: JSON.stringify({
        Name: 'sleeper',
        Args: ['sh', '-c', `echo $$ > ${pidFile}; exec sleep 60`],
        Interval: '1s',
      }),
    });
    assert.equal(r.status, 200);
    let pid = 0;
    await waitFor(async () => {
      pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
      return pid > 0;
    });
    const alive = (): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    assert.ok(alive());
    await reg.close();
    closed = true;
    await waitFor(() => !alive(), 10_000);
  });

  it('a check with Args and no Interval is a 400', async () => {
    const r = await raw(t, 'PUT', '/v1/agent/check/register', JSON.stringify({ Name: 'x', Args: ['true'] }));
    assert.equal(r.status, 400);
    assert.equal(r.text, 'Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks');
  });
});
