// Drill faults inside a spearlet process, installed through its fault hooks: production classes hold no fault code.
import type { DispatchFault, FaultHooks } from '../spearlet/fault-hooks.ts';
import type { Logger } from '../util/logger.ts';

/** What the faults need from a spearlet. */
export interface FaultTarget {
  setFaultHooks(hooks: FaultHooks | undefined): void;
}

export const SPEARLET_FAULTS = ['partition', 'freeze', 'kill'] as const;
export type SpearletFault = (typeof SPEARLET_FAULTS)[number];

/**
 * `partition` stops reading and answering on every session for `durationMs` without closing anything; `freeze`
 * blocks the whole process (as SIGSTOP would) for `durationMs`; `kill` ends the process at once (as SIGKILL would).
 * freeze and kill start on the next turn of the event loop, so the admin API can answer first.
 */
export class SpearletFaults {
  readonly #target: FaultTarget;
  readonly #log: Logger | undefined;
  readonly #hooks: { partitioned: boolean } & FaultHooks = { partitioned: false };
  #partitionTimer: NodeJS.Timeout | undefined;

  /** `dispatch` (the gray faults, say) decides what happens to each request; the hooks carry its answer. */
  constructor(
    target: FaultTarget,
    logger?: Logger,
    dispatch?: { beforeDispatch(method: string): DispatchFault | undefined },
  ) {
    this.#target = target;
    this.#log = logger;
    if (dispatch !== undefined) this.#hooks.beforeDispatch = (method) => dispatch.beforeDispatch(method);
    target.setFaultHooks(this.#hooks);
  }

  inject(fault: string, durationMs: number): void {
    if (!Number.isSafeInteger(durationMs) || durationMs < 0)
      throw new TypeError('durationMs must be a non-negative integer');
    this.#log?.warn({ fault, durationMs }, 'drill: fault injected');
    switch (fault) {
      case 'partition':
        clearTimeout(this.#partitionTimer);
        this.#hooks.partitioned = true;
        this.#partitionTimer = setTimeout(() => {
          this.#partitionTimer = undefined;
          this.#hooks.partitioned = false;
          this.#log?.warn('drill: partition healed');
        }, durationMs).unref();
        return;
      case 'freeze':
        setTimeout(() => {
          // Blocks this thread: no reads, no timers, no heartbeats, exactly like a stopped process.
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, durationMs);
          this.#log?.warn('drill: freeze over');
        }, 20);
        return;
      case 'kill':
        setTimeout(() => process.kill(process.pid, 'SIGKILL'), 20);
        return;
      default:
        throw new TypeError(`unknown fault ${fault}`);
    }
  }

  /** Heals a running partition and removes the hooks. */
  close(): void {
    clearTimeout(this.#partitionTimer);
    this.#hooks.partitioned = false;
    this.#target.setFaultHooks(undefined);
  }
}
