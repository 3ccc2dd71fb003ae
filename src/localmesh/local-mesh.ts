// A local mesh on one machine: the dev registry in this process, spearlets as child processes (so drills can kill or
// freeze one) that never outlive this process, and a shared HS256 secret for tokens. Used by `up` and `drill`.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { addressInUse } from '../util/listen-errors.ts';
import { selfCommandArgs } from '../util/self-command.ts';
import { startDevRegistry, type DevRegistry } from '../devregistry/index.ts';
import { mintToken } from '../auth/mint.ts';
import { silentLogger, type Logger } from '../util/logger.ts';
import { EXIT_ON_STDIN_CLOSE_FLAG } from './parent-link.ts';

export const LOCAL_ISSUER = 'spear-local';
export const LOCAL_AUDIENCE = 'spear-mesh';
const LISTENING = /^spearlet (\S+) listening tcp=(\S+):(\d+) admin=(\S+):(\d+)(?: socket=(\S+))?/;

export interface LocalSpearlet {
  readonly id: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly tcp: { host: string; port: number };
  readonly admin: { host: string; port: number };
  readonly socketPath: string | undefined;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface LocalMeshOptions {
  spearlets?: number;
  /** Dev registry port; 0 picks a free one. */
  registryPort?: number;
  /** First spearlet mesh port; spearlet i listens on basePort + 2i and its admin API on basePort + 2i + 1. 0 = ephemeral. */
  basePort?: number;
  heartbeatMs?: number;
  /** Extra flags for every spearlet (e.g. `--enable-drills`). */
  spearletArgs?: readonly string[];
  unixSockets?: boolean;
  logger?: Logger;
}

export class LocalMesh {
  #registry: DevRegistry;
  #registryUp = true;
  readonly #registryPort: number;
  readonly spearlets: LocalSpearlet[] = [];
  readonly #dir: string;
  readonly #secret: Uint8Array;
  readonly #options: LocalMeshOptions;
  readonly #logger: Logger;
  #closed = false;
  /** Bearer token of every local spearlet's admin API (written to adminTokenFile). */
  readonly adminToken: string = randomBytes(24).toString('base64url');

  private constructor(registry: DevRegistry, dir: string, secret: Uint8Array, options: LocalMeshOptions) {
    this.#registry = registry;
    this.#registryPort = registry.port;
    this.#dir = dir;
    this.#secret = secret;
    this.#options = options;
    this.#logger = options.logger ?? silentLogger();
  }

  static async start(options: LocalMeshOptions = {}): Promise<LocalMesh> {
    const dir = await mkdtemp(join(tmpdir(), 'spear-mesh-'));
    const secret = randomBytes(32);
    await writeFile(join(dir, 'token-secret'), secret, { mode: 0o600 });
    let registry: DevRegistry;
    try {
      registry = await startDevRegistry({ host: '127.0.0.1', port: options.registryPort ?? 0 });
    } catch (err) {
      await rm(dir, { recursive: true, force: true }); // holds the token secret
      const flag = { option: '--registry-port', host: '127.0.0.1', port: options.registryPort ?? 0 };
      const hint = 'a Consul agent or another spear-mesh up holds it: add --registry-port 0 for any free port';
      throw addressInUse(err, [flag], hint) ?? err;
    }
    const mesh = new LocalMesh(registry, dir, secret, options);
    try {
      await writeFile(mesh.adminTokenFile, `${mesh.adminToken}\n`, { mode: 0o600 });
      const count = options.spearlets ?? 3;
      await Promise.all(Array.from({ length: count }, (_, i) => mesh.addSpearlet(`spearlet-${i + 1}`, i)));
    } catch (err) {
      await mesh.close();
      throw err;
    }
    return mesh;
  }

  get registry(): DevRegistry {
    return this.#registry;
  }

  get consulAddr(): string {
    return `http://127.0.0.1:${this.#registryPort}`;
  }

