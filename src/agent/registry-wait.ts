// The start-up wait for the registry: until the resolver first answers, requests queue; when it has not answered
// within registryWaitMs they fail with REGISTRY_UNAVAILABLE instead of sitting out their whole deadline.
import type { ResolverState } from '../discovery/resolver.ts';
import { MeshError, RegistryUnavailableError } from '../errors.ts';

export class RegistryWait {
  readonly #waitMs: number;
  readonly #onGiveUp: () => void;
  #answered = false;
  #lastError: Error | undefined;
  #gaveUp: RegistryUnavailableError | undefined;
  #timer: NodeJS.Timeout | undefined;

  /** `onGiveUp` runs once when the wait ends without an answer (the owner fails what waits). */
  constructor(waitMs: number, onGiveUp: () => void) {
    this.#waitMs = waitMs;
    this.#onGiveUp = onGiveUp;
  }

  /** Starts the wait unless the resolver already answered. */
  start(state: ResolverState): void {
    if (state === 'ready') {
      this.#answered = true;
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#answered) return;
      const last = this.#lastError;
      const code = last instanceof MeshError && last.code !== 'REGISTRY_UNAVAILABLE' ? `${last.code}: ` : '';
      const why = last === undefined ? '' : ` (${code}${last.message})`;
      this.#gaveUp = new RegistryUnavailableError(`no answer from the registry within ${this.#waitMs} ms${why}`, last);
      this.#onGiveUp();
    }, this.#waitMs);
    // Requests waiting in the queue keep the process alive; this timer alone must not.
    this.#timer.unref();
  }

  /** Follows the resolver: its first `ready` ends the wait for good; `stale` records why it fails. */
  onState(state: ResolverState, err: Error | undefined): void {
    if (state === 'ready') {
      this.#answered = true;
      this.#gaveUp = undefined;
      this.close();
    } else if (state === 'stale' && err !== undefined) {
      this.#lastError = err;
    }
  }

  /** REGISTRY_UNAVAILABLE once the wait ended and the registry has still not answered. */
  get error(): RegistryUnavailableError | undefined {
    return this.#gaveUp;
  }

  /** The error for a request whose own deadline came before the registry's first answer. */
  expired(method: string, waitedMs: number): RegistryUnavailableError | undefined {
    if (this.#answered) return undefined;
    return (
      this.#gaveUp ??
      new RegistryUnavailableError(
        `request '${method}' waited ${waitedMs} ms and the registry has not answered yet`,
        this.#lastError,
      )
    );
  }

  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
