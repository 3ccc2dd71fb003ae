// Watches /v1/health/service/<name>?passing with blocking queries and turns it into endpoint sets, following
// Consul's client rules (index resets, backoff on errors, rate limit) and serving the last good set while Consul fails.
// After Consul lost its state (its index went backwards), removals are held back for a while: a restarted Consul answers
// empty until every spearlet has re-registered, and believing that would drop healthy connections.
import { ConfigError, MeshError } from '../errors.ts';
import type { ConsulClient } from '../registry/consul-client.ts';
import { DEFAULT_SPEARLET_SERVICE_NAME } from '../registry/spearlet-service.ts';
import { Backoff, type BackoffOptions } from '../util/backoff.ts';
import { silentLogger, type Logger } from '../util/logger.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { endpointFromHealthEntry, sameEndpointSet, sortEndpoints, type Endpoint } from './endpoint.ts';
import { ResolverBase } from './resolver.ts';
import { TokenBucket } from './token-bucket.ts';

export const DEFAULT_WATCH_WAIT_MS = 60_000;
export const DEFAULT_WATCH_MIN_INTERVAL_MS = 500;
/**
 * How long removals are held back after Consul's index went backwards (it lost its state): longer than a spearlet needs to
 * re-register (one pass interval, TTL/3 = 3.3 s by default, or its registration backoff, at most 10 s).
 */
export const DEFAULT_REGISTRY_GAP_HOLD_MS = 15_000;
export const DEFAULT_WATCH_RETRY: Readonly<BackoffOptions> = Object.freeze({
  initialMs: 250,
  multiplier: 1.6,
  maxMs: 30_000,
  jitter: 0.2,
});

export interface ConsulResolverOptions {
  consul: ConsulClient;
  service?: string;
  /** Every tag must be present (Consul ANDs them, case-insensitively). */
  tags?: string[];
  /** go-bexpr filter evaluated by Consul, e.g. `Service.Meta.zone == "eu-1"`. */
  filter?: string;
  /** Longest time one blocking query waits for a change (Consul caps it at 10 minutes). */
  waitMs?: number;
  logger?: Logger;
  /** Rate limit: after a burst of 2, at most one query per this many milliseconds. */
  minIntervalMs?: number;
  /** Backoff between failed queries. */
  retry?: BackoffOptions;
  /** After Consul lost its state (index went backwards), keep endpoints missing from its answers this long (0 = never). */
  registryGapHoldMs?: number;
}

export interface ConsulResolverStats {
  queries: number;
  updates: number;
  failures: number;
  indexResets: number;
}

export class ConsulResolver extends ResolverBase {
  readonly #consul: ConsulClient;
  readonly #service: string;
  readonly #tags: readonly string[];
  readonly #filter: string | undefined;
  readonly #wait: string;
  readonly #bucket: TokenBucket;
  readonly #backoff: Backoff;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  readonly #stats: ConsulResolverStats = { queries: 0, updates: 0, failures: 0, indexResets: 0 };
  #index = 0n;
  #resolvedOnce = false;
  #loop: Promise<void> | undefined;
  readonly #gapHoldMs: number;
  /** The highest index Consul answered with; kept across failures to see whether Consul lost its state. */
  #lastIndex = 0n;
  #holdTimer: NodeJS.Timeout | undefined;
  /** The last set Consul answered, published as is once a hold ends. */
  #latest: readonly Endpoint[] = [];

  constructor(o: ConsulResolverOptions) {
    super();
    const service = o.service ?? DEFAULT_SPEARLET_SERVICE_NAME;
    if (typeof service !== 'string' || service === '') throw new ConfigError('service', 'must be a non-empty string');
    const tags = o.tags ?? [];
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string' && t !== ''))
      throw new ConfigError('tags', 'must be non-empty strings');
    if (o.filter !== undefined && typeof o.filter !== 'string') throw new ConfigError('filter', 'must be a string');
    const waitMs = o.waitMs ?? DEFAULT_WATCH_WAIT_MS;
    if (!Number.isInteger(waitMs) || waitMs < 1 || waitMs > 600_000)
      throw new ConfigError('waitMs', 'must be an integer in 1..600000');
    const minIntervalMs = o.minIntervalMs ?? DEFAULT_WATCH_MIN_INTERVAL_MS;
    if (!Number.isFinite(minIntervalMs) || minIntervalMs < 0) throw new ConfigError('minIntervalMs', 'must be >= 0');
    this.#consul = o.consul;
    this.#service = service;
    this.#tags = Object.freeze([...tags]);
    this.#filter = o.filter === '' ? undefined : o.filter;
    this.#wait = `${waitMs}ms`;
    this.#bucket = new TokenBucket({ intervalMs: minIntervalMs, burst: 2 });
    this.#backoff = new Backoff({ ...DEFAULT_WATCH_RETRY, ...o.retry });
    this.#log = (o.logger ?? silentLogger()).child({ component: 'consul-resolver', service });
    const hold = o.registryGapHoldMs ?? DEFAULT_REGISTRY_GAP_HOLD_MS;
    if (!Number.isInteger(hold) || hold < 0) throw new ConfigError('registryGapHoldMs', 'must be an integer >= 0');
    this.#gapHoldMs = hold;
  }