  /** Stops the dev registry (all its state is lost, as with a restarted `consul agent -dev`). */
  async stopRegistry(): Promise<void> {
    if (!this.#registryUp) return;
    this.#registryUp = false;
    await this.#registry.close();
  }

  /** Starts a fresh dev registry on the same port; spearlets re-register by themselves. */
  async restartRegistry(): Promise<void> {
    if (this.#registryUp) return;
    this.#registry = await startDevRegistry({ host: '127.0.0.1', port: this.#registryPort });
    this.#registryUp = true;
  }

  get secretFile(): string {
    return join(this.#dir, 'token-secret');
  }

  /** The admin API token file the local spearlets are started with (--admin-token-file). */
  get adminTokenFile(): string {
    return join(this.#dir, 'admin-token');
  }

  /** An HS256 token every local spearlet accepts. */
  mintToken(sub: string, expiresInSec = 3600): Promise<string> {
    return mintToken({ secret: this.#secret, sub, iss: LOCAL_ISSUER, aud: LOCAL_AUDIENCE, expiresInSec });
  }

  /** Starts one more spearlet process and resolves once it is listening. */
  async addSpearlet(id: string, index = this.spearlets.length): Promise<LocalSpearlet> {
    const base = this.#options.basePort ?? 0;
    const port = base === 0 ? 0 : base + 2 * index;
    const adminPort = base === 0 ? 0 : base + 2 * index + 1;
    const zone = index % 2 === 0 ? 'zone-a' : 'zone-b';
    const args = selfCommandArgs([
      'spearlet',
      '--id',
      id,
      '--zone',
      zone,
      '--listen',
      `127.0.0.1:${port}`,
      '--admin',
      `127.0.0.1:${adminPort}`,
      '--consul',
      this.consulAddr,
      '--token-secret-file',
      this.secretFile,
      '--admin-token-file',
      this.adminTokenFile,
      '--issuer',
      LOCAL_ISSUER,
      '--audience',
      LOCAL_AUDIENCE,
      ...(this.#options.heartbeatMs !== undefined
        ? [
            '--heartbeat-ms',
            String(this.#options.heartbeatMs),
            '--heartbeat-timeout-ms',
            String(3 * this.#options.heartbeatMs),
          ]
        : []),
      ...(this.#options.unixSockets === true ? ['--socket', join(this.#dir, `${id}.sock`)] : []),
      // The child drains and exits when its stdin pipe closes, i.e. when this process is gone, even after SIGKILL.
      EXIT_ON_STDIN_CLOSE_FLAG,
      ...(this.#options.spearletArgs ?? []),
    ]);
    const child = spawn(process.execPath, args, {
      // stdin: a pipe this process never writes to; only the kernel closes it, when this process exits.
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, SPEAR_LOG_LEVEL: process.env.SPEAR_LOG_LEVEL ?? 'warn' },
      // Its own process group: a terminal's Ctrl-C reaches only this process, which then drains each spearlet once
      // (a second signal would make a spearlet skip its drain).
      detached: true,
    });
    const reap = (): void => {
      // This process is exiting without close(): leave no spearlet behind.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    process.once('exit', reap);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => {
        process.off('exit', reap);
        resolve({ code, signal });
      });
    });
    const stderr = createInterface({ input: child.stderr });
    stderr.on('line', (line) => {
      this.#logger.debug({ spearletId: id }, line);
    });
    const spearlet = await new Promise<LocalSpearlet>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout });
      const onExit = (code: number | null): void => {
        reject(new Error(`spearlet ${id} exited with ${code} before listening`));
      };
      child.once('exit', onExit);
      lines.on('line', (line) => {
        const m = LISTENING.exec(line);
        if (m === null || child.pid === undefined) return;
        child.off('exit', onExit);
        resolve({
          id,
          child,
          pid: child.pid,
          tcp: { host: m[2] ?? '', port: Number(m[3]) },
          admin: { host: m[4] ?? '', port: Number(m[5]) },
          socketPath: m[6],
          exited,
        });
      });
    });
    this.spearlets.push(spearlet);
    return spearlet;
  }

  find(id: string): LocalSpearlet | undefined {
    return this.spearlets.find((s) => s.id === id);
  }

  /** Drains every spearlet (SIGTERM), waits for them, closes the registry. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(
      this.spearlets.map(async (s) => {
        if (s.child.exitCode === null && s.child.signalCode === null) {
          s.child.kill('SIGCONT');
          s.child.kill('SIGTERM');
          const force = setTimeout(() => s.child.kill('SIGKILL'), 15_000);
          await s.exited;
          clearTimeout(force);
        }
      }),
    );
    await this.stopRegistry();
    await rm(this.#dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
