// The seam drills use to inject faults into a spearlet. Production code only consults it; drill code installs it.
import type { ErrorCode } from '../errors.ts';

/** What a drill does to one accepted request: hold it back, or answer it with an error instead of running it. */
export type DispatchFault =
  | { readonly delayMs: number }
  | { readonly error: { readonly code: ErrorCode; readonly message: string; readonly retryable: boolean } };

/**
 * Installed with `Spearlet.setFaultHooks()` by drill code only. With no hooks installed (production) sessions pay
 * one undefined check per request.
 */
export interface FaultHooks {
  /** Called for each REQUEST the session would run; undefined runs it normally. */
  beforeDispatch?(method: string): DispatchFault | undefined;
  /**
   * Read on every inbound chunk, write and sweep tick: while true, sessions neither read, write nor judge heartbeats,
   * as if the network black-holed them (nothing is closed; bytes wait in the kernel until it turns false).
   */
  readonly partitioned?: boolean;
}

/** A session's inbound bytes held while a drill partition lasts: the socket is paused, nothing is lost. */
export class PartitionHold {
  #held: Buffer[] | undefined;

  get active(): boolean {
    return this.#held !== undefined;
  }

  /** Starts holding (pausing `socket`) if not yet, and keeps `chunk` for later. */
  hold(socket: { pause(): unknown }, chunk?: Buffer): void {
    if (this.#held === undefined) {
      this.#held = [];
      socket.pause();
    }
    if (chunk !== undefined) this.#held.push(chunk);
  }

  /** Stops holding; returns what arrived meanwhile, oldest first. */
  release(): Buffer[] {
    const held = this.#held ?? [];
    this.#held = undefined;
    return held;
  }
}
