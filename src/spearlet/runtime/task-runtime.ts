// The spearlet's process runtime: starts agent processes, tracks their lifecycle, restarts them on failure
// and stops their whole process tree. Protocol sessions attach to tasks through `attach()`.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Backoff } from '../../util/backoff.ts';
import { MeshError } from '../../errors.ts';
import { silentLogger, type Logger } from '../../util/logger.ts';
import { generateSecret, secretsEqual } from './secret.ts';
import { buildTaskEnv, checkCommand, checkSpecEnv, type TaskPolicy } from './task-policy.ts';

export const DEFAULT_STOP_GRACE_MS = 5000;

export const TaskState = {
  STARTING: 'starting',
  RUNNING: 'running',
  CONNECTED: 'connected',
  STOPPING: 'stopping',
  BACKOFF: 'backoff',
  EXITED: 'exited',
} as const;
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

export type RestartPolicy = 'never' | 'on-failure';

export interface TaskSpec {
  command: string;
  args?: readonly string[];
  env?: Readonly<Record<string, string>>;
  cwd?: string;
  restart?: RestartPolicy;
  /** Upper bound on automatic restarts (default 10). */
  maxRestarts?: number;
  /** Caller-chosen id; a random one otherwise. */
  id?: string;
}

/** What a connected agent offers the runtime, whatever protocol it speaks. */
export interface TaskChannel {
  readonly protocol: 'legacy' | 'mesh';
  /** Invokes a method on the agent; resolves with the agent's answer. */
  invoke(method: string, params: string, signal?: AbortSignal): Promise<Buffer>;
  /** Asks the agent to stop; it should close its connection and exit. */
  terminate(): void;
  /** Drops the connection at once. */
  destroy(): void;
}

/** An agent's request to the spearlet over the legacy protocol (a method number such as ToolInvoke 5). */
export interface LegacyRequest {
  readonly taskId: string;
  readonly method: number;
  /** TransportRequest.request; a view of the frame: copy it to keep it past the handler's return. */
  readonly request: Buffer;
  /** Fires when the agent's connection closes. */
  readonly signal: AbortSignal;
}

/**
 * Serves one legacy method for agents. The result becomes TransportResponse.response with code 0; a thrown error
 * answers code 1 with the error's message.
 */
export type LegacyMethodHandler = (req: LegacyRequest) => Promise<Uint8Array | undefined> | Uint8Array | undefined;

export interface TaskInfo {
  readonly id: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly state: TaskState;
  readonly pid: number | undefined;
  readonly restarts: number;
  readonly protocol: 'legacy' | 'mesh' | null;
  readonly startedAt: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
}

export interface TaskRuntimeOptions {
  spearletId: string;
  /** host:port of the spearlet's agent listener, handed to tasks as SERVICE_ADDR. */
  serviceAddr: () => string;
  /** Mints a short-lived token for a task (SPEAR_TOKEN); absent when the spearlet holds no signing key. */
  mintTaskToken?: (taskId: string) => Promise<string>;
  stopGraceMs?: number;
  /** Command allowlist, environment allowlist, uid/gid (docs/security.md); default: any command, minimal env. */
  policy?: TaskPolicy;
  /** The environment allowlisted variables are taken from (default process.env). */
  parentEnv?: NodeJS.ProcessEnv;
  restartBackoff?: { initialMs?: number; maxMs?: number };
  logger?: Logger;
}

interface Task {
  readonly id: string;
  readonly spec: TaskSpec;
  state: TaskState;
  secret: bigint;
  child: ChildProcess | undefined;
  /** Process group id of the latest spawn; kept after exit to reap leftover grandchildren. */
  pgid: number | undefined;
  channel: TaskChannel | undefined;
  restarts: number;
  backoff: Backoff;
  restartTimer: NodeJS.Timeout | undefined;
  stopRequested: boolean;
  startedAt: Date;
  exitCode: number | null;
  signal: string | null;
  exited: Promise<void>;
  markExited: () => void;
}

export class TaskNotFoundError extends MeshError {
  constructor(taskId: string) {
    super('TASK_NOT_FOUND', `no task ${JSON.stringify(taskId)} on this spearlet`);
  }
}

export class TaskStartError extends MeshError {
  constructor(message: string, cause?: unknown) {
    super('TASK_START_FAILED', message, { cause });
  }
}

export class TaskRuntime extends EventEmitter<{ state: [TaskInfo]; exit: [TaskInfo] }> {
  readonly #options: TaskRuntimeOptions;
  readonly #tasks = new Map<string, Task>();
  readonly #legacyHandlers = new Map<number, LegacyMethodHandler>();
  readonly #logger: Logger;
  #closed = false;

  constructor(options: TaskRuntimeOptions) {
    super();
    this.#options = options;
    this.#logger = (options.logger ?? silentLogger()).child({ component: 'task-runtime' });
  }