  stats(): ConsulResolverStats {
    return { ...this.#stats };
  }

  /** Starts the watch loop. Idempotent; does nothing after close(). */
  start(): void {
    if (this.state !== 'idle') return;
    this.setState('resolving');
    this.#loop = this.#run();
  }

  /** Aborts the blocking query in flight and stops; resolves once the loop has ended. Idempotent. */
  async close(): Promise<void> {
    this.#abort.abort();
    clearTimeout(this.#holdTimer);
    this.setState('closed');
    await this.#loop;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        await this.#bucket.take(signal);
      } catch {
        return;
      }
      try {
        this.#stats.queries++;
        const res = await this.#consul.healthService(this.#service, {
          passing: true,
          ...(this.#tags.length > 0 ? { tags: [...this.#tags] } : {}),
          ...(this.#filter !== undefined ? { filter: this.#filter } : {}),
          ...(this.#index > 0n ? { index: this.#index.toString(), wait: this.#wait } : {}),
          signal,
        });
        if (isAborted(signal)) return;
        this.#accept(res.entries.map(endpointFromHealthEntry), res.index);
      } catch (err) {
        if (isAborted(signal)) return;
        this.#stats.failures++;
        // After a failure the next read is a fresh, non-blocking one: if Consul came back empty (restart, snapshot
        // restore) our old index would be ahead of it and a blocking query would sit out its whole wait time.
        this.#index = 0n;
        const error = err instanceof Error ? err : new Error('unknown error');
        if (this.setState('stale', error)) {
          this.#log.warn(
            {
              err: err instanceof MeshError ? { code: err.code, message: err.message } : { message: error.message },
              endpoints: this.current().length,
            },
            'consul watch failing; serving the last known endpoints',
          );
        }
        try {
          await sleep(this.#backoff.next(), undefined, { signal, ref: false });
        } catch {
          return;
        }
      }
    }
  }

  #accept(mapped: readonly (Endpoint | undefined)[], index: string | undefined): void {
    const next = index === undefined ? 0n : BigInt(index);
    // An index below one seen before means Consul lost its state (restart without data, snapshot restore): its
    // answers are incomplete until the spearlets re-register.
    const lostState = this.#resolvedOnce && next < this.#lastIndex;
    if (next > this.#lastIndex || lostState) this.#lastIndex = next;
    if (next === 0n) {
      // Missing or zero index: do not block on it (Consul's rule); the token bucket keeps the loop from spinning.
      if (this.#index !== 0n) this.#stats.indexResets++;
      this.#index = 0n;
    } else if (next < this.#index) {
      this.#log.info(
        { previous: this.#index.toString(), index: index },
        'consul index went backwards; starting a fresh watch',
      );
      this.#stats.indexResets++;
      this.#index = 0n;
    } else {
      this.#index = next;
    }
    const endpoints = mapped.filter((e): e is Endpoint => e !== undefined);
    if (endpoints.length !== mapped.length)
      this.#log.debug({ skipped: mapped.length - endpoints.length }, 'skipped entries without address or port');
    this.#latest = Object.freeze(sortEndpoints(endpoints));
    this.#backoff.reset();
    if (lostState && this.#gapHoldMs > 0) {
      clearTimeout(this.#holdTimer);
      this.#holdTimer = setTimeout(() => {
        this.#holdTimer = undefined;
        this.#publishIfChanged(this.#latest);
      }, this.#gapHoldMs).unref();
      this.#log.info(
        { holdMs: this.#gapHoldMs },
        'consul lost its state; holding back removals while spearlets re-register',
      );
    }
    // During a hold, endpoints missing from the answer stay; new and changed ones are taken at once.
    const sorted =
      this.#holdTimer === undefined
        ? this.#latest
        : Object.freeze(
            sortEndpoints([
              ...this.#latest,
              ...this.current().filter((old) => !this.#latest.some((e) => e.id === old.id)),
            ]),
          );
    this.#publishIfChanged(sorted);
    if (this.setState('ready')) this.#log.info({ endpoints: sorted.length }, 'consul watch ready');
  }

  #publishIfChanged(sorted: readonly Endpoint[]): void {
    if (this.state === 'closed') return;
    if (!this.#resolvedOnce || !sameEndpointSet(this.current(), sorted)) {
      this.#resolvedOnce = true;
      this.#stats.updates++;
      this.#log.debug({ endpoints: sorted.length }, 'endpoint set changed');
      this.publish(sorted);
    }
  }
}

/** A call, so TypeScript does not carry the loop condition's narrowing of `aborted` across awaits. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}
