// A task whose agent speaks the mesh protocol: its MeshSession offered to the runtime as a TaskChannel.
import { MeshError } from '../../errors.ts';
import type { MeshSession } from '../session.ts';
import type { TaskChannel } from './task-runtime.ts';

/** The SIGNAL a mesh agent receives when its task is stopped: it should close its connection and exit. */
export const TASK_TERMINATE_SIGNAL = 'task.terminate';
/** The method a mesh agent started by the runtime calls once connected, to bind its session to its task. */
export const TASK_ATTACH_METHOD = 'task.attach';
/** Token subjects the runtime mints for its tasks: `task:<taskId>`. */
export const TASK_SUBJECT_PREFIX = 'task:';

export function taskSubject(taskId: string): string {
  return `${TASK_SUBJECT_PREFIX}${taskId}`;
}

/** The task id a token subject names, or undefined for other subjects. */
export function taskIdFromSubject(sub: string): string | undefined {
  return sub.startsWith(TASK_SUBJECT_PREFIX) && sub.length > TASK_SUBJECT_PREFIX.length
    ? sub.slice(TASK_SUBJECT_PREFIX.length)
    : undefined;
}

/**
 * invoke(method, params) is a spearlet-to-agent REQUEST named `method` whose body is `params` (UTF-8); the
 * agent's RESPONSE body is the answer and its error RESPONSE the error (with the agent's code). A request lost with
 * the connection rejects with TASK_LOST, one attempted on a closed session with TASK_NOT_FOUND.
 */
export class MeshTaskChannel implements TaskChannel {
  readonly protocol = 'mesh' as const;
  readonly taskId: string;
  readonly #session: MeshSession;

  constructor(taskId: string, session: MeshSession) {
    this.taskId = taskId;
    this.#session = session;
  }

  async invoke(method: string, params: string, signal?: AbortSignal): Promise<Buffer> {
    const state = this.#session.state;
    if (state !== 'open' && state !== 'going_away') {
      throw new MeshError('TASK_NOT_FOUND', `task ${this.taskId} is not connected`);
    }
    try {
      const out = await this.#session.request(method, Buffer.from(params, 'utf8'), signal ? { signal } : {});
      return Buffer.from(out);
    } catch (err) {
      if (err instanceof MeshError && err.code === 'CONNECTION_CLOSED') {
        throw new MeshError('TASK_LOST', `the agent connection of task ${this.taskId} closed during the invocation`, {
          cause: err,
        });
      }
      throw err;
    }
  }

  terminate(): void {
    const state = this.#session.state;
    if (state !== 'open' && state !== 'going_away') return;
    this.#session.signal(TASK_TERMINATE_SIGNAL);
  }

  destroy(): void {
    this.#session.destroy();
  }
}
