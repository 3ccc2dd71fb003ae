// Gray drill faults inside a spearlet process: `slow` adds latency to every request, `error` fails every request. Only
// drill code installs them (the `spearlet` command, with --enable-drills), through the spearlet's fault hooks (via
// SpearletFaults); they are driven over the admin API by POST /v1/gray-faults {fault, durationMs, slowMs}.
import type { FastifyPluginAsync } from 'fastify';
import type { DispatchFault } from '../spearlet/fault-hooks.ts';

export const GRAY_FAULTS = ['slow', 'error', 'none'] as const;
export type GrayFault = (typeof GRAY_FAULTS)[number];

const ERROR_FAULT: DispatchFault = {
  error: { code: 'HANDLER_ERROR', message: 'drill: error fault injected', retryable: false },
};

/** The gray faults' state; SpearletFaults asks it about every request through the spearlet's fault hooks. */
export class GrayFaults {
  #fault: GrayFault = 'none';
  /** The answer for the current fault, built once per fault so a dispatch under a fault allocates nothing. */
  #answer: DispatchFault | undefined;
  #timer: NodeJS.Timeout | undefined;

  get fault(): GrayFault {
    return this.#fault;
  }

  /** What the spearlet does with a request now: undefined runs it normally. */
  beforeDispatch(_method: string): DispatchFault | undefined {
    return this.#answer;
  }

  /** Starts `fault` for `durationMs` (then back to none); `none` ends a fault now. */
  set(fault: GrayFault, durationMs: number, slowMs = 0): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#fault = fault;
    this.#answer = fault === 'error' ? ERROR_FAULT : fault === 'slow' ? { delayMs: slowMs } : undefined;
    if (fault !== 'none') {
      this.#timer = setTimeout(() => {
        this.#fault = 'none';
        this.#answer = undefined;
      }, durationMs).unref();
    }
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
