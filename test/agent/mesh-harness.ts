// Integration harness: a dev registry in this process, real `spear-mesh spearlet` child processes, steady load.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeshClient } from '../../src/agent/mesh-client.ts';
import type { MeshClientOptions } from '../../src/agent/options.ts';
import { mintToken } from '../../src/auth/mint.ts';
import { startTestRegistry, type DevRegistry } from '../helpers/dev-registry.ts';
import { spawnSpearlet, TEST_AUDIENCE, TEST_ISSUER, type SpearletChild } from '../helpers/spearlet.ts';

export const HEARTBEAT_MS = 200;
export const HEARTBEAT_TIMEOUT_MS = 600;

export class MeshHarness {
  readonly #secret = randomBytes(24).toString('hex');
  readonly #dir = mkdtempSync(join(tmpdir(), 'spear-failover-'));
  readonly #secretFile = join(this.#dir, 'secret');
  registry!: DevRegistry;
  readonly spearlets = new Map<string, SpearletChild>();
  readonly clients: MeshClient[] = [];

  async start(): Promise<void> {
    writeFileSync(this.#secretFile, this.#secret, { mode: 0o600 });
    this.registry = await startTestRegistry();
  }

  /** A path for a Unix socket in this harness's temp dir. */
  socketPath(name: string): string {
    return join(this.#dir, name);
  }

  async spawn(id: string, extraArgs: readonly string[] = []): Promise<SpearletChild> {
    const s = await spawnSpearlet({
      id,
      secretFile: this.#secretFile,
      consul: this.registry.url,
      args: [
        '--heartbeat-ms',
        String(HEARTBEAT_MS),
        '--heartbeat-timeout-ms',
        String(HEARTBEAT_TIMEOUT_MS),
        ...extraArgs,
      ],
      timeoutMs: 60_000,
    });
    this.spearlets.set(id, s);
    return s;
  }

  /** Mints a token the spearlets accept. */
  mint(expiresInSec = 600): Promise<string> {
    const secret = Buffer.from(this.#secret, 'utf8');
    return mintToken({ secret, sub: 'tester', iss: TEST_ISSUER, aud: TEST_AUDIENCE, expiresInSec });
  }

  async client(options: Partial<MeshClientOptions> = {}): Promise<MeshClient> {
    const mesh = await MeshClient.connect({
      consul: { addr: this.registry.url },
      tokenProvider: () => this.mint(),
      reconnectBackoff: { initialMs: 50, maxMs: 500 },
      closeGraceMs: 0,
      ...options,
    });
    this.clients.push(mesh);
    return mesh;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
    await Promise.all(
      [...this.spearlets.values()].map(async (s) => {
        // kill() resolves on exit, so a SIGCONT (which does not end the process) is sent directly.
        if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGCONT');
        await s.kill('SIGKILL');
      }),
    );
    await this.registry.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

export { waitFor } from '../helpers/wait-for.ts';

/** Successful attempts per spearlet id so far, from the client's own per-endpoint counters. */
export function served(mesh: MeshClient, id: string): number {
  return mesh.stats().endpoints.find((e) => e.id === id)?.succeeded ?? 0;
}

export interface LoadReport {
  sent: number;
  ok: number;
  failures: Error[];
  /** Of the failures, how many were requests flagged idempotent. */
  idempotentFailures: number;
}

/** Keeps `concurrency` `sleep` requests in flight until stop(); counts results. */
export function steadyLoad(
  mesh: MeshClient,
  opts: {
    concurrency?: number;
    sleepMs?: number;
    idempotent?: boolean | ((i: number) => boolean);
    deadlineMs?: number;
  } = {},
): { report: LoadReport; stop: () => Promise<LoadReport> } {
  const report: LoadReport = { sent: 0, ok: 0, failures: [], idempotentFailures: 0 };
  let running = true;
  const body = String(opts.sleepMs ?? 20);
  const loops = Array.from({ length: opts.concurrency ?? 6 }, async () => {
    while (running) {
      const i = report.sent++;
      const idempotent = typeof opts.idempotent === 'function' ? opts.idempotent(i) : (opts.idempotent ?? true);
      try {
        await mesh.request('sleep', body, { idempotent, deadlineMs: opts.deadlineMs ?? 10_000 });
        report.ok++;
      } catch (err) {
        report.failures.push(err as Error);
        if (idempotent) report.idempotentFailures++;
      }
    }
  });
  return {
    report,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return report;
    },
  };
}