  /** Starts a task; resolves once the process has spawned (or rejects with TASK_START_FAILED). */
  async start(spec: TaskSpec): Promise<TaskInfo> {
    if (this.#closed) throw new MeshError('CLIENT_CLOSED', 'task runtime is closed');
    if (typeof spec.command !== 'string' || spec.command === '')
      throw new TypeError('task command must be a non-empty string');
    checkCommand(spec.command, this.#options.policy?.commandAllow);
    checkSpecEnv(spec.env);
    const id = spec.id ?? randomUUID();
    if (this.#tasks.has(id)) throw new TypeError(`task ${id} already exists`);
    let markExited!: () => void;
    const exited = new Promise<void>((resolve) => (markExited = resolve));
    const task: Task = {
      id,
      spec,
      state: TaskState.STARTING,
      secret: generateSecret(),
      child: undefined,
      pgid: undefined,
      channel: undefined,
      restarts: 0,
      backoff: new Backoff({ initialMs: 200, maxMs: 30_000, ...this.#options.restartBackoff }),
      restartTimer: undefined,
      stopRequested: false,
      startedAt: new Date(),
      exitCode: null,
      signal: null,
      exited,
      markExited,
    };
    this.#tasks.set(id, task);
    try {
      await this.#spawn(task);
    } catch (err) {
      this.#tasks.delete(id);
      throw err;
    }
    return this.#info(task);
  }

  /** Serves legacy method number `method` for every task's agent; undefined removes it (agents then get code 2). */
  handleLegacy(method: number, handler: LegacyMethodHandler | undefined): this {
    if (!Number.isInteger(method) || method < 0 || method > 0xffff_ffff)
      throw new TypeError('legacy method must be a u32');
    if (handler === undefined) this.#legacyHandlers.delete(method);
    else if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    else this.#legacyHandlers.set(method, handler);
    return this;
  }

  /** The handler for an agent's legacy request, if any. */
  legacyHandler(method: number): LegacyMethodHandler | undefined {
    return this.#legacyHandlers.get(method);
  }

  /** The spearlet this runtime belongs to. */
  get spearletId(): string {
    return this.#options.spearletId;
  }

  list(): TaskInfo[] {
    return [...this.#tasks.values()].map((t) => this.#info(t));
  }

  get(taskId: string): TaskInfo | undefined {
    const task = this.#tasks.get(taskId);
    return task && this.#info(task);
  }

  /** Finds the live task holding `secret` (constant-time comparisons). */
  findBySecret(secret: bigint): string | undefined {
    let found: string | undefined;
    for (const task of this.#tasks.values()) {
      if (task.state !== TaskState.EXITED && secretsEqual(task.secret, secret)) found = task.id;
    }
    return found;
  }

  /** Whether a task already has an agent connection. */
  isAttached(taskId: string): boolean {
    return this.#tasks.get(taskId)?.channel !== undefined;
  }

  /** Binds an agent connection to its task. Returns a function to call when the connection ends. */
  attach(taskId: string, channel: TaskChannel): () => void {
    const task = this.#tasks.get(taskId);
    // A task on its way out (or between restarts) takes no new connection: its process is not the one to talk to.
    if (task === undefined || (task.state !== TaskState.RUNNING && task.state !== TaskState.CONNECTED)) {
      throw new TaskNotFoundError(taskId);
    }
    if (task.channel !== undefined) throw new MeshError('DUPLICATE_SECRET', `task ${taskId} is already connected`);
    task.channel = channel;
    this.#setState(task, TaskState.CONNECTED);
    this.#logger.info({ taskId, protocol: channel.protocol }, 'task connected');
    return () => {
      if (task.channel !== channel) return;
      task.channel = undefined;
      if (task.state === TaskState.CONNECTED) this.#setState(task, TaskState.RUNNING);
      this.#logger.info({ taskId }, 'task disconnected');
    };
  }

  /** Invokes `method` on the task's agent; TASK_NOT_FOUND when there is no such task or it is not connected. */
  async invoke(taskId: string, method: string, params: string, signal?: AbortSignal): Promise<Buffer> {
    const task = this.#tasks.get(taskId);
    if (task === undefined) throw new TaskNotFoundError(taskId);
    if (task.channel === undefined) {
      const why =
        task.state === TaskState.RUNNING || task.state === TaskState.STARTING
          ? 'its agent has not connected to the spearlet'
          : `it is ${task.state}`;
      throw new MeshError('TASK_NOT_FOUND', `task ${JSON.stringify(taskId)} is on this spearlet but ${why}`);
    }
    return task.channel.invoke(method, params, signal);
  }

  /** Stops a task: Terminate to its agent, then SIGTERM, then SIGKILL to the whole process group after the grace. */
  async stop(taskId: string, graceMs = this.#options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS): Promise<TaskInfo> {
    const task = this.#tasks.get(taskId);
    if (task === undefined) throw new TaskNotFoundError(taskId);
    task.stopRequested = true;
    clearTimeout(task.restartTimer);
    if (task.state === TaskState.EXITED || task.state === TaskState.BACKOFF) {
      this.#setState(task, TaskState.EXITED);
      task.markExited();
      return this.#info(task);
    }
    this.#setState(task, TaskState.STOPPING);
    task.channel?.terminate();
    const half = Math.max(1, Math.floor(graceMs / 2));
    const term = setTimeout(
      () => {
        this.#signalGroup(task, 'SIGTERM');
      },
      task.channel ? half : 0,
    );
    const kill = setTimeout(() => {
      this.#signalGroup(task, 'SIGKILL');
    }, graceMs);
    try {
      await task.exited;
    } finally {
      clearTimeout(term);
      clearTimeout(kill);
    }
    // The agent's own children may outlive it: make sure the whole group is gone.
    this.#signalGroup(task, 'SIGKILL');
    return this.#info(task);
  }

  /** Stops every task. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#tasks.keys()].map((id) => this.stop(id).catch(() => undefined)));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #spawn(task: Task): Promise<void> {
    const { spec } = task;
    const policy = this.#options.policy ?? {};
    const spear: Record<string, string> = {
      SERVICE_ADDR: this.#options.serviceAddr(),
      SECRET: task.secret.toString(10),
      SPEAR_SPEARLET_ID: this.#options.spearletId,
      SPEAR_TASK_ID: task.id,
    };
    if (this.#options.mintTaskToken) spear.SPEAR_TOKEN = await this.#options.mintTaskToken(task.id);
    const env = buildTaskEnv(this.#options.parentEnv ?? process.env, policy, spec.env, spear);
    if (spear.SPEAR_TOKEN === undefined) delete env.SPEAR_TOKEN;

    const child = spawn(spec.command, spec.args ?? [], {
      cwd: spec.cwd,
      env,
      ...(policy.user !== undefined ? { uid: policy.user.uid, gid: policy.user.gid } : {}),
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so stop() can signal the whole tree.
      detached: true,
    });
    task.child = child;
    task.pgid = child.pid;
    task.exitCode = null;
    task.signal = null;
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) => {
        reject(new TaskStartError(`cannot start ${spec.command}: ${err.message}`, err));
      });
    });
    this.#setState(task, TaskState.RUNNING);
    this.#logger.info({ taskId: task.id, pid: child.pid, command: spec.command }, 'task started');
    this.#pipeLogs(task, child);
    child.once('exit', (code, signal) => {
      this.#onExit(task, child, code, signal);
    });
  }

  #pipeLogs(task: Task, child: ChildProcess): void {
    for (const [stream, source] of [
      ['stdout', child.stdout],
      ['stderr', child.stderr],
    ] as const) {
      if (source === null) continue;
      const lines = createInterface({ input: source, crlfDelay: Infinity });
      lines.on('line', (line) => {
        this.#logger.info({ taskId: task.id, stream }, line);
      });
    }
  }

  #onExit(task: Task, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (task.child !== child) return;
    task.child = undefined;
    task.exitCode = code;
    task.signal = signal;
    task.channel?.destroy();
    task.channel = undefined;
    // Whatever the agent left behind in its process group goes with it.
    this.#signalGroup(task, 'SIGKILL');
    const failed = code !== 0;
    this.#logger.info({ taskId: task.id, code, signal }, 'task exited');
    const policy = task.spec.restart ?? 'never';
    const canRestart =
      !task.stopRequested &&
      !this.#closed &&
      policy === 'on-failure' &&
      failed &&
      task.restarts < (task.spec.maxRestarts ?? 10);
    if (!canRestart) {
      this.#setState(task, TaskState.EXITED);
      this.emit('exit', this.#info(task));
      task.markExited();
      return;
    }
    const delay = task.backoff.next();
    this.#setState(task, TaskState.BACKOFF);
    this.#logger.warn({ taskId: task.id, delayMs: delay }, 'task failed; restarting');
    task.restartTimer = setTimeout(() => {
      task.restarts++;
      task.secret = generateSecret();
      task.startedAt = new Date();
      this.#spawn(task).catch((err: unknown) => {
        this.#logger.error({ taskId: task.id, err }, 'task restart failed');
        this.#setState(task, TaskState.EXITED);
        task.markExited();
      });
    }, delay);
  }

  #signalGroup(task: Task, signal: NodeJS.Signals): void {
    const pgid = task.pgid;
    if (pgid === undefined) return;
    try {
      process.kill(-pgid, signal);
    } catch {
      // The group is already gone.
    }
  }

  #setState(task: Task, state: TaskState): void {
    if (task.state === state) return;
    task.state = state;
    this.emit('state', this.#info(task));
  }

  #info(task: Task): TaskInfo {
    return {
      id: task.id,
      command: task.spec.command,
      args: task.spec.args ?? [],
      state: task.state,
      pid: task.child?.pid,
      restarts: task.restarts,
      protocol: task.channel?.protocol ?? null,
      startedAt: task.startedAt.toISOString(),
      exitCode: task.exitCode,
      signal: task.signal,
    };
  }
}
