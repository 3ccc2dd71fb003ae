import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestRegistry } from '../helpers/dev-registry.ts';
import { RawClient } from './raw-client.ts';
import { startSpearletWithAdmin, tcp, token, waitFor } from './fixture.ts';

interface HealthEntry {
  Service: { ID: string; Address: string; Port: number; Tags: string[]; Meta: Record<string, string> };
  Checks: { CheckID: string; Status: string }[];
}

async function health(url: string): Promise<HealthEntry[]> {
  return (await (await fetch(`${url}/v1/health/service/spearlet`)).json()) as HealthEntry[];
}

describe('spearlet registration', () => {
  it('is ready once registered; a drain puts it in maintenance, finishes work, then deregisters', async (t) => {
    const registry = await startTestRegistry();
    t.after(() => registry.close());
    const { spearlet: s } = await startSpearletWithAdmin(t, {
      id: 'r1',
      zone: 'z1',
      consul: { addr: registry.url },
      registrationTtlMs: 3000,
      goAwayGraceMs: 50,
    });
    await waitFor(() => s.readiness().ready, 20_000, 'registered');
    const entries = await health(registry.url);
    assert.equal(entries.length, 1);
    const e = entries[0]!;
    assert.equal(e.Service.ID, 'spearlet-r1');
    assert.equal(e.Service.Port, tcp(s).port);
    assert.equal(e.Service.Meta.admin_port, String(s.adminAddress!.port));
    assert.equal(e.Service.Meta.max_conns, '10000');
    assert.equal(e.Service.Meta.version, '0.1.0');
    assert.deepEqual(e.Service.Tags, ['spear-mesh', 'proto-1', 'zone-z1']);
    assert.ok(e.Checks.some((c) => c.CheckID === 'spearlet:r1:ttl' && c.Status === 'passing'));

    const { client } = await RawClient.open(tcp(s), await token());
    t.after(() => {
      client.destroy();
    });
    client.request(1n, 'sleep', '500');
    await waitFor(() => s.sessions()[0]?.inFlight === 1, 10_000, 'the sleep in flight');
    const drained = s.drain({ timeoutMs: 10_000 });
    // While the sleep runs the service is still registered but no longer passing (maintenance).
    let sawMaintenance = false;
    while (s.state === 'draining') {
      const now = await health(registry.url);
      if (now.length === 1 && now[0]!.Checks.some((c) => c.Status === 'critical')) {
        sawMaintenance = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(s.readiness().ready, false);
    const report = await drained;
    assert.equal(sawMaintenance, true);
    assert.equal(report.completed, true);
    assert.deepEqual(await health(registry.url), []);
  });
});
