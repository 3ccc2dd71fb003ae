// The resolver contract shared by the Consul watch and the static list: an endpoint set that changes over time.
import { EventEmitter } from 'node:events';
import type { Endpoint } from './endpoint.ts';

/** `stale`: the registry is failing (unreachable or erroring); current() still returns the last good set. */
export type ResolverState = 'idle' | 'resolving' | 'ready' | 'stale' | 'closed';

export type ResolverUpdateListener = (endpoints: readonly Endpoint[]) => void;
export type ResolverStateListener = (state: ResolverState, error?: Error) => void;

/**
 * `update` fires only when the set really changed (by id, address, port, tags, meta); the array and its endpoints are
 * frozen and sorted by id. `state` fires on every state change, with the error that caused `stale`.
 * After close(): state `closed`, no more events, current() keeps the last set.
 */
export interface Resolver {
  readonly state: ResolverState;
  current(): readonly Endpoint[];
  start(): void;
  close(): Promise<void>;
  on(event: 'update', l: ResolverUpdateListener): this;
  on(event: 'state', l: ResolverStateListener): this;
  off(event: 'update', l: ResolverUpdateListener): this;
  off(event: 'state', l: ResolverStateListener): this;
}

export interface ResolverEvents {
  update: [endpoints: readonly Endpoint[]];
  state: [state: ResolverState, error?: Error];
}

/** Holds the state and the current set, and emits events; subclasses decide when to call #setState / publish. */
export abstract class ResolverBase extends EventEmitter<ResolverEvents> implements Resolver {
  #state: ResolverState = 'idle';
  #endpoints: readonly Endpoint[] = Object.freeze([]);

  get state(): ResolverState {
    return this.#state;
  }

  current(): readonly Endpoint[] {
    return this.#endpoints;
  }

  abstract start(): void;
  abstract close(): Promise<void>;

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Returns false (and does nothing) when the state was already `to` or the resolver is closed. */
  protected setState(to: ResolverState, error?: Error): boolean {
    if (this.#state === to || this.#state === 'closed') return false;
    this.#state = to;
    // A throwing listener is the listener's bug: report it as uncaught instead of breaking the resolver's loop.
    try {
      if (error) this.emit('state', to, error);
      else this.emit('state', to);
    } catch (err) {
      rethrowLater(err);
    }
    return true;
  }

  /** Replaces the set (already sorted and frozen by the caller) and emits `update`. */
  protected publish(endpoints: readonly Endpoint[]): void {
    if (this.#state === 'closed') return;
    this.#endpoints = endpoints;
    try {
      this.emit('update', endpoints);
    } catch (err) {
      rethrowLater(err);
    }
  }
}

function rethrowLater(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}
