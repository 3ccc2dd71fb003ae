// `status` for a spearlet whose admin API listens on loopback only (the systemd layout): real values when status runs
// on the spearlet's host, and a stated reason instead of bare "?" when it does not.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestRegistry } from '../helpers/dev-registry.ts';
import { startSpearletWithAdmin, waitFor } from '../spearlet/fixture.ts';
import { createConsulClient } from '../../src/registry/consul-client.ts';
import { collectStatus, formatStatusTable } from '../../src/cli/mesh-status.ts';

describe('status with a loopback-only admin API', () => {
  it('reads it on the same host (verified through /health) and says why it cannot on another', async (t) => {
    const registry = await startTestRegistry();
    t.after(() => registry.close());
    // Advertised at a TEST-NET address like a host address, admin API on 127.0.0.1 only.
    const { spearlet: s } = await startSpearletWithAdmin(t, {
      id: 'lo1',
      consul: { addr: registry.url },
      advertiseHost: '192.0.2.10',
    });
    await waitFor(() => s.readiness().ready, 20_000, 'registered');
    const consul = createConsulClient({ addr: registry.url }, {});
    t.after(() => {
      consul.close();
    });
    const adminPort = s.adminAddress?.port;
    assert.ok(adminPort !== undefined);
    // Another spearlet's registration pointing at the same loopback port: from here, that port is not its admin API.
    await consul.registerService({
      ID: 'spearlet-elsewhere',
      Name: 'spearlet',
      Address: '192.0.2.11',
      Port: 7070,
      Meta: { spearlet_id: 'elsewhere', admin_port: String(adminPort), admin_host: '127.0.0.1' },
    });

    const rows = await collectStatus(consul, 'spearlet', { adminTimeoutMs: 5000 });
    const local = rows.find((r) => r.id === 'lo1');
    const remote = rows.find((r) => r.id === 'elsewhere');
    assert.ok(local && remote);
    assert.equal(local.address, '192.0.2.10');
    assert.equal(local.admin, `http://127.0.0.1:${adminPort}`);
    assert.deepEqual([local.ready, local.sessions, local.inFlight, local.note], [true, 0, 0, null]);
    assert.deepEqual([remote.admin, remote.ready, remote.sessions, remote.inFlight], [null, null, null, null]);
    assert.equal(
      remote.note,
      `admin API listens on 127.0.0.1:${adminPort} of 192.0.2.11 only: run status on that host`,
    );
    assert.match(formatStatusTable(rows), /^elsewhere: admin API listens on 127\.0\.0\.1:\d+ of 192\.0\.2\.11 only/m);
  });
});
