// Client-side Prometheus metrics of a MeshClient, so agents are scraped like spearlets. MeshClient feeds it through
// three calls (attempt ended, call ended, endpoints changed); everything else is read from the client at scrape time.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Latency buckets in seconds, the same as the spearlet's spear_mesh_request_duration_seconds. */
export const CLIENT_DURATION_BUCKETS_SEC: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** What the metrics read from the client at scrape time (a subset of MeshClient.stats()). */
export interface ClientMetricsSnapshot {
  readonly retried: number;
  readonly rerouted: number;
  /** Hedge attempts sent. */
  readonly hedged?: number;
  readonly inFlight: number;
  readonly queued: number;
  readonly retryBudgetAvailable: number;
  readonly endpoints: readonly ClientEndpointView[];
}

export interface ClientEndpointView {
  readonly id: string;
  readonly state: string;
  readonly connections: number;
  readonly outstanding: number;
  readonly ejected: boolean;
}

/** Every name this module registers, so close() can take them out of a shared registry again. */
export const CLIENT_METRIC_NAMES = [
  'spear_mesh_client_calls_total',
  'spear_mesh_client_call_duration_seconds',
  'spear_mesh_client_attempts_total',
  'spear_mesh_client_attempt_duration_seconds',
  'spear_mesh_client_retries_total',
  'spear_mesh_client_retry_budget_available',
  'spear_mesh_client_requests_in_flight',
  'spear_mesh_client_requests_queued',
  'spear_mesh_client_endpoint_state',
  'spear_mesh_client_endpoint_connections',
  'spear_mesh_client_endpoint_ejected',
  'spear_mesh_client_ejections_total',
] as const;

const STATES = ['IDLE', 'CONNECTING', 'READY', 'DRAINING', 'TRANSIENT_FAILURE', 'CLOSED'] as const;

/** Per spearlet (or per final code) counts bumped on the request path and folded into the counters at scrape time. */
class CodeTally {
  readonly #counts = new Map<string, number>();
  inc(code: string): void {
    this.#counts.set(code, (this.#counts.get(code) ?? 0) + 1);
  }
  entries(): IterableIterator<[string, number]> {
    return this.#counts.entries();
  }
}

interface SpearletRecord {
  readonly labels: { spearlet: string };
  readonly codes: CodeTally;
  ejections: number;
  ejected: boolean;
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code !== '' ? code : 'UNKNOWN';
}

export class ClientMetrics {
  readonly #registry: Registry;
  readonly #spearlets = new Map<string, SpearletRecord>();
  readonly #calls = new CodeTally();
  readonly #callDuration: Histogram;
  readonly #attemptDuration: Histogram<'spearlet'>;
  #closed = false;

