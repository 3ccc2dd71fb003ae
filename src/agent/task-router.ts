// Invoking a task from an agent: find the spearlet hosting it through Consul, then send task.invoke to that spearlet.
import { MeshError } from '../errors.ts';
import type { ConsulClient, HealthServiceEntry } from '../registry/consul-client.ts';
import type { MeshClient, MeshRequestOptions } from './mesh-client.ts';

/** The Consul service under which spearlets register the tasks they host (Meta task_id, spearlet_id). */
export const TASK_SERVICE = 'spear-task';
export const TASK_INVOKE_METHOD = 'task.invoke';

export interface InvokeTaskOptions {
  readonly deadlineMs?: number;
  readonly signal?: AbortSignal;
}

export interface TaskLocation {
  readonly taskId: string;
  readonly spearletId: string;
  readonly address: string;
  readonly port: number;
}

function filterFor(taskId: string): string {
  // go-bexpr double-quoted string: escape backslashes and quotes.
  return `Service.Meta.task_id == "${taskId.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function locationOf(taskId: string, entry: HealthServiceEntry): TaskLocation | undefined {
  const meta = entry.Service.Meta;
  if (meta.task_id !== taskId || meta.spearlet_id === undefined || meta.spearlet_id === '') return undefined;
  return {
    taskId,
    spearletId: meta.spearlet_id,
    address: entry.Service.Address !== '' ? entry.Service.Address : entry.Node.Address,
    port: entry.Service.Port,
  };
}

/** Where `taskId` runs, from Consul's passing `spear-task` entries; TASK_NOT_FOUND when no spearlet hosts it. */
export async function locateTask(consul: ConsulClient, taskId: string, signal?: AbortSignal): Promise<TaskLocation> {
  if (typeof taskId !== 'string' || taskId === '') throw new TypeError('taskId must be a non-empty string');
  const { entries } = await consul.healthService(TASK_SERVICE, {
    passing: true,
    filter: filterFor(taskId),
    ...(signal !== undefined ? { signal } : {}),
  });
  // The filter already selects the task; checking Meta again guards against a registry that ignores `filter`.
  for (const entry of entries) {
    const location = locationOf(taskId, entry);
    if (location !== undefined) return location;
  }
  throw new MeshError('TASK_NOT_FOUND', `no spearlet hosts task ${JSON.stringify(taskId)}`);
}

/** Sends task.invoke to the spearlet at `location`, pinned to it by id. */
function sendTo(
  mesh: MeshClient,
  location: TaskLocation,
  method: string,
  params: string,
  options: InvokeTaskOptions,
): Promise<Buffer> {
  const request: MeshRequestOptions = {
    spearletId: location.spearletId,
    ...(options.deadlineMs !== undefined ? { deadlineMs: options.deadlineMs } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  };
  return mesh.request(TASK_INVOKE_METHOD, JSON.stringify({ taskId: location.taskId, method, params }), request);
}

/**
 * Invokes `method` with `params` on task `taskId`, wherever it runs: resolves with the agent's answer. Fails with
 * TASK_NOT_FOUND when no spearlet hosts the task (or the hosting spearlet no longer has it), TASK_LOST when the
 * agent's connection dropped during the call, HANDLER_ERROR with the agent's own error, or MeshClient's errors.
 * The request is not idempotent: it is never retried on another spearlet.
 */
export async function invokeTask(
  mesh: MeshClient,
  consul: ConsulClient,
  taskId: string,
  method: string,
  params: string,
  options: InvokeTaskOptions = {},
): Promise<Buffer> {
  if (typeof method !== 'string' || method === '') throw new TypeError('method must be a non-empty string');
  if (typeof params !== 'string') throw new TypeError('params must be a string');
  const location = await locateTask(consul, taskId, options.signal);
  return sendTo(mesh, location, method, params, options);
}

export interface TaskRouterOptions {
  /** How long a task's location is reused without asking Consul again (default 5000; 0 disables the cache). */
  readonly cacheTtlMs?: number;
  /** Clock in ms (tests). */
  readonly now?: () => number;
}

export const DEFAULT_TASK_LOCATION_TTL_MS = 5000;

/**
 * invokeTask with a small location cache: a Consul lookup per task per `cacheTtlMs` instead of per call. When the
 * cached spearlet answers TASK_NOT_FOUND (the task stopped or moved), the entry is dropped and the call is sent once
 * more to wherever Consul now says the task runs; that is safe because TASK_NOT_FOUND means the agent never saw it.
 */
export class TaskRouter {
  readonly #mesh: MeshClient;
  readonly #consul: ConsulClient;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { location: TaskLocation; expiresAt: number }>();

  constructor(mesh: MeshClient, consul: ConsulClient, options: TaskRouterOptions = {}) {
    this.#mesh = mesh;
    this.#consul = consul;
    this.#ttlMs = options.cacheTtlMs ?? DEFAULT_TASK_LOCATION_TTL_MS;
    if (!Number.isFinite(this.#ttlMs) || this.#ttlMs < 0) throw new TypeError('cacheTtlMs must be >= 0');
    this.#now = options.now ?? Date.now;
  }

  async locate(taskId: string, signal?: AbortSignal): Promise<TaskLocation> {
    const hit = this.#cache.get(taskId);
    if (hit !== undefined && hit.expiresAt > this.#now()) return hit.location;
    this.#cache.delete(taskId);
    const location = await locateTask(this.#consul, taskId, signal);
    if (this.#ttlMs > 0) this.#cache.set(taskId, { location, expiresAt: this.#now() + this.#ttlMs });
    return location;
  }

  /** Forgets a task's cached location. */
  forget(taskId: string): void {
    this.#cache.delete(taskId);
  }

  async invoke(taskId: string, method: string, params: string, options: InvokeTaskOptions = {}): Promise<Buffer> {
    if (typeof method !== 'string' || method === '') throw new TypeError('method must be a non-empty string');
    if (typeof params !== 'string') throw new TypeError('params must be a string');
    const cached = this.#cache.has(taskId);
    const first = await this.locate(taskId, options.signal);
    try {
      return await sendTo(this.#mesh, first, method, params, options);
    } catch (err) {
      if (!(cached && err instanceof MeshError && err.code === 'TASK_NOT_FOUND')) throw err;
      this.#cache.delete(taskId);
      const fresh = await this.locate(taskId, options.signal);
      if (fresh.spearletId === first.spearletId) throw err;
      return sendTo(this.#mesh, fresh, method, params, options);
    }
  }
}
