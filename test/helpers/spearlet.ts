// Test launcher for a spearlet child process (`spear-mesh spearlet ...`): starts it, parses its listening line.
//
//   const s = await spawnSpearlet({ id: 's1', args: ['--no-consul'], secretFile });
//   ... connect to s.tcp / s.socketPath, query s.admin ...
//   await s.stop();            // SIGTERM: drains, deregisters, resolves with the exit code (0 expected)
//   await s.kill('SIGKILL');   // or any signal; resolves with the exit code (null when killed by a signal)
//
// Defaults: --listen 127.0.0.1:0, --admin 127.0.0.1:0, issuer/audience TEST_ISSUER/TEST_AUDIENCE, log level warn
// (set SPEAR_LOG_LEVEL to see more; the child's stderr is kept in `stderr()` for failure messages).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { cliArgs } from './cli.ts';
import { reapOnExit } from './reap.ts';

export const TEST_ISSUER = 'spear-test';
export const TEST_AUDIENCE = 'spear-mesh';
/** The line the spearlet prints once listening; other helpers parse it too (src/localmesh/local-mesh.ts). */
export const LISTENING_LINE = /^spearlet (\S+) listening tcp=(\S+):(\d+) admin=(\S+):(\d+)(?: socket=(\S+))?$/;

export interface SpawnSpearletOptions {
  id: string;
  /** HS256 secret file; omit when `args` carry --jwks or the env carries SPEARLET_TOKEN_SECRET. */
  secretFile?: string;
  /** Consul address; omit and pass '--no-consul' in args to run without one. */
  consul?: string;
  /** Any further flags, e.g. ['--zone', 'z1', '--heartbeat-ms', '200']. */
  args?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the listening line (default 30 s; tsx start-up on a loaded machine is slow). */
  timeoutMs?: number;
}

export interface SpearletChild {
  readonly id: string;
  readonly pid: number;
  readonly tcp: { host: string; port: number };
  readonly admin: { host: string; port: number };
  readonly adminUrl: string;
  readonly socketPath: string | undefined;
  readonly child: ChildProcess;
  /** Resolves with the exit code (null when a signal killed it) once the process is gone. */
  readonly exited: Promise<number | null>;
  /**
   * Sends `signal` (default SIGTERM) and resolves with the exit code once the process is gone; for SIGSTOP and
   * SIGCONT (which do not end it) it resolves with null as soon as the signal is sent.
   */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGTERM and wait; SIGKILL if it is still there after `graceMs` (default 15 s). Safe to call twice. */
  stop(graceMs?: number): Promise<number | null>;
  /** What the child wrote on stderr so far (its logs), for assertion messages. */
  stderr(): string;
}

export function spawnSpearlet(o: SpawnSpearletOptions): Promise<SpearletChild> {
  const args = cliArgs([
    'spearlet',
    '--id',
    o.id,
    '--listen',
    '127.0.0.1:0',
    '--admin',
    '127.0.0.1:0',
    '--issuer',
    TEST_ISSUER,
    '--audience',
    TEST_AUDIENCE,
    ...(o.secretFile !== undefined ? ['--token-secret-file', o.secretFile] : []),
    ...(o.consul !== undefined ? ['--consul', o.consul] : []),
    ...(o.args ?? []),
  ]);
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SPEAR_LOG_LEVEL: process.env.SPEAR_LOG_LEVEL ?? 'warn', ...o.env },
  });
  reapOnExit(child);
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    if (stderr.length < 65_536) stderr += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      resolve(code);
    });
  });
  const kill = (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    const alive = child.exitCode === null && child.signalCode === null;
    if (alive) child.kill(signal);
    if (alive && (signal === 'SIGSTOP' || signal === 'SIGCONT')) return Promise.resolve(null);
    return exited;
  };
  const stop = async (graceMs = 15_000): Promise<number | null> => {
    // A frozen (SIGSTOPped) spearlet cannot drain.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGCONT');
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, graceMs);
    try {
      return await kill('SIGTERM');
    } finally {
      clearTimeout(timer);
    }
  };
  const timeoutMs = o.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`spearlet ${o.id} did not start within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    lines.on('line', (line) => {
      const m = LISTENING_LINE.exec(line);
      if (m === null || child.pid === undefined) return;
      clearTimeout(timer);
      const admin = { host: m[4]!, port: Number(m[5]) };
      resolve({
        id: m[1]!,
        pid: child.pid,
        tcp: { host: m[2]!, port: Number(m[3]) },
        admin,
        adminUrl: `http://${admin.host}:${admin.port}`,
        socketPath: m[6],
        child,
        exited,
        kill,
        stop,
        stderr: () => stderr,
      });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`spearlet ${o.id} exited with ${code} before listening: ${stderr}`));
    });
  });
}