  /** Registers the metrics in `registry`; `snapshot` is called at scrape time. Throws if the names are taken. */
  constructor(registry: Registry, snapshot: () => ClientMetricsSnapshot) {
    this.#registry = registry;
    const registers = [registry];
    const spearlets = this.#spearlets;
    const calls = this.#calls;
    new Counter({
      name: 'spear_mesh_client_calls_total',
      help: 'Calls to MeshClient.request() by final result: OK or the error code',
      labelNames: ['code'],
      registers,
      collect() {
        this.reset();
        for (const [code, n] of calls.entries()) this.inc({ code }, n);
      },
    });
    this.#callDuration = new Histogram({
      name: 'spear_mesh_client_call_duration_seconds',
      help: 'Time of a whole MeshClient.request() call, waiting and retries included',
      buckets: [...CLIENT_DURATION_BUCKETS_SEC],
      registers,
    });
    new Counter({
      name: 'spear_mesh_client_attempts_total',
      help: 'Attempts sent to each spearlet by result: OK or the error code',
      labelNames: ['spearlet', 'code'],
      registers,
      collect() {
        this.reset();
        for (const rec of spearlets.values()) {
          for (const [code, n] of rec.codes.entries()) this.inc({ spearlet: rec.labels.spearlet, code }, n);
        }
      },
    });
    this.#attemptDuration = new Histogram({
      name: 'spear_mesh_client_attempt_duration_seconds',
      help: 'Time of one attempt on one spearlet, from write to answer or failure',
      labelNames: ['spearlet'],
      buckets: [...CLIENT_DURATION_BUCKETS_SEC],
      registers,
    });
    // One snapshot per scrape serves every gauge below: the first collect() of a scrape takes it, and it is dropped
    // once the scrape's turn of the event loop ends (prom-client collects every metric in microtasks of one turn), so
    // the next scrape never reads a stale state, however soon it comes.
    let cached: ClientMetricsSnapshot | undefined;
    const snap = (): ClientMetricsSnapshot => {
      if (cached === undefined) {
        cached = snapshot();
        setImmediate(() => {
          cached = undefined;
        }).unref();
      }
      return cached;
    };
    new Counter({
      name: 'spear_mesh_client_retries_total',
      help: 'Re-sends: kind=retry (may have run, taken from the retry budget), kind=reroute (did not run) or kind=hedge (a second attempt while the first was in flight, budgeted)',
      labelNames: ['kind'],
      registers,
      collect() {
        const s = snap();
        this.reset();
        this.inc({ kind: 'retry' }, s.retried);
        this.inc({ kind: 'reroute' }, s.rerouted);
        this.inc({ kind: 'hedge' }, s.hedged ?? 0);
      },
    });
    const gauge = (name: string, help: string, read: (s: ClientMetricsSnapshot) => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(snap()));
        },
      });
    };
    gauge('spear_mesh_client_retry_budget_available', 'Retries the retry budget allows right now', (s) => {
      return s.retryBudgetAvailable;
    });
    gauge('spear_mesh_client_requests_in_flight', 'Calls to request() not settled yet', (s) => s.inFlight);
    gauge('spear_mesh_client_requests_queued', 'Requests waiting for a usable spearlet', (s) => s.queued);
    new Gauge({
      name: 'spear_mesh_client_endpoint_state',
      help: 'Connection state of each spearlet: 1 for its current state, 0 for the others',
      labelNames: ['spearlet', 'state'],
      registers,
      collect() {
        this.reset();
        for (const e of snap().endpoints) {
          for (const state of STATES) this.set({ spearlet: e.id, state }, e.state === state ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'spear_mesh_client_endpoint_connections',
      help: 'Connections open or opening to each spearlet',
      labelNames: ['spearlet'],
      registers,
      collect() {
        this.reset();
        for (const e of snap().endpoints) this.set({ spearlet: e.id }, e.connections);
      },
    });
    new Gauge({
      name: 'spear_mesh_client_endpoint_ejected',
      help: 'Whether outlier detection currently ejects the spearlet (1) or not (0)',
      labelNames: ['spearlet'],
      registers,
      collect() {
        this.reset();
        for (const e of snap().endpoints) this.set({ spearlet: e.id }, e.ejected ? 1 : 0);
      },
    });
    new Counter({
      name: 'spear_mesh_client_ejections_total',
      help: 'Times outlier detection ejected each spearlet',
      labelNames: ['spearlet'],
      registers,
      collect() {
        this.reset();
        for (const rec of spearlets.values()) this.inc(rec.labels, rec.ejections);
      },
    });
  }

  /** One attempt on `spearletId` ended (at `now`; it began at `startedAt`, both performance.now()); `err` when it failed. */
  attempt(spearletId: string, startedAt: number, err: unknown, now: number): void {
    const rec = this.#record(spearletId);
    rec.codes.inc(err === undefined ? 'OK' : codeOf(err));
    this.#attemptDuration.observe(rec.labels, (now - startedAt) / 1000);
  }

  /** A call to request() settled (`startedAt` and `now` are performance.now() readings). */
  call(startedAt: number, err: unknown, now: number): void {
    this.#calls.inc(err === undefined ? 'OK' : codeOf(err));
    this.#callDuration.observe((now - startedAt) / 1000);
  }

  /** The balancer published a new picker: counts endpoints that went from usable to ejected. */
  endpointsChanged(endpoints: readonly ClientEndpointView[]): void {
    for (const e of endpoints) {
      const rec = this.#record(e.id);
      if (e.ejected && !rec.ejected) rec.ejections++;
      rec.ejected = e.ejected;
    }
  }

  /** Removes this client's metrics from the registry (another client may then register there). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const name of CLIENT_METRIC_NAMES) this.#registry.removeSingleMetric(name);
  }

  #record(id: string): SpearletRecord {
    let rec = this.#spearlets.get(id);
    if (rec === undefined) {
      rec = { labels: { spearlet: id }, codes: new CodeTally(), ejections: 0, ejected: false };
      this.#spearlets.set(id, rec);
    }
    return rec;
  }
}
