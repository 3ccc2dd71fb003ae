// Gray drill faults inside a spearlet process: `slow` adds latency to every request, `error` fails every request. Only
// drill code installs them (the `spearlet` command, with --enable-drills), through the spearlet's dispatch hook; they
// are driven over the admin API by POST /v1/gray-faults {fault, durationMs, slowMs}.
import type { FastifyPluginAsync } from 'fastify';
import { setTimeout as delay } from 'node:timers/promises';
import { MeshError } from '../errors.ts';
import type { Handler } from '../spearlet/handlers.ts';

export const GRAY_FAULTS = ['slow', 'error', 'none'] as const;
export type GrayFault = (typeof GRAY_FAULTS)[number];

/** What GrayFaults needs from a spearlet: its dispatch hook. */
export interface FaultHookTarget<S> {
  setFaultHook(hook: ((method: string, handler: Handler<S>) => Handler<S>) | undefined): void;
}

export class GrayFaults<S> {
  #fault: GrayFault = 'none';
  #slowMs = 0;
  #timer: NodeJS.Timeout | undefined;
  /** One wrapper per handler and fault, so a dispatch under a fault allocates nothing more. */
  readonly #wrapped = new WeakMap<Handler<S>, Handler<S>>();

  install(target: FaultHookTarget<S>): void {
    target.setFaultHook((_method, handler) => (this.#fault === 'none' ? handler : this.#wrap(handler)));
  }

  get fault(): GrayFault {
    return this.#fault;
  }

  /** Starts `fault` for `durationMs` (then back to none); `none` ends a fault now. */
  set(fault: GrayFault, durationMs: number, slowMs = 0): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#fault = fault;
    this.#slowMs = slowMs;
    if (fault !== 'none') {
      this.#timer = setTimeout(() => {
        this.#fault = 'none';
      }, durationMs).unref();
    }
  }

  #wrap(handler: Handler<S>): Handler<S> {
    const key = this.#wrapped.get(handler);
    if (key !== undefined) return key;
    const wrapped: Handler<S> = async (req) => {
      if (this.#fault === 'error') throw new MeshError('HANDLER_ERROR', 'drill: error fault injected');
      if (this.#fault === 'slow') await delay(this.#slowMs, undefined, { signal: req.signal });
      return handler(req);
    };
    this.#wrapped.set(handler, wrapped);
    return wrapped;
  }

  /** The admin route POST /v1/gray-faults {fault, durationMs, slowMs}; registered only on drill-enabled spearlets. */
  routes(): FastifyPluginAsync {
    return async (app) => {
      app.post<{ Body: { fault: GrayFault; durationMs: number; slowMs?: number } }>(
        '/v1/gray-faults',
        {
          schema: {
            body: {
              type: 'object',
              required: ['fault', 'durationMs'],
              additionalProperties: false,
              properties: {
                fault: { type: 'string', enum: [...GRAY_FAULTS] },
                durationMs: { type: 'integer', minimum: 0, maximum: 600_000 },
                slowMs: { type: 'integer', minimum: 0, maximum: 600_000 },
              },
            },
          },
        },
        async (req, reply) => {
          this.set(req.body.fault, req.body.durationMs, req.body.slowMs ?? 0);
          return reply.code(202).send({ fault: req.body.fault, durationMs: req.body.durationMs });
        },
      );
      await Promise.resolve();
    };
  }
}
