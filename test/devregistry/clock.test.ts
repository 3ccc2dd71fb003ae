// Time-driven behaviour on an injected manual clock: TTL expiry, critical time and the DCSA reaper, deferred
// output sync, session TTL ×2, lock-delay, and blocking-query timeouts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, startTestRegistry, type DevRegistry } from '../helpers/dev-registry.ts';

async function req(
  reg: DevRegistry,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string; index: number }> {
  const res = await fetch(`${reg.url}${path}`, {
    method,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text(), index: Number(res.headers.get('x-consul-index') ?? 0) };
}

interface Check {
  CheckID: string;
  Status: string;
  Output: string;
}

async function catalogCheck(reg: DevRegistry, service: string, checkId: string): Promise<Check | undefined> {
  const r = await req(reg, 'GET', `/v1/health/service/${service}`);
  const entries = JSON.parse(r.text) as { Checks: Check[] }[];
  return entries[0]?.Checks.find((c) => c.CheckID === checkId);
}

async function agentCheck(reg: DevRegistry, checkId: string): Promise<Check | undefined> {
  return (JSON.parse((await req(reg, 'GET', '/v1/agent/checks')).text) as Record<string, Check>)[checkId];
}

async function exists(reg: DevRegistry, service: string): Promise<boolean> {
  return (await req(reg, 'GET', `/v1/health/service/${service}`)).text !== '[]';
}

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('TTL checks on the manual clock', () => {
  it('expire to critical with "TTL expired", then with the last output', async () => {
    const clock = new ManualClock();
    await using reg = await startTestRegistry({ clock });
    await req(reg, 'PUT', '/v1/agent/service/register', { Name: 'a', Check: { CheckID: 'a:ttl', TTL: '10s' } });
    clock.advance(10_001);
    assert.equal((await agentCheck(reg, 'a:ttl'))?.Output, 'TTL expired');
    // Critical before and after: an output-only change, which Consul defers on its way to the catalog.
    assert.equal((await catalogCheck(reg, 'a', 'a:ttl'))?.Output, '');
    await req(reg, 'PUT', '/v1/agent/check/pass/a:ttl?note=ok%20so%20far');
    clock.advance(9_000);
    assert.equal((await catalogCheck(reg, 'a', 'a:ttl'))?.Status, 'passing', 'the pass reset the timer');
    clock.advance(1_001);
    const c = await catalogCheck(reg, 'a', 'a:ttl');
    assert.equal(c?.Status, 'critical');
    assert.equal(c.Output, 'TTL expired (last output before timeout follows): ok so far');
  });

  it('an identical pass bumps no index; an output-only change is synced to the catalog only after the deferral', async () => {
    const clock = new ManualClock();
    await using reg = await startTestRegistry({ clock });
    await req(reg, 'PUT', '/v1/agent/service/register', { Name: 'b', Check: { CheckID: 'b:ttl', TTL: '60s' } });
    await req(reg, 'PUT', '/v1/agent/check/pass/b:ttl?note=one');
    const i1 = (await req(reg, 'GET', '/v1/health/service/b')).index;
    await req(reg, 'PUT', '/v1/agent/check/pass/b:ttl?note=one');
    assert.equal((await req(reg, 'GET', '/v1/health/service/b')).index, i1, 'idempotent pass');
    await req(reg, 'PUT', '/v1/agent/check/pass/b:ttl?note=two');
    assert.equal((await agentCheck(reg, 'b:ttl'))?.Output, 'two', 'the agent view has the new output at once');
    assert.equal((await catalogCheck(reg, 'b', 'b:ttl'))?.Output, 'one', 'the catalog view waits');
    assert.equal((await req(reg, 'GET', '/v1/health/service/b')).index, i1);
    // Keep the TTL alive while the deferral (5 m × 0.5–1.5) runs out.
    for (let i = 0; i < 16; i++) {
      clock.advance(30_000);
      await req(reg, 'PUT', '/v1/agent/check/pass/b:ttl?note=two');
    }
    assert.equal((await catalogCheck(reg, 'b', 'b:ttl'))?.Output, 'two');
    assert.ok((await req(reg, 'GET', '/v1/health/service/b')).index > i1);
  });
});

describe('DeregisterCriticalServiceAfter and the reaper', () => {
  it('a service that never heartbeats is reaped at TTL + max(DCSA, 1m) + at most 30 s', async () => {
    const clock = new ManualClock();
    await using reg = await startTestRegistry({ clock });
    await req(reg, 'PUT', '/v1/agent/service/register', {
      Name: 'dcsa',
      Check: { TTL: '10s', DeregisterCriticalServiceAfter: '10s' },
    });
    clock.advance(10_001); // TTL expiry: critical, the clock starts (DCSA raised to the 1 m floor)
    clock.advance(60_000); // 60 s critical: not yet more than 1 m
    assert.equal(await exists(reg, 'dcsa'), true, 'the 1 m floor applies');
    clock.advance(30_000); // the next reaper pass
    assert.equal(await exists(reg, 'dcsa'), false);
    assert.equal(clock.now() - 1_700_000_000_000 <= 10_000 + 60_000 + 30_000 + 1, true);
  });

  it('registration as critical does not start the clock; a fail does', async () => {
    const clock = new ManualClock();
    await using reg = await startTestRegistry({ clock });
    await req(reg, 'PUT', '/v1/agent/service/register', {
      Name: 'crit',
      Check: { CheckID: 'crit:ttl', TTL: '1h', DeregisterCriticalServiceAfter: '1m' },
    });
    clock.advance(5 * 60_000);
    assert.equal(await exists(reg, 'crit'), true, 'critical since registration, but never counted');
    await req(reg, 'PUT', '/v1/agent/check/fail/crit:ttl');
    clock.advance(60_000);
    assert.equal(await exists(reg, 'crit'), true);
    clock.advance(30_001);
    assert.equal(await exists(reg, 'crit'), false);
  });

  it('warning never reaps, and a pass stops the count', async () => {
    const clock = new ManualClock();
    await using reg = await startTestRegistry({ clock });
    await req(reg, 'PUT', '/v1/agent/service/register', {
      Name: 'warn',
      Check: { CheckID: 'warn:ttl', TTL: '1h', DeregisterCriticalServiceAfter: '1m' },
    });
    await req(reg, 'PUT', '/v1/agent/check/fail/warn:ttl');
    clock.advance(50_000);
    await req(reg, 'PUT', '/v1/agent/check/warn/warn:ttl');
    clock.advance(10 * 60_000);
    assert.equal(await exists(reg, 'warn'), true);
  });
});

describe('sessions on the manual clock', () => {
  it('a TTL session is invalidated after 2×TTL without renew; renew resets it', async () => {
    const clock = new ManualClock();
    await using reg = await startTestRegistry({ clock });
    const { ID } = JSON.parse((await req(reg, 'PUT', '/v1/session/create', { TTL: '10s' })).text) as { ID: string };
    clock.advance(15_000);
    assert.equal((await req(reg, 'PUT', `/v1/session/renew/${ID}`)).status, 200);
    clock.advance(19_000);
    assert.notEqual((await req(reg, 'GET', `/v1/session/info/${ID}`)).text, '[]');
    clock.advance(1_001);
    assert.equal((await req(reg, 'GET', `/v1/session/info/${ID}`)).text, '[]');
  });

  it('lock-delay blocks re-acquiring a released lock until it runs out', async () => {
    const clock = new ManualClock();
    await using reg = await startTestRegistry({ clock });
    const a = (JSON.parse((await req(reg, 'PUT', '/v1/session/create', { LockDelay: '15s' })).text) as { ID: string })
      .ID;
    const b = (JSON.parse((await req(reg, 'PUT', '/v1/session/create')).text) as { ID: string }).ID;
    assert.equal((await req(reg, 'PUT', `/v1/kv/lk?acquire=${a}`, 'x')).text, 'true');
    await req(reg, 'PUT', `/v1/session/destroy/${a}`);
    assert.equal((await req(reg, 'PUT', `/v1/kv/lk?acquire=${b}`, 'y')).text, 'false');
    clock.advance(14_000);
    assert.equal((await req(reg, 'PUT', `/v1/kv/lk?acquire=${b}`, 'y')).text, 'false');
    clock.advance(1_001);
    assert.equal((await req(reg, 'PUT', `/v1/kv/lk?acquire=${b}`, 'y')).text, 'true');
  });

  it('a numeric LockDelay below 1000 is seconds, and it is capped at 60 s', async () => {
    await using reg = await startTestRegistry({ clock: new ManualClock() });
    const mk = async (body: unknown): Promise<number> => {
      const { ID } = JSON.parse((await req(reg, 'PUT', '/v1/session/create', body)).text) as { ID: string };
      return (JSON.parse((await req(reg, 'GET', `/v1/session/info/${ID}`)).text) as { LockDelay: number }[])[0]!
        .LockDelay;
    };
    assert.equal(await mk({ LockDelay: 5 }), 5e9);
    assert.equal(await mk({ LockDelay: 2_000_000_000 }), 2e9);
    assert.equal(await mk({ LockDelay: '5m' }), 60e9);
  });
});

describe('blocking waits on the manual clock', () => {
  it('a blocked query returns the unchanged index only when its wait runs out', async () => {
    const clock = new ManualClock();
    await using reg = await startTestRegistry({ clock });
    const first = await req(reg, 'GET', '/v1/catalog/services');
    let done = false;
    const pending = req(reg, 'GET', `/v1/catalog/services?index=${first.index}&wait=10s`).then((r) => {
      done = true;
      return r;
    });
    await until(() => reg.waiting > 0);
    clock.advance(9_000);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(done, false);
    clock.advance(10_000 / 16 + 1_001);
    const r = await pending;
    assert.equal(r.status, 200);
    assert.equal(r.index, first.index);
  });

  it('without wait the default is 5 minutes (plus jitter)', async () => {
    const clock = new ManualClock();
    await using reg = await startTestRegistry({ clock });
    const first = await req(reg, 'GET', '/v1/catalog/services');
    let done = false;
    const pending = req(reg, 'GET', `/v1/catalog/services?index=${first.index}`).then(() => {
      done = true;
    });
    await until(() => reg.waiting > 0);
    clock.advance(299_000);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(done, false);
    clock.advance(300_000 / 16 + 1_001);
    await pending;
  });

  it('a wait above 10 minutes is capped', async () => {
    const clock = new ManualClock();
    await using reg = await startTestRegistry({ clock });
    const first = await req(reg, 'GET', '/v1/catalog/services');
    const pending = req(reg, 'GET', `/v1/catalog/services?index=${first.index}&wait=1h`);
    await until(() => reg.waiting > 0);
    clock.advance(600_000 + 600_000 / 16 + 1);
    assert.equal((await pending).index, first.index);
  });
});
