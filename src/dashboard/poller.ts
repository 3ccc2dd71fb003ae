// Polls Consul and every spearlet's admin API about once a second and keeps the dashboard's picture of the mesh:
// health, readiness, sessions, tasks, load history; plus agents' client-side metrics. Emits 'update' after each poll.
import { EventEmitter } from 'node:events';
import type { Registry } from 'prom-client';
import type { Logger } from '../util/logger.ts';
import type { ConsulCheck, ConsulInstance, ConsulReader } from './consul-reader.ts';
import { describeGetError, httpGet } from './http-get.ts';
import { parseScrape, quantileMs, ratePerSec, type Scrape } from './prom-text.ts';
import { Series, type SeriesColumns } from './series.ts';

/** 5 minutes of history at one point a second. */
export const HISTORY_POINTS = 300;
/** A spearlet that left Consul stays on the page (as deregistered) this long. */
export const GONE_KEEP_MS = 120_000;

/** An agent exposing client-side metrics: a /metrics URL to scrape, or a registry in this process. */
export type AgentSource =
  { readonly name: string; readonly url: string } | { readonly name: string; readonly registry: Registry };

export interface TaskView {
  readonly id: string;
  readonly command: string;
  readonly state: string;
  readonly protocol: string | null;
  readonly pid: number | null;
  readonly restarts: number;
  readonly startedAt: string;
}

export interface SpearletView {
  readonly id: string;
  readonly serviceId: string;
  readonly address: string;
  readonly port: number;
  readonly zone: string | null;
  readonly version: string | null;
  /** passing | warning | critical | maintenance | deregistered */
  readonly health: string;
  readonly checks: readonly { id: string; status: string; output: string }[];
  readonly admin: string | null;
  readonly adminError: string | null;
  readonly ready: boolean | null;
  readonly readyReasons: readonly string[];
  readonly sessions: number | null;
  readonly inFlight: number | null;
  readonly pid: number | null;
  readonly state: string | null;
  /** null when the spearlet has no task runtime (404) or did not answer. */
  readonly tasks: readonly TaskView[] | null;
  readonly down: boolean;
  /** Why it is down or degraded, for people: "Consul check critical: ...", "admin API unreachable (ECONNREFUSED)". */
  readonly reasons: readonly string[];
  readonly series: SeriesColumns;
}

export interface AgentView {
  readonly name: string;
  readonly source: string;
  readonly error: string | null;
  readonly inFlight: number | null;
  readonly queued: number | null;
  readonly retryBudget: number | null;
  readonly retries: number | null;
  readonly errorsPerSec: number | null;
  readonly endpoints: readonly { spearlet: string; state: string }[];
  readonly series: SeriesColumns;
}

export interface ServiceView {
  readonly name: string;
  readonly tags: readonly string[];
  readonly instances: number;
  readonly passing: number;
  readonly warning: number;
  readonly critical: number;
}

export interface MeshSnapshot {
  readonly at: number;
  readonly consul: { readonly address: string; readonly error: string | null };
  readonly service: string;
  readonly spearlets: readonly SpearletView[];
  readonly services: readonly ServiceView[];
  readonly checks: readonly ConsulCheck[];
  readonly agents: readonly AgentView[];
}

export interface MeshPollerOptions {
  readonly consul: ConsulReader;
  /** Consul service name of the spearlets (default 'spearlet'). */
  readonly service?: string;
  /** Bearer token for the spearlets' admin APIs; stays in this process. */
  readonly adminToken?: string;
  readonly intervalMs?: number;
  readonly agents?: readonly AgentSource[];
  readonly logger?: Logger;
}

export interface MeshPollerEvents {
  update: [snapshot: MeshSnapshot];
}

interface SpearletState {
  series: Series;
  scrape: Scrape | undefined;
  view: SpearletView | undefined;
  goneSince: number | undefined;
}

interface AgentState {
  series: Series;
  scrape: Scrape | undefined;
}

const RANK: Record<string, number> = { passing: 0, warning: 1, critical: 2 };
const SPEARLET_REQUESTS = 'spear_mesh_requests_total';
const SPEARLET_DURATION = 'spear_mesh_request_duration_seconds';
const CLIENT_CALLS = 'spear_mesh_client_calls_total';
const CLIENT_DURATION = 'spear_mesh_client_call_duration_seconds';
const CLIENT_STATE = 'spear_mesh_client_endpoint_state';

