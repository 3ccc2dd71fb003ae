// Plugs a TaskRuntime into a spearlet: legacy secret connections, mesh agents attaching, task.* methods, Consul entries.
import type { Socket } from 'node:net';
import { MeshError } from '../../errors.ts';
import type { ConsulClient } from '../../registry/consul-client.ts';
import { silentLogger, type Logger } from '../../util/logger.ts';
import type { Handler } from '../handlers.ts';
import type { MeshSession } from '../session.ts';
import { LegacySession } from './legacy-session.ts';
import { MeshTaskChannel, TASK_ATTACH_METHOD, taskIdFromSubject } from './mesh-task-channel.ts';
import { TaskRegistration } from './task-registration.ts';
import { TaskState, type TaskRuntime } from './task-runtime.ts';

export const TASK_INVOKE_METHOD = 'task.invoke';
export const TASK_LIST_METHOD = 'task.list';

/** What attachTaskRuntime needs of a spearlet; the Spearlet class has it. */
export interface TaskHost {
  readonly id: string;
  readonly tcpAddress: { readonly host: string; readonly port: number } | undefined;
  handle(method: string, handler: Handler<MeshSession>): unknown;
  setLegacyHandler(handler: ((secret: bigint, socket: Socket, firstBytes: Buffer) => boolean) | undefined): void;
}

export interface AttachTaskRuntimeOptions {
  /** Registers connected tasks as `spear-task` services; without it tasks are not discoverable. */
  readonly consul?: ConsulClient;
  /** Address advertised for tasks in Consul; default the spearlet's TCP address (empty for a wildcard host). */
  readonly advertise?: () => { readonly address: string; readonly port: number };
  readonly taskTtlMs?: number;
  readonly maxFrameSize?: number;
  /** How long a legacy agent gets to close after Terminate. */
  readonly terminateTimeoutMs?: number;
  readonly logger?: Logger;
}

export interface AttachedTaskRuntime {
  readonly registration: TaskRegistration | undefined;
  /** Legacy connections refused because the secret matched no task (SECRET_REJECTED). */
  readonly rejectedSecrets: number;
  /** Legacy connections refused because the task already had a connection (DUPLICATE_SECRET). */
  readonly duplicateSecrets: number;
  /** Removes the legacy handler and deregisters the tasks from Consul; the runtime and its tasks keep running. */
  close(): Promise<void>;
}

interface InvokeBody {
  taskId: string;
  method: string;
  params: string;
}

function parseInvokeBody(body: Buffer): InvokeBody {
  let o: unknown;
  try {
    o = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new MeshError('INVALID_PAYLOAD', 'task.invoke wants JSON {taskId, method, params}', { cause: err });
  }
  if (typeof o !== 'object' || o === null) throw new MeshError('INVALID_PAYLOAD', 'task.invoke body is not an object');
  const { taskId, method, params } = o as Record<string, unknown>;
  if (typeof taskId !== 'string' || taskId === '')
    throw new MeshError('INVALID_PAYLOAD', 'task.invoke: taskId must be a non-empty string');
  if (typeof method !== 'string' || method === '')
    throw new MeshError('INVALID_PAYLOAD', 'task.invoke: method must be a non-empty string');
  if (params !== undefined && typeof params !== 'string')
    throw new MeshError('INVALID_PAYLOAD', 'task.invoke: params must be a string');
  return { taskId, method, params: params ?? '' };
}

function defaultAdvertise(host: TaskHost): () => { address: string; port: number } {
  return () => {
    const tcp = host.tcpAddress;
    if (tcp === undefined) return { address: '', port: 0 };
    const wildcard = tcp.host === '0.0.0.0' || tcp.host === '::' || tcp.host === '';
    return { address: wildcard ? '' : tcp.host, port: tcp.port };
  };
}

export function attachTaskRuntime(
  host: TaskHost,
  runtime: TaskRuntime,
  options: AttachTaskRuntimeOptions = {},
): AttachedTaskRuntime {
  const log = (options.logger ?? silentLogger()).child({ component: 'task-attach', spearletId: host.id });
  let rejectedSecrets = 0;
  let duplicateSecrets = 0;
  let closed = false;

  host.setLegacyHandler((secret, socket, firstBytes) => {
    if (closed) return false;
    const remote = socket.remoteAddress ?? 'unix';
    const taskId = runtime.findBySecret(secret);
    if (taskId === undefined) {
      rejectedSecrets++;
      // Never the secret itself: it may be a real task's secret presented by the wrong process.
      log.warn({ remote, code: 'SECRET_REJECTED' }, 'legacy connection with an unknown secret: closing');
      return false;
    }
    if (runtime.isAttached(taskId)) {
      duplicateSecrets++;
      log.warn({ remote, taskId, code: 'DUPLICATE_SECRET' }, 'task already has a connection: refusing another');
      return false;
    }
    const state = runtime.get(taskId)?.state;
    if (state !== TaskState.RUNNING) {
      log.warn({ remote, taskId, state }, 'legacy connection for a task that is not running: refusing');
      return false;
    }
    const session = new LegacySession({
      taskId,
      socket,
      firstBytes,
      handlerFor: (method) => runtime.legacyHandler(method),
      ...(options.maxFrameSize !== undefined ? { maxFrameSize: options.maxFrameSize } : {}),
      ...(options.terminateTimeoutMs !== undefined ? { terminateTimeoutMs: options.terminateTimeoutMs } : {}),
      logger: log,
    });
    const detach = runtime.attach(taskId, session);
    void session.closed.then(detach);
    return true;
  });

  host.handle(TASK_ATTACH_METHOD, (req) => {
    const taskId = taskIdFromSubject(req.agent);
    if (taskId === undefined) {
      throw new MeshError(
        'FORBIDDEN_METHOD',
        `${TASK_ATTACH_METHOD} is for agents holding a task token (sub task:<id>)`,
      );
    }
    const session = req.session;
    const detach = runtime.attach(taskId, new MeshTaskChannel(taskId, session));
    void session.closed.then(detach);
    return JSON.stringify({ taskId, spearlet: host.id });
  });

  host.handle(TASK_INVOKE_METHOD, async (req) => {
    const { taskId, method, params } = parseInvokeBody(req.body);
    return runtime.invoke(taskId, method, params, req.signal);
  });

  host.handle(TASK_LIST_METHOD, () => JSON.stringify({ spearlet: host.id, tasks: runtime.list() }));

  let registration: TaskRegistration | undefined;
  if (options.consul !== undefined) {
    registration = new TaskRegistration({
      consul: options.consul,
      runtime,
      spearletId: host.id,
      address: options.advertise ?? defaultAdvertise(host),
      ...(options.taskTtlMs !== undefined ? { ttlMs: options.taskTtlMs } : {}),
      logger: log,
    });
    registration.start();
  }

  let closePromise: Promise<void> | undefined;
  return {
    registration,
    get rejectedSecrets() {
      return rejectedSecrets;
    },
    get duplicateSecrets() {
      return duplicateSecrets;
    },
    close() {
      closePromise ??= (async () => {
        closed = true;
        host.setLegacyHandler(undefined);
        await registration?.close();
      })();
      return closePromise;
    },
  };
}
