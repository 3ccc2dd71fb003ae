// Task test harness: in-process spearlets with a TaskRuntime attached, log capture, waits on task states.
import type { TestContext } from 'node:test';
import { Writable } from 'node:stream';
import { mintToken } from '../../src/auth/mint.ts';
import { createConsulClient, type ConsulClient } from '../../src/registry/consul-client.ts';
import { Spearlet } from '../../src/spearlet/spearlet.ts';
import type { SpearletOptions } from '../../src/spearlet/options.ts';
import { attachTaskRuntime, type AttachedTaskRuntime } from '../../src/spearlet/runtime/attach-runtime.ts';
import { taskTokenMinter } from '../../src/spearlet/runtime/task-token.ts';
import { TaskRuntime, type TaskInfo, type TaskState } from '../../src/spearlet/runtime/task-runtime.ts';
import { createLogger, type Logger } from '../../src/util/logger.ts';
import { nodeEntryArgs, repoPath } from '../../scripts/repo-root.ts';

export const SECRET = new TextEncoder().encode('task-test-secret-0123456789abcdef0123');
export const ISSUER = 'spear-test';
export const AUDIENCE = 'spear-mesh';
export const PYTHON = '/usr/bin/python3';
export const LEGACY_AGENT = repoPath('test/fixtures/legacy-agent/agent.py');
export const MESH_AGENT = repoPath('test/fixtures/mesh-task-agent.ts');
/** How to start the TypeScript mesh agent as a task. */
export const MESH_AGENT_SPEC = {
  command: process.execPath,
  args: nodeEntryArgs('test/fixtures/mesh-task-agent.ts'),
} as const;

export function clientToken(sub = 'tester'): Promise<string> {
  return mintToken({ secret: SECRET, sub, iss: ISSUER, aud: AUDIENCE, expiresInSec: 600 });
}

export type LogRecord = Record<string, unknown>;

/** A logger whose lines land in an array, with a promise per awaited line (tests wait on output, not time). */
export function capturingLogger(): {
  logger: Logger;
  lines: LogRecord[];
  nextLine: (p: (r: LogRecord) => boolean, timeoutMs?: number) => Promise<LogRecord>;
} {
  const lines: LogRecord[] = [];
  const waiters = new Set<{ pred: (r: LogRecord) => boolean; resolve: (r: LogRecord) => void }>();
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) {
        const rec = JSON.parse(l) as LogRecord;
        lines.push(rec);
        for (const w of waiters) {
          if (w.pred(rec)) {
            waiters.delete(w);
            w.resolve(rec);
          }
        }
      }
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', destination: sink });
  const nextLine = (pred: (r: LogRecord) => boolean, timeoutMs = 30_000): Promise<LogRecord> => {
    const found = lines.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`no such log line within ${timeoutMs} ms; last lines: ${JSON.stringify(lines.slice(-5))}`));
      }, timeoutMs);
      const waiter = {
        pred,
        resolve: (r: LogRecord) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      waiters.add(waiter);
    });
  };
  return { logger, lines, nextLine };
}

/** A log line a task printed on stdout containing `text`. */
export function printed(taskId: string, text: string): (r: LogRecord) => boolean {
  return (r) => r.taskId === taskId && r.stream === 'stdout' && typeof r.msg === 'string' && r.msg.includes(text);
}

/** Resolves with the task's info once `pred` holds (checked now and on every state change). */
export function waitForTask(
  runtime: TaskRuntime,
  taskId: string,
  pred: (info: TaskInfo) => boolean,
  timeoutMs = 30_000,
): Promise<TaskInfo> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const info = runtime.get(taskId);
      if (info !== undefined && pred(info)) {
        cleanup();
        resolve(info);
        return true;
      }
      return false;
    };
    const onState = (): void => {
      check();
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`task ${taskId} did not reach the expected state; now ${JSON.stringify(runtime.get(taskId))}`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      runtime.off('state', onState);
    };
    runtime.on('state', onState);
    check();
  });
}

export const inState =
  (...states: TaskState[]) =>
  (info: TaskInfo): boolean =>
    states.includes(info.state);

export { waitFor } from '../helpers/wait-for.ts';

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface TaskSpearlet {
  readonly spearlet: Spearlet;
  readonly runtime: TaskRuntime;
  readonly attached: AttachedTaskRuntime;
  readonly consul: ConsulClient | undefined;
  readonly port: number;
}

/** A spearlet with a TaskRuntime attached; everything is closed after the test (tasks first). */
export async function startTaskSpearlet(
  t: TestContext,
  options: {
    id?: string;
    registry?: string;
    logger?: Logger;
    spearlet?: Partial<SpearletOptions>;
    restartBackoff?: { initialMs?: number; maxMs?: number };
  } = {},
): Promise<TaskSpearlet> {
  const id = options.id ?? 's1';
  const spearlet = new Spearlet({
    id,
    listen: { host: '127.0.0.1', port: 0 },
    auth: { secret: SECRET, issuer: ISSUER, audience: AUDIENCE },
    consul: options.registry !== undefined ? { addr: options.registry } : null,
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
    ...options.spearlet,
  });
  await spearlet.start();
  const tcp = spearlet.tcpAddress;
  if (tcp === undefined) throw new Error('no TCP listener');
  const runtime = new TaskRuntime({
    spearletId: id,
    serviceAddr: () => `${tcp.host}:${tcp.port}`,
    mintTaskToken: taskTokenMinter({ spearletId: id, secret: SECRET, issuer: ISSUER, audience: AUDIENCE }),
    stopGraceMs: 10_000,
    ...(options.restartBackoff !== undefined ? { restartBackoff: options.restartBackoff } : {}),
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
  });
  const consul = options.registry !== undefined ? createConsulClient({ addr: options.registry }, {}) : undefined;
  const attached = attachTaskRuntime(spearlet, runtime, {
    ...(consul !== undefined ? { consul, taskTtlMs: 5000 } : {}),
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
  });
  t.after(async () => {
    await runtime.close();
    await attached.close();
    await spearlet.close();
    consul?.close();
  });
  return { spearlet, runtime, attached, consul, port: tcp.port };
}
