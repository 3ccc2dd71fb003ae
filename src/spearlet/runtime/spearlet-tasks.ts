// One call to give a started spearlet a process runtime: task tokens, legacy and mesh attach, Consul entries, close order.
import { createConsulClient, type ConsulClient } from '../../registry/consul-client.ts';
import type { ConsulOptionsInput } from '../../registry/consul-options.ts';
import type { Logger } from '../../util/logger.ts';
import { attachTaskRuntime, type AttachedTaskRuntime, type TaskHost } from './attach-runtime.ts';
import { taskTokenMinter, type TaskTokenMinterOptions } from './task-token.ts';
import { TaskRuntime } from './task-runtime.ts';
import type { TaskPolicy } from './task-policy.ts';

export interface SpearletTasksOptions {
  /** How tasks' SPEAR_TOKENs are signed (the key the spearlet verifies); without it mesh agents cannot attach. */
  readonly tokens?: Omit<TaskTokenMinterOptions, 'spearletId'>;
  /** Register connected tasks as `spear-task` in Consul (a client is created here and closed by close()). */
  readonly consul?: ConsulOptionsInput;
  readonly taskTtlMs?: number;
  readonly stopGraceMs?: number;
  /** What tasks may run and see (docs/security.md). */
  readonly policy?: TaskPolicy;
  readonly restartBackoff?: { initialMs?: number; maxMs?: number };
  readonly logger?: Logger;
}

export interface SpearletTasks {
  readonly runtime: TaskRuntime;
  readonly attached: AttachedTaskRuntime;
  /** Stops every task (Terminate, then signals), deregisters them, releases the Consul client. Idempotent. */
  close(): Promise<void>;
}

/** host:port for SERVICE_ADDR: tasks run on this host, so a wildcard listener is reached on loopback. */
export function serviceAddrFor(host: string, port: number): string {
  if (host === '0.0.0.0' || host === '') return `127.0.0.1:${port}`;
  if (host === '::') return `[::1]:${port}`;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Call before or after start(); tasks need the started spearlet's TCP address. Close the result before the spearlet. */
export function enableSpearletTasks(spearlet: TaskHost, options: SpearletTasksOptions = {}): SpearletTasks {
  const runtime = new TaskRuntime({
    spearletId: spearlet.id,
    // Read at each task start: the runtime may be set up before the spearlet listens.
    serviceAddr: () => {
      const tcp = spearlet.tcpAddress;
      if (tcp === undefined) throw new TypeError('the spearlet has no TCP listener (start it before starting tasks)');
      return serviceAddrFor(tcp.host, tcp.port);
    },
    ...(options.tokens !== undefined
      ? { mintTaskToken: taskTokenMinter({ ...options.tokens, spearletId: spearlet.id }) }
      : {}),
    ...(options.stopGraceMs !== undefined ? { stopGraceMs: options.stopGraceMs } : {}),
    ...(options.policy !== undefined ? { policy: options.policy } : {}),
    ...(options.restartBackoff !== undefined ? { restartBackoff: options.restartBackoff } : {}),
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
  });
  const consul: ConsulClient | undefined =
    options.consul !== undefined ? createConsulClient(options.consul) : undefined;
  const attached = attachTaskRuntime(spearlet, runtime, {
    ...(consul !== undefined ? { consul } : {}),
    ...(options.taskTtlMs !== undefined ? { taskTtlMs: options.taskTtlMs } : {}),
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
  });
  let closing: Promise<void> | undefined;
  return {
    runtime,
    attached,
    close() {
      closing ??= (async () => {
        await runtime.close();
        await attached.close();
        consul?.close();
      })();
      return closing;
    },
  };
}
