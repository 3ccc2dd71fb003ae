// Two spearlet processes with one id and the dev registry: the second refuses to overwrite a live registration, and a
// later one takes over a registration whose owner died (its TTL check critical).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, startTestRegistry } from '../helpers/dev-registry.ts';
import { spawnSpearlet } from '../helpers/spearlet.ts';
import { createConsulClient } from '../../src/registry/consul-client.ts';
import type { HealthServiceEntry } from '../../src/registry/consul-types.ts';

async function until<T>(read: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('duplicate spearlet ids in Consul', () => {
  it('refuses to overwrite a live registration and takes over one whose check went critical', async (t) => {
    // A manual clock lets the test expire the dead owner's TTL check exactly as Consul would, without waiting 10 s.
    const clock = new ManualClock(Date.now());
    const registry = await startTestRegistry({ clock });
    t.after(() => registry.close());
    const consulAddr = `http://127.0.0.1:${registry.port}`;
    const consul = createConsulClient({ addr: consulAddr });
    t.after(() => {
      consul.close();
    });
    const dir = await mkdtemp(join(tmpdir(), 'dup-id-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const secretFile = join(dir, 'secret');
    await writeFile(secretFile, randomBytes(32), { mode: 0o600 });
    const entry = async (): Promise<HealthServiceEntry | undefined> =>
      (await consul.healthService('spearlet', {})).entries.find((e) => e.Service.ID === 'spearlet-dup');
    const passingOn = (port: number) => async (): Promise<HealthServiceEntry | undefined> => {
      const e = await entry();
      return e?.Service.Port === port && e.Checks.every((c) => c.Status === 'passing') ? e : undefined;
    };

    const first = await spawnSpearlet({ id: 'dup', consul: consulAddr, secretFile });
    t.after(() => first.stop());
    const owned = await until(passingOn(first.tcp.port), 'the first spearlet to pass its check');
    const firstInstance = owned.Service.Meta.instance;
    assert.match(firstInstance ?? '', /^[0-9a-f]{16}$/, 'the registration carries its instance nonce');

    const second = await spawnSpearlet({ id: 'dup', consul: consulAddr, secretFile });
    t.after(() => second.stop());
    assert.equal(await second.exited, 1, 'the second spearlet exits 1');
    assert.match(second.stderr(), /spearlet id in use: spearlet-dup .* whose check is passing \(SPEARLET_ID_IN_USE\)/);
    const after = await entry();
    assert.equal(after?.Service.Port, first.tcp.port, 'the first registration is untouched');
    assert.equal(after.Service.Meta.instance, firstInstance);
    assert.ok(
      after.Checks.every((c) => c.Status === 'passing'),
      'and still passing (not deregistered)',
    );

    // The owner dies without deregistering; one TTL (10 s) later Consul marks its check critical.
    await first.kill('SIGKILL');
    clock.advance(11_000);
    await until(
      async () => ((await entry())?.Checks.some((c) => c.Status === 'critical') === true ? true : undefined),
      'the dead owner check to go critical',
    );

    const third = await spawnSpearlet({ id: 'dup', consul: consulAddr, secretFile });
    t.after(() => third.stop());
    const taken = await until(passingOn(third.tcp.port), 'the third spearlet to take the id over');
    assert.notEqual(taken.Service.Meta.instance, firstInstance);
    assert.equal(await third.stop(), 0, 'the new owner drains and exits 0');
    assert.equal(await entry(), undefined, 'and deregisters what it owned');
  });
});
