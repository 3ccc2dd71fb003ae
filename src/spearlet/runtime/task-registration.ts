// Makes tasks discoverable: every connected task is a Consul service `spear-task` with a TTL check this spearlet passes.
import { RegistryHttpError } from '../../errors.ts';
import type { ConsulClient, ServiceDefinition } from '../../registry/consul-client.ts';
import { silentLogger, type Logger } from '../../util/logger.ts';
import { TaskState, type TaskInfo, type TaskRuntime } from './task-runtime.ts';

export const TASK_SERVICE_NAME = 'spear-task';
export const DEFAULT_TASK_TTL_MS = 10_000;
/** A spearlet that died without deregistering its tasks: Consul drops them this long after their check went critical. */
export const DEFAULT_TASK_DEREGISTER_AFTER_MS = 60_000;

export function taskServiceId(taskId: string): string {
  return `spear-task-${taskId}`;
}

export function taskCheckId(taskId: string): string {
  return `spear-task:${taskId}:ttl`;
}

export interface TaskRegistrationOptions {
  readonly consul: ConsulClient;
  readonly runtime: TaskRuntime;
  readonly spearletId: string;
  /** The spearlet's mesh address as agents reach it (empty address: the Consul node's). */
  readonly address: () => { readonly address: string; readonly port: number };
  readonly ttlMs?: number;
  readonly deregisterCriticalAfterMs?: number;
  readonly logger?: Logger;
}

/**
 * A task is registered while it is CONNECTED (an agent is attached, so it can be invoked) and deregistered when it
 * leaves that state (disconnect, exit, stop, restart). Operations per task run one after another; a failed one is
 * retried on the next TTL tick, and a check pass answered 404 (Consul forgot the service) registers it again.
 */
export class TaskRegistration {
  readonly #o: TaskRegistrationOptions;
  readonly #ttlMs: number;
  readonly #dcsaMs: number;
  readonly #log: Logger;
  /** Tasks that should be in Consul. */
  readonly #wanted = new Set<string>();
  /** Tasks Consul has (as far as we know). */
  readonly #registered = new Set<string>();
  readonly #queues = new Map<string, Promise<void>>();
  readonly #onState = (info: TaskInfo): void => {
    this.#update(info);
  };
  #ticker: NodeJS.Timeout | undefined;
  #closed = false;
  #closePromise: Promise<void> | undefined;

  constructor(options: TaskRegistrationOptions) {
    this.#o = options;
    this.#ttlMs = options.ttlMs ?? DEFAULT_TASK_TTL_MS;
    if (!Number.isInteger(this.#ttlMs) || this.#ttlMs < 300) throw new TypeError('ttlMs must be an integer >= 300');
    this.#dcsaMs = options.deregisterCriticalAfterMs ?? DEFAULT_TASK_DEREGISTER_AFTER_MS;
    this.#log = (options.logger ?? silentLogger()).child({ component: 'task-registration' });
  }

  start(): void {
    if (this.#closed || this.#ticker !== undefined) return;
    this.#o.runtime.on('state', this.#onState);
    for (const info of this.#o.runtime.list()) this.#update(info);
    this.#ticker = setInterval(
      () => {
        this.#tick();
      },
      Math.max(100, Math.floor(this.#ttlMs / 3)),
    );
    this.#ticker.unref();
  }

  /** Whether Consul has the task's service (as far as this spearlet knows). */
  isRegistered(taskId: string): boolean {
    return this.#registered.has(taskId);
  }

  /** Resolves when every queued Consul operation has finished. */
  async settled(): Promise<void> {
    while (this.#queues.size > 0) await Promise.all(this.#queues.values());
  }

  /** Stops passing checks and deregisters every task. Idempotent. */
  close(): Promise<void> {
    this.#closePromise ??= this.#doClose();
    return this.#closePromise;
  }

  async #doClose(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#ticker);
    this.#o.runtime.off('state', this.#onState);
    this.#wanted.clear();
    await this.settled();
    await Promise.all([...this.#registered].map((id) => this.#deregister(id)));
  }

  #update(info: TaskInfo): void {
    if (this.#closed) return;
    const want = info.state === TaskState.CONNECTED;
    if (want === this.#wanted.has(info.id)) return;
    if (want) this.#wanted.add(info.id);
    else this.#wanted.delete(info.id);
    this.#enqueue(info.id);
  }

  #tick(): void {
    for (const id of new Set([...this.#wanted, ...this.#registered])) {
      if (!this.#queues.has(id)) this.#enqueue(id);
    }
  }

  /** Brings Consul in line with #wanted for one task, after whatever is already queued for it. */
  #enqueue(taskId: string): void {
    const previous = this.#queues.get(taskId) ?? Promise.resolve();
    const next = previous
      .then(() => this.#sync(taskId))
      .catch((err: unknown) => {
        this.#log.warn({ taskId, err: err instanceof Error ? err.message : String(err) }, 'task registration failed');
      })
      .finally(() => {
        if (this.#queues.get(taskId) === next) this.#queues.delete(taskId);
      });
    this.#queues.set(taskId, next);
  }

  async #sync(taskId: string): Promise<void> {
    const want = this.#wanted.has(taskId) && !this.#closed;
    if (!want) {
      if (this.#registered.has(taskId)) await this.#deregister(taskId);
      return;
    }
    if (!this.#registered.has(taskId)) {
      await this.#register(taskId);
      return;
    }
    try {
      await this.#o.consul.passCheck(taskCheckId(taskId));
    } catch (err) {
      if (!(err instanceof RegistryHttpError && err.statusCode === 404)) throw err;
      this.#log.warn({ taskId }, 'Consul forgot the task: registering again');
      this.#registered.delete(taskId);
      await this.#register(taskId);
    }
  }

  async #register(taskId: string): Promise<void> {
    const { address, port } = this.#o.address();
    const def: ServiceDefinition = {
      ID: taskServiceId(taskId),
      Name: TASK_SERVICE_NAME,
      Address: address,
      Port: port,
      Tags: [TASK_SERVICE_NAME],
      Meta: { task_id: taskId, spearlet_id: this.#o.spearletId },
      Check: {
        CheckID: taskCheckId(taskId),
        Name: `task ${taskId} on spearlet ${this.#o.spearletId}`,
        TTL: `${this.#ttlMs}ms`,
        ...(this.#dcsaMs > 0 ? { DeregisterCriticalServiceAfter: `${this.#dcsaMs}ms` } : {}),
      },
    };
    await this.#o.consul.registerService(def);
    this.#registered.add(taskId);
    await this.#o.consul.passCheck(taskCheckId(taskId));
    this.#log.info({ taskId }, 'task registered in Consul');
  }

  async #deregister(taskId: string): Promise<void> {
    try {
      await this.#o.consul.deregisterService(taskServiceId(taskId));
      this.#registered.delete(taskId);
      this.#log.info({ taskId }, 'task deregistered from Consul');
    } catch (err) {
      this.#log.warn({ taskId, err: err instanceof Error ? err.message : String(err) }, 'task deregistration failed');
    }
  }
}
