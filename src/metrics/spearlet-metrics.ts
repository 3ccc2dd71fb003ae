// Prometheus metrics of one spearlet, in a registry of its own (several spearlets may share a process in tests).
import { Counter, Gauge, Registry } from 'prom-client';
import { TallyHistogram } from './tally-histogram.ts';

export const REQUEST_DURATION_BUCKETS_SEC: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

export type HandshakeResult = 'ok' | 'auth_failed' | 'forbidden' | 'invalid' | 'timeout' | 'limit' | 'draining';
export type ConnectionRejection = 'invalid_preface' | 'limit' | 'tls';

/**
 * A number the request path bumps directly; its prom-client metric reads it at scrape time (`collect`), so a request
 * pays an addition instead of prom-client's label merge and hash.
 */
export class Tally {
  value = 0;
  inc(n = 1): void {
    this.value += n;
  }
  dec(n = 1): void {
    this.value -= n;
  }
}

/** Per method and status tallies for spear_mesh_requests_total, folded into the counter at scrape time. */
export class RequestTally {
  /** method -> status -> count: no key string is built per request. */
  readonly #counts = new Map<string, Map<number, Tally>>();
  count(method: string, status: number): void {
    this.cell(method, status).value++;
  }
  /** The count of one method and status, created on first use; keep it to count without map lookups. */
  cell(method: string, status: number): Tally {
    let byStatus = this.#counts.get(method);
    if (byStatus === undefined) {
      byStatus = new Map();
      this.#counts.set(method, byStatus);
    }
    let cell = byStatus.get(status);
    if (cell === undefined) {
      cell = new Tally();
      byStatus.set(status, cell);
    }
    return cell;
  }
  *entries(): Generator<{ method: string; status: string; n: number }> {
    for (const [method, byStatus] of this.#counts) {
      for (const [status, cell] of byStatus) yield { method, status: String(status), n: cell.value };
    }
  }
}

export class SpearletMetrics {
  readonly registry: Registry;
  readonly connectionsOpen: Gauge;
  readonly connectionsTotal: Counter<'protocol'>;
  readonly connectionsRejected: Counter<'reason'>;
  readonly sessionsOpen: Gauge;
  readonly handshakes: Counter<'result'>;
  readonly requests = new RequestTally();
  readonly requestDuration: TallyHistogram<'method'>;
  readonly inFlight = new Tally();
  readonly heartbeatsMissed: Counter;
  readonly heartbeatTimeouts: Counter;
  readonly bytesIn = new Tally();
  readonly bytesOut = new Tally();
  readonly goaways: Counter<'reason'>;

  constructor(labels: { spearlet: string; zone?: string | undefined }) {
    this.registry = new Registry();
    this.registry.setDefaultLabels({
      spearlet: labels.spearlet,
      ...(labels.zone !== undefined ? { zone: labels.zone } : {}),
    });
    const registers = [this.registry];
    this.connectionsOpen = new Gauge({
      name: 'spear_mesh_connections_open',
      help: 'Open client connections (all protocols, including those still in the handshake)',
      registers,
    });
    this.connectionsTotal = new Counter({
      name: 'spear_mesh_connections_total',
      help: 'Accepted connections by protocol found in the preface',
      labelNames: ['protocol'],
      registers,
    });
    this.connectionsRejected = new Counter({
      name: 'spear_mesh_connections_rejected_total',
      help: 'Connections closed before a session started, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.sessionsOpen = new Gauge({ name: 'spear_mesh_sessions_open', help: 'Authenticated mesh sessions', registers });
    this.handshakes = new Counter({
      name: 'spear_mesh_handshakes_total',
      help: 'Mesh handshakes by result',
      labelNames: ['result'],
      registers,
    });
    const requests = this.requests;
    new Counter({
      name: 'spear_mesh_requests_total',
      help: 'Requests answered, by method and status',
      labelNames: ['method', 'status'],
      registers,
      collect() {
        this.reset();
        for (const { method, status, n } of requests.entries()) this.inc({ method, status }, n);
      },
    });
    this.requestDuration = new TallyHistogram({
      name: 'spear_mesh_request_duration_seconds',
      help: 'Time from REQUEST receipt to RESPONSE (synchronous answers to one received chunk are timed together, when it is handled)',
      label: 'method',
      buckets: REQUEST_DURATION_BUCKETS_SEC,
      registry: this.registry,
    });
    const inFlight = this.inFlight;
    new Gauge({
      name: 'spear_mesh_requests_in_flight',
      help: 'Requests being handled',
      registers,
      collect() {
        this.set(inFlight.value);
      },
    });
    this.heartbeatsMissed = new Counter({
      name: 'spear_mesh_heartbeats_missed_total',
      help: 'Heartbeat intervals that passed with nothing received from the peer',
      registers,
    });
    this.heartbeatTimeouts = new Counter({
      name: 'spear_mesh_heartbeat_timeouts_total',
      help: 'Sessions closed because the peer was silent for the heartbeat timeout',
      registers,
    });
    for (const [name, help, tally] of [
      ['spear_mesh_bytes_in_total', 'Bytes received on client connections', this.bytesIn],
      ['spear_mesh_bytes_out_total', 'Bytes written to client connections', this.bytesOut],
    ] as const) {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(tally.value);
        },
      });
    }
    this.goaways = new Counter({
      name: 'spear_mesh_goaways_total',
      help: 'GOAWAY frames sent, by reason',
      labelNames: ['reason'],
      registers,
    });
  }

  /** The exposition text for GET /metrics. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