function worstHealth(checks: readonly ConsulCheck[]): string {
  if (checks.some((c) => c.checkId.startsWith('_service_maintenance') || c.checkId === '_node_maintenance'))
    return 'maintenance';
  let result = 'passing';
  for (const c of checks) if ((RANK[c.status] ?? 2) > (RANK[result] ?? 0)) result = c.status;
  return result;
}

function json(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function num(v: unknown, key: string): number | null {
  if (typeof v !== 'object' || v === null) return null;
  const f = (v as Record<string, unknown>)[key];
  return typeof f === 'number' ? f : null;
}

function parseTasks(body: unknown): TaskView[] | null {
  const list = (body as { tasks?: unknown } | null)?.tasks;
  if (!Array.isArray(list)) return null;
  return list.map((raw): TaskView => {
    const t = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    return {
      id: typeof t.id === 'string' ? t.id : '?',
      command: typeof t.command === 'string' ? t.command : '',
      state: typeof t.state === 'string' ? t.state : '?',
      protocol: t.protocol === 'legacy' || t.protocol === 'mesh' ? t.protocol : null,
      pid: typeof t.pid === 'number' ? t.pid : null,
      restarts: typeof t.restarts === 'number' ? t.restarts : 0,
      startedAt: typeof t.startedAt === 'string' ? t.startedAt : '',
    };
  });
}

export class MeshPoller extends EventEmitter<MeshPollerEvents> {
  readonly #consul: ConsulReader;
  readonly #service: string;
  readonly #adminHeaders: Record<string, string>;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #agents: readonly AgentSource[];
  readonly #log: Logger | undefined;
  readonly #spearlets = new Map<string, SpearletState>();
  readonly #agentState = new Map<string, AgentState>();
  #snapshot: MeshSnapshot;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(o: MeshPollerOptions) {
    super();
    this.#consul = o.consul;
    this.#service = o.service ?? 'spearlet';
    this.#adminHeaders = o.adminToken !== undefined ? { authorization: `Bearer ${o.adminToken}` } : {};
    this.#intervalMs = o.intervalMs ?? 1000;
    // Leaves time to publish within the interval: a dead spearlet is reported on the next poll.
    this.#timeoutMs = Math.max(200, Math.min(800, Math.round(this.#intervalMs * 0.8)));
    this.#agents = o.agents ?? [];
    this.#log = o.logger;
    this.#snapshot = {
      at: Date.now(),
      consul: { address: o.consul.address, error: null },
      service: this.#service,
      spearlets: [],
      services: [],
      checks: [],
      agents: [],
    };
  }

  get snapshot(): MeshSnapshot {
    return this.#snapshot;
  }

  /** Polls now, then every intervalMs (measured from the end of one poll to the start of the next). */
  start(): void {
    if (this.#closed || this.#running !== undefined) return;
    const loop = async (): Promise<void> => {
      await this.pollOnce().catch((err: unknown) => this.#log?.warn({ err }, 'dashboard poll failed'));
      if (this.#closed) return;
      this.#timer = setTimeout(() => {
        this.#running = loop();
      }, this.#intervalMs);
      this.#timer.unref();
    };
    this.#running = loop();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#running;
  }

  /** One poll of Consul, every spearlet and every agent; publishes and returns the new snapshot. */
  async pollOnce(): Promise<MeshSnapshot> {
    const now = Date.now();
    let consulError: string | null = null;
    const [instances, catalog, checks] = await Promise.all([
      this.#consul.healthService(this.#service).catch((err: unknown) => {
        consulError = describeGetError(err);
        return null;
      }),
      this.#consul.services().catch(() => null),
      this.#consul.checks().catch(() => null),
    ]);
    const seen = new Set<string>();
    const views: SpearletView[] = [];
    if (instances !== null) {
      views.push(
        ...(await Promise.all(
          instances.map((inst) => {
            seen.add(inst.serviceId);
            return this.#pollSpearlet(inst, now);
          }),
        )),
      );
    }
    // Spearlets Consul no longer lists (or all of them while Consul is unreachable) keep their last view a while.
    for (const [serviceId, st] of this.#spearlets) {
      if (seen.has(serviceId) || st.view === undefined) continue;
      if (instances === null) {
        views.push(st.view);
        continue;
      }
      st.goneSince ??= now;
      if (now - st.goneSince > GONE_KEEP_MS) {
        this.#spearlets.delete(serviceId);
        continue;
      }
      views.push({
        ...st.view,
        health: 'deregistered',
        down: true,
        reasons: ['no longer registered in Consul'],
        series: st.series.columns(),
      });
    }
    views.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

    const services: ServiceView[] = [];
    if (catalog !== null) {
      for (const [name, tags] of Object.entries(catalog).sort(([a], [b]) => (a < b ? -1 : 1))) {
        const own = (checks ?? []).filter((c) => c.serviceName === name);
        const ids = new Set(own.map((c) => c.serviceId));
        services.push({
          name,
          tags,
          instances: ids.size,
          passing: own.filter((c) => c.status === 'passing').length,
          warning: own.filter((c) => c.status === 'warning').length,
          critical: own.filter((c) => c.status === 'critical').length,
        });
      }
    }
    const agents = await Promise.all(this.#agents.map((a) => this.#pollAgent(a, now)));
    this.#snapshot = {
      at: now,
      consul: { address: this.#consul.address, error: consulError },
      service: this.#service,
      spearlets: views,
      services,
      checks: checks ?? this.#snapshot.checks,
      agents,
    };
    if (!this.#closed) this.emit('update', this.#snapshot);
    return this.#snapshot;
  }

  async #pollSpearlet(inst: ConsulInstance, now: number): Promise<SpearletView> {
    let st = this.#spearlets.get(inst.serviceId);
    if (st === undefined) {
      st = { series: new Series(HISTORY_POINTS), scrape: undefined, view: undefined, goneSince: undefined };
      this.#spearlets.set(inst.serviceId, st);
    }
    st.goneSince = undefined;
    const health = worstHealth(inst.checks);
    const reasons: string[] = [];
    for (const c of inst.checks) {
      if (c.status === 'critical')
        reasons.push(
          `Consul check critical: ${c.name !== '' ? c.name : c.checkId}${c.output !== '' ? ` (${c.output})` : ''}`,
        );
    }
    const port = inst.meta.admin_port;
    const host = inst.address.includes(':') ? `[${inst.address}]` : inst.address;
    const admin = port !== undefined && port !== '' ? `http://${host}:${port}` : null;
    let adminError: string | null = null;
    let ready: boolean | null = null;
    let readyReasons: string[] = [];
    let sessions: number | null = null;
    let inFlight: number | null = null;
    let pid: number | null = null;
    let state: string | null = null;
    let tasks: TaskView[] | null = null;
    let rps: number | null = null;
    let p50: number | null = null;
    let p99: number | null = null;
    if (admin !== null) {
      const get = (path: string, auth: boolean) =>
        httpGet(new URL(path, admin), { timeoutMs: this.#timeoutMs, ...(auth ? { headers: this.#adminHeaders } : {}) });
      const [rdy, metrics, info, sess, tsk] = await Promise.allSettled([
        get('/ready', false),
        get('/metrics', true),
        get('/v1/info', true),
        get('/v1/sessions', true),
        get('/v1/tasks', true),
      ]);
      if (rdy.status === 'rejected') {
        adminError = `admin API unreachable (${describeGetError(rdy.reason)})`;
      } else {
        const body = json(rdy.value.text) as { reasons?: unknown } | null;
        ready = rdy.value.status === 200;
        readyReasons = Array.isArray(body?.reasons)
          ? body.reasons.filter((r): r is string => typeof r === 'string')
          : [];
      }
      const refused = [metrics, info, sess].find(
        (r) => r.status === 'fulfilled' && (r.value.status === 401 || r.value.status === 403),
      );
      if (adminError === null && refused?.status === 'fulfilled')
        adminError = `admin API refused the dashboard (HTTP ${refused.value.status}: check --admin-token-file)`;
      if (metrics.status === 'fulfilled' && metrics.value.status === 200) {
        const scrape = parseScrape(metrics.value.text, now);
        rps = ratePerSec(st.scrape, scrape, SPEARLET_REQUESTS);
        p50 = quantileMs(st.scrape, scrape, SPEARLET_DURATION, 0.5);
        p99 = quantileMs(st.scrape, scrape, SPEARLET_DURATION, 0.99);
        st.scrape = scrape;
      }
      if (info.status === 'fulfilled' && info.value.status === 200) {
        const body = json(info.value.text) as { state?: unknown } | null;
        pid = num(body, 'pid');
        inFlight = num(body, 'inFlight');
        state = typeof body?.state === 'string' ? body.state : null;
      }
      if (sess.status === 'fulfilled' && sess.value.status === 200) {
        const list = (json(sess.value.text) as { sessions?: unknown } | null)?.sessions;
        if (Array.isArray(list)) sessions = list.length;
      }
      if (tsk.status === 'fulfilled' && tsk.value.status === 200) tasks = parseTasks(json(tsk.value.text));
    } else {
      adminError = 'no admin_port in Consul meta';
    }
    if (adminError !== null) reasons.push(adminError);
    if (ready === false) reasons.push(`not ready${readyReasons.length > 0 ? `: ${readyReasons.join(', ')}` : ''}`);
    st.series.push({ t: now, rps, p50, p99 });
    const view: SpearletView = {
      id: inst.meta.spearlet_id ?? inst.serviceId,
      serviceId: inst.serviceId,
      address: inst.address,
      port: inst.port,
      zone: inst.meta.zone ?? null,
      version: inst.meta.version ?? null,
      health,
      checks: inst.checks.map((c) => ({ id: c.checkId, status: c.status, output: c.output })),
      admin,
      adminError,
      ready,
      readyReasons,
      sessions,
      inFlight,
      pid,
      state,
      tasks,
      down: health === 'critical' || (adminError !== null && adminError.startsWith('admin API unreachable')),
      reasons,
      series: st.series.columns(),
    };
    st.view = view;
    return view;
  }

  async #pollAgent(a: AgentSource, now: number): Promise<AgentView> {
    let st = this.#agentState.get(a.name);
    if (st === undefined) {
      st = { series: new Series(HISTORY_POINTS), scrape: undefined };
      this.#agentState.set(a.name, st);
    }
    let text: string | null = null;
    let error: string | null = null;
    try {
      if ('registry' in a) text = await a.registry.metrics();
      else {
        const res = await httpGet(new URL(a.url), { timeoutMs: this.#timeoutMs });
        if (res.status === 200) text = res.text;
        else error = `HTTP ${res.status}`;
      }
    } catch (err) {
      error = `metrics unreachable (${describeGetError(err)})`;
    }
    const base = { name: a.name, source: 'registry' in a ? 'in process' : a.url };
    if (text === null) {
      st.series.push({ t: now, rps: null, p50: null, p99: null });
      return {
        ...base,
        error,
        inFlight: null,
        queued: null,
        retryBudget: null,
        retries: null,
        errorsPerSec: null,
        endpoints: [],
        series: st.series.columns(),
      };
    }
    const scrape = parseScrape(text, now, [CLIENT_CALLS, CLIENT_STATE]);
    const okNow = scrape.labelled.get(CLIENT_CALLS)?.find((s) => s.labels.code === 'OK')?.value ?? 0;
    const okBefore = st.scrape?.labelled.get(CLIENT_CALLS)?.find((s) => s.labels.code === 'OK')?.value ?? 0;
    const rate = ratePerSec(st.scrape, scrape, CLIENT_CALLS);
    const dt = st.scrape === undefined ? 0 : (now - st.scrape.atMs) / 1000;
    const errorsPerSec = rate === null || dt <= 0 ? null : Math.max(0, rate - (okNow - okBefore) / dt);
    st.series.push({
      t: now,
      rps: rate,
      p50: quantileMs(st.scrape, scrape, CLIENT_DURATION, 0.5),
      p99: quantileMs(st.scrape, scrape, CLIENT_DURATION, 0.99),
    });
    st.scrape = scrape;
    const endpoints = (scrape.labelled.get(CLIENT_STATE) ?? [])
      .filter((s) => s.value === 1)
      .map((s) => ({ spearlet: s.labels.spearlet ?? '?', state: s.labels.state ?? '?' }))
      .sort((x, y) => (x.spearlet < y.spearlet ? -1 : 1));
    return {
      ...base,
      error: null,
      inFlight: scrape.sums.get('spear_mesh_client_requests_in_flight') ?? null,
      queued: scrape.sums.get('spear_mesh_client_requests_queued') ?? null,
      retryBudget: scrape.sums.get('spear_mesh_client_retry_budget_available') ?? null,
      retries: scrape.sums.get('spear_mesh_client_retries_total') ?? null,
      errorsPerSec: errorsPerSec === null ? null : Math.round(errorsPerSec * 100) / 100,
      endpoints,
      series: st.series.columns(),
    };
  }
}
