// Integration harness: a dev registry in this process, spearlets as child processes, steady load through MeshClient.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { MeshClient } from '../../src/agent/mesh-client.ts';
import type { MeshClientOptions } from '../../src/agent/options.ts';
import { mintToken } from '../../src/auth/mint.ts';
import { startTestRegistry, type DevRegistry } from '../helpers/dev-registry.ts';

const CHILD = fileURLToPath(new URL('./fixtures/spearlet-child.ts', import.meta.url));
export const HEARTBEAT_MS = 200;
export const HEARTBEAT_TIMEOUT_MS = 600;

export interface SpearletChild {
  readonly id: string;
  readonly port: number;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  signal(sig: NodeJS.Signals): void;
}

export class MeshHarness {
  readonly secret = randomBytes(24).toString('hex');
  registry!: DevRegistry;
  readonly spearlets = new Map<string, SpearletChild>();
  readonly clients: MeshClient[] = [];

  async start(): Promise<void> {
    this.registry = await startTestRegistry();
  }

  async spawn(id: string): Promise<SpearletChild> {
    const config = { id, registry: this.registry.url, secret: this.secret, heartbeatMs: HEARTBEAT_MS, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS };
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      if (stderr.length < 16_384) stderr += c.toString();
    });
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        resolve();
      });
    });
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`spearlet ${id} did not start: ${stderr}`));
      }, 60_000);
      createInterface({ input: child.stdout }).on('line', (line) => {
        const m = /^spearlet \S+ listening tcp=127\.0\.0\.1:(\d+)/.exec(line);
        if (m?.[1] === undefined) return;
        clearTimeout(timer);
        resolve(Number(m[1]));
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`spearlet ${id} exited before listening: ${stderr}`));
      });
    });
    const s: SpearletChild = {
      id,
      port,
      child,
      exited,
      signal: (sig) => {
        if (child.exitCode === null && child.signalCode === null) child.kill(sig);
      },
    };
    this.spearlets.set(id, s);
    return s;
  }

  async client(options: Partial<MeshClientOptions> = {}): Promise<MeshClient> {
    const mesh = await MeshClient.connect({
      consul: { addr: this.registry.url },
      tokenProvider: () => mintToken({ secret: Buffer.from(this.secret, 'utf8'), sub: 'tester', iss: 'test', aud: 'spear-mesh', expiresInSec: 600 }),
      reconnectBackoff: { initialMs: 50, maxMs: 500 },
      closeGraceMs: 0,
      ...options,
    });
    this.clients.push(mesh);
    return mesh;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
    for (const s of this.spearlets.values()) {
      s.signal('SIGCONT');
      s.signal('SIGKILL');
    }
    await Promise.all([...this.spearlets.values()].map((s) => s.exited));
    await this.registry.close();
  }
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface LoadReport {
  sent: number;
  ok: number;
  failures: Error[];
  servedBy: Map<string, number>;
}

/** Keeps `concurrency` requests in flight until stop() is called; counts results and who served them. */
export function steadyLoad(
  mesh: MeshClient,
  opts: { concurrency?: number; sleepMs?: number; idempotent?: boolean | ((i: number) => boolean); deadlineMs?: number } = {},
): { report: LoadReport; stop: () => Promise<LoadReport> } {
  const report: LoadReport = { sent: 0, ok: 0, failures: [], servedBy: new Map() };
  let running = true;
  const loops = Array.from({ length: opts.concurrency ?? 6 }, async () => {
    while (running) {
      const i = report.sent++;
      const idempotent = typeof opts.idempotent === 'function' ? opts.idempotent(i) : (opts.idempotent ?? true);
      try {
        const who = (await mesh.request('whoami', String(opts.sleepMs ?? 20), { idempotent, deadlineMs: opts.deadlineMs ?? 10_000 })).toString();
        report.ok++;
        report.servedBy.set(who, (report.servedBy.get(who) ?? 0) + 1);
      } catch (err) {
        report.failures.push(err as Error);
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
