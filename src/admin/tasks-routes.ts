// Admin API routes for the process runtime: start, list, inspect, stop and invoke tasks (a fastify plugin).
import type { FastifyError, FastifyPluginAsync, preValidationHookHandler } from 'fastify';
import { MeshError } from '../errors.ts';
import type { RestartPolicy, TaskRuntime, TaskSpec } from '../spearlet/runtime/task-runtime.ts';

/** How long POST /v1/tasks/:id/invoke waits for the agent unless the body says otherwise. */
export const DEFAULT_INVOKE_TIMEOUT_MS = 30_000;

interface StartBody {
  command: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  restart?: RestartPolicy;
  maxRestarts?: number;
  id?: string;
}

interface InvokeBody {
  method: string;
  params?: string;
  timeoutMs?: number;
}

interface IdParams {
  id: string;
}

/** HTTP status for the errors these routes raise; the body is always `{code, message}`. */
function httpStatus(code: string): number {
  switch (code) {
    case 'TASK_NOT_FOUND':
      return 404;
    case 'INVALID_PAYLOAD':
      return 400;
    case 'TASK_COMMAND_NOT_ALLOWED':
      return 403;
    case 'TASK_START_FAILED':
      return 422;
    case 'HANDLER_ERROR':
    case 'METHOD_NOT_FOUND':
    case 'TASK_LOST':
      // The agent (upstream of this API) failed or went away.
      return 502;
    case 'DEADLINE_EXCEEDED':
      return 504;
    case 'CLIENT_CLOSED':
      return 503;
    default:
      return 500;
  }
}

/** The agent's answer as JSON: UTF-8 text when it is valid UTF-8, base64 otherwise. */
function answerJson(taskId: string, data: Buffer): { taskId: string; result: string; encoding: 'utf8' | 'base64' } {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(data);
    return { taskId, result: text, encoding: 'utf8' };
  } catch {
    return { taskId, result: data.toString('base64'), encoding: 'base64' };
  }
}

/** fastify's Ajv strips unknown properties; these routes refuse them so that a typo is not silently ignored. */
function rejectUnknown(allowed: readonly string[]): preValidationHookHandler {
  const known = new Set(allowed);
  return (req, _reply, done) => {
    const body: unknown = req.body;
    if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
      const unknown = Object.keys(body).filter((k) => !known.has(k));
      if (unknown.length > 0) {
        done(new MeshError('INVALID_PAYLOAD', `unknown field(s) ${unknown.join(', ')}; known: ${allowed.join(', ')}`));
        return;
      }
    }
    done();
  };
}

const START_FIELDS = ['command', 'args', 'env', 'cwd', 'restart', 'maxRestarts', 'id'] as const;
const INVOKE_FIELDS = ['method', 'params', 'timeoutMs'] as const;

const ID_PARAMS = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

/**
 * `app.register(tasksRoutes(runtime))`. Routes: POST /v1/tasks (201 TaskInfo), GET /v1/tasks, GET /v1/tasks/:id,
 * POST /v1/tasks/:id/stop (TaskInfo once exited), POST /v1/tasks/:id/invoke {method, params, timeoutMs?}
 * (`{taskId, result, encoding}`). Starting a task runs a command on the spearlet's host: never expose this API beyond
 * trusted operators.
 */
export function tasksRoutes(runtime: TaskRuntime): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- fastify plugins are async functions by contract
  return async (app) => {
    app.setErrorHandler((err: FastifyError | MeshError | Error, _req, reply) => {
      if (err instanceof MeshError) {
        return reply.code(httpStatus(err.code)).send({ code: err.code, message: err.message });
      }
      if ('validation' in err && err.validation !== undefined) {
        return reply.code(400).send({ code: 'INVALID_PAYLOAD', message: err.message });
      }
      if (err instanceof TypeError) {
        // Programmer-level misuse reaching the API from a request, e.g. a task id that already exists.
        const status = /already exists/.test(err.message) ? 409 : 400;
        return reply.code(status).send({ code: 'INVALID_PAYLOAD', message: err.message });
      }
      reply.log.error({ err }, 'task route failed');
      return reply.code(500).send({ code: 'HANDLER_ERROR', message: err.message });
    });

    app.post<{ Body: StartBody }>(
      '/v1/tasks',
      {
        preValidation: rejectUnknown(START_FIELDS),
        schema: {
          body: {
            type: 'object',
            required: ['command'],
            additionalProperties: false,
            properties: {
              command: { type: 'string', minLength: 1 },
              args: { type: 'array', items: { type: 'string' } },
              env: { type: 'object', additionalProperties: { type: 'string' } },
              cwd: { type: 'string', minLength: 1 },
              restart: { type: 'string', enum: ['never', 'on-failure'] },
              maxRestarts: { type: 'integer', minimum: 0, maximum: 10_000 },
              id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$' },
            },
          },
        },
      },
      async (req, reply) => {
        const b = req.body;
        const spec: TaskSpec = {
          command: b.command,
          ...(b.args !== undefined ? { args: b.args } : {}),
          ...(b.env !== undefined ? { env: b.env } : {}),
          ...(b.cwd !== undefined ? { cwd: b.cwd } : {}),
          ...(b.restart !== undefined ? { restart: b.restart } : {}),
          ...(b.maxRestarts !== undefined ? { maxRestarts: b.maxRestarts } : {}),
          ...(b.id !== undefined ? { id: b.id } : {}),
        };
        const info = await runtime.start(spec);
        return reply.code(201).send(info);
      },
    );

    app.get('/v1/tasks', () => ({ spearlet: runtime.spearletId, tasks: runtime.list() }));

    app.get<{ Params: IdParams }>('/v1/tasks/:id', { schema: { params: ID_PARAMS } }, (req) => {
      const info = runtime.get(req.params.id);
      if (info === undefined) throw new MeshError('TASK_NOT_FOUND', `no task ${JSON.stringify(req.params.id)}`);
      return info;
    });

    app.post<{ Params: IdParams; Body: { graceMs?: number } | undefined }>(
      '/v1/tasks/:id/stop',
      {
        preValidation: rejectUnknown(['graceMs']),
        schema: {
          params: ID_PARAMS,
          body: {
            anyOf: [
              { type: 'null' },
              {
                type: 'object',
                additionalProperties: false,
                properties: { graceMs: { type: 'integer', minimum: 0, maximum: 600_000 } },
              },
            ],
          },
        },
      },
      (req) => runtime.stop(req.params.id, req.body?.graceMs),
    );

    app.post<{ Params: IdParams; Body: InvokeBody }>(
      '/v1/tasks/:id/invoke',
      {
        preValidation: rejectUnknown(INVOKE_FIELDS),
        schema: {
          params: ID_PARAMS,
          body: {
            type: 'object',
            required: ['method'],
            additionalProperties: false,
            properties: {
              method: { type: 'string', minLength: 1 },
              params: { type: 'string' },
              timeoutMs: { type: 'integer', minimum: 1, maximum: 3_600_000 },
            },
          },
        },
      },
      async (req) => {
        const timeoutMs = req.body.timeoutMs ?? DEFAULT_INVOKE_TIMEOUT_MS;
        const signal = AbortSignal.timeout(timeoutMs);
        try {
          const data = await runtime.invoke(req.params.id, req.body.method, req.body.params ?? '', signal);
          return answerJson(req.params.id, data);
        } catch (err) {
          if (signal.aborted && err instanceof MeshError && err.code === 'CANCELLED') {
            throw new MeshError('DEADLINE_EXCEEDED', `task ${req.params.id} did not answer within ${timeoutMs} ms`);
          }
          throw err;
        }
      },
    );
  };
}
