// A mesh for the dashboard's browser test and screenshot script: the dev registry in this process, three real
// spearlet processes in two zones, a few KV keys, an agent with client metrics sending steady traffic, a task, and
// the dashboard itself on an ephemeral loopback port.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { MeshClient } from '../../src/agent/mesh-client.ts';
import { mintToken } from '../../src/auth/mint.ts';
import { startDashboard, type Dashboard } from '../../src/dashboard/dashboard.ts';
import { SteadyLoad } from '../../src/drill/steady-load.ts';
import { createConsulClient } from '../../src/registry/consul-client.ts';
import { startTestRegistry, type DevRegistry } from '../helpers/dev-registry.ts';
import { spawnSpearlet, TEST_AUDIENCE, TEST_ISSUER, type SpearletChild } from '../helpers/spearlet.ts';
import { nodeEntryArgs } from '../../scripts/repo-root.ts';

export interface DashboardFixture {
  readonly registry: DevRegistry;
  readonly spearlets: ReadonlyMap<string, SpearletChild>;
  readonly dashboard: Dashboard;
  readonly drillDir: string;
  readonly secret: string;
  mint(sub: string): Promise<string>;
  close(): Promise<void>;
}

export async function startDashboardFixture(o: { ratePerSec?: number } = {}): Promise<DashboardFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'spear-dashboard-'));
  const secret = randomBytes(24).toString('hex');
  const secretFile = join(dir, 'secret');
  writeFileSync(secretFile, secret, { mode: 0o600 });
  const drillDir = join(dir, 'drills');
  mkdirSync(drillDir);
  const cleanups: (() => Promise<void> | void)[] = [
    () => {
      rmSync(dir, { recursive: true, force: true });
    },
  ];
  const close = async (): Promise<void> => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  };
  try {
    const registry = await startTestRegistry();
    cleanups.push(() => registry.close());
    const spearlets = new Map<string, SpearletChild>();
    const zones: Record<string, string> = { s1: 'zone-a', s2: 'zone-b', s3: 'zone-a' };
    await Promise.all(
      Object.entries(zones).map(async ([id, zone]) => {
        const s = await spawnSpearlet({
          id,
          secretFile,
          consul: registry.url,
          args: ['--zone', zone, '--enable-drills', '--enable-tasks'],
          timeoutMs: 60_000,
        });
        spearlets.set(id, s);
      }),
    );
    cleanups.push(async () => {
      await Promise.all(
        [...spearlets.values()].map(async (s) => {
          if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGCONT');
          await s.kill('SIGKILL');
        }),
      );
    });
    const consul = createConsulClient({ addr: registry.url });
    await consul.kvPut('spear/config/policy', 'least-outstanding');
    await consul.kvPut('spear/config/zones', JSON.stringify(['zone-a', 'zone-b']));
    await consul.kvPut('spear/jwks', JSON.stringify({ keys: [] }));
    consul.close();

    const mint = (sub: string): Promise<string> =>
      mintToken({ secret: Buffer.from(secret, 'utf8'), sub, iss: TEST_ISSUER, aud: TEST_AUDIENCE, expiresInSec: 3600 });
    const metrics = new Registry();
    const client = await MeshClient.connect({
      consul: { addr: registry.url },
      tokenProvider: () => mint('dashboard-agent'),
      policy: 'round-robin',
      metricsRegistry: metrics,
      closeGraceMs: 0,
    });
    cleanups.push(() => client.close());
    const load = new SteadyLoad({
      ratePerSec: o.ratePerSec ?? 30,
      maxInFlight: 64,
      send: async () => {
        await client.request('echo', 'dashboard', { idempotent: true, deadlineMs: 2000 });
      },
      onOutcome: () => undefined,
    });
    load.start();
    cleanups.push(() => load.stop());

    // One task on s1 that connects back over the mesh protocol.
    const s1 = spearlets.get('s1');
    if (s1 !== undefined) {
      const res = await fetch(`${s1.adminUrl}/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          id: 'summarizer',
          command: process.execPath,
          args: nodeEntryArgs('test/fixtures/mesh-task-agent.ts'),
        }),
      });
      if (res.status !== 201) throw new Error(`task start: HTTP ${res.status} ${await res.text()}`);
    }

    const dashboard = await startDashboard({
      consul: { addr: registry.url },
      listen: { host: '127.0.0.1', port: 0 },
      drillDir,
      agents: [{ name: 'dashboard-agent', registry: metrics }],
    });
    cleanups.push(() => dashboard.close());
    return { registry, spearlets, dashboard, drillDir, secret, mint, close };
  } catch (err) {
    await close();
    throw err;
  }
}
