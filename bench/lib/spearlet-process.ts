// Starts a benchmark spearlet (bench/spearlet-child.ts) in a child process, optionally with a raised fd limit, and
// reads the child's CPU time and RSS from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { compiledEntry } from './compiled.ts';

export interface BenchSpearletConfig {
  readonly id: string;
  readonly issuer: string;
  readonly audience: string;
  /** HS256 secret (utf8); or `jwks` for asymmetric tokens. */
  readonly secret?: string;
  readonly jwks?: unknown;
  readonly socketPath?: string;
  readonly heartbeatMs?: number;
  readonly heartbeatTimeoutMs?: number;
  readonly maxConnections?: number;
  readonly maxConnectionsPerAgent?: number;
}

export interface BenchSpearletProcess {
  readonly pid: number;
  readonly port: number;
  readonly socketPath: string | undefined;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  signal(sig: NodeJS.Signals): void;
  /** SIGCONT (in case it is stopped), SIGTERM (the child exits at once), SIGKILL after 2 s; waits for the exit. Idempotent. */
  close(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('../spearlet-child.ts', import.meta.url));

/** How a bench child runs the sources: compiled by tsc (as installed; the default) or under the tsx loader. */
export type BenchRuntime = 'compiled' | 'tsx';

/** BENCH_RUNTIME=tsx runs children under the tsx loader instead of compiled JavaScript. */
export function benchRuntime(): BenchRuntime {
  return process.env.BENCH_RUNTIME === 'tsx' ? 'tsx' : 'compiled';
}

/**
 * `entry`: another child script speaking the same `ready` line (default bench/spearlet-child.ts).
 * `fdLimit`: run through `bash -c 'ulimit -n N; exec node ...'` (exec keeps one process, so the pid is the
 * spearlet's). Fails if the hard limit is lower.
 */
export async function spawnBenchSpearlet(
  cfg: BenchSpearletConfig,
  options: { fdLimit?: number; runtime?: BenchRuntime; entry?: string } = {},
): Promise<BenchSpearletProcess> {
  const entry = options.entry ?? CHILD;
  const env = {
    ...process.env,
    BENCH_SPEARLET: JSON.stringify(cfg),
    SPEAR_LOG_LEVEL: process.env.SPEAR_LOG_LEVEL ?? 'error',
  };
  // BENCH_SPEARLET_NODE_ARGS: extra node flags for the child, e.g. '--cpu-prof --cpu-prof-dir=.tmp/prof'.
  const extra = (process.env.BENCH_SPEARLET_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const runtime = options.runtime ?? benchRuntime();
  const nodeArgs =
    runtime === 'compiled' ? [...extra, await compiledEntry(entry)] : [...extra, '--import', 'tsx', entry];
  const child =
    options.fdLimit === undefined
      ? spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'pipe', 'inherit'], env })
      : spawn('bash', ['-c', `ulimit -n ${options.fdLimit} && exec "$0" "$@"`, process.execPath, ...nodeArgs], {
          stdio: ['ignore', 'pipe', 'inherit'],
          env,
        });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  const ready = await new Promise<{ pid: number; port: number; socketPath: string | null }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('bench: spearlet child did not start within 60 s'));
    }, 60_000);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (!line.startsWith('ready ')) return;
      clearTimeout(timer);
      resolve(JSON.parse(line.slice(6)) as { pid: number; port: number; socketPath: string | null });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bench: spearlet child exited with ${String(code)} before it was ready`));
    });
  });
  let closing: Promise<void> | undefined;
  return {
    pid: ready.pid,
    port: ready.port,
    socketPath: ready.socketPath ?? undefined,
    child,
    exited,
    signal: (sig) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
    close: () => {
      closing ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGCONT');
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
          await exited;
          clearTimeout(timer);
        }
        await exited;
      })();
      return closing;
    },
  };
}

export interface ProcSample {
  /** user + system CPU seconds since the process started. */
  readonly cpuSec: number;
  /** The user-space part of cpuSec (utime); the rest is system time (stime). */
  readonly userSec: number;
  readonly rssBytes: number;
  /** Wall-clock time of the sample (performance.now(), ms). */
  readonly atMs: number;
}

/** Reads utime+stime from /proc/<pid>/stat and VmRSS from /proc/<pid>/status (Linux only). */
export async function sampleProc(pid: number): Promise<ProcSample> {
  const [stat, status] = await Promise.all([
    readFile(`/proc/${pid}/stat`, 'utf8'),
    readFile(`/proc/${pid}/status`, 'utf8'),
  ]);
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (1-based) of the whole line.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const userTicks = Number(rest[11]);
  const ticks = userTicks + Number(rest[12]);
  const rss = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  // USER_HZ is 100 on Linux (sysconf(_SC_CLK_TCK)); Node has no binding for it.
  return {
    cpuSec: ticks / 100,
    userSec: userTicks / 100,
    rssBytes: rss?.[1] !== undefined ? Number(rss[1]) * 1024 : NaN,
    atMs: performance.now(),
  };
}
