// The local Consul agent's state (not a SPEAR agent): services and checks registered through /v1/agent, their TTL timers and probes,
// critical-time tracking, deferred output sync, maintenance checks and the DeregisterCriticalServiceAfter reaper.
// Every change is synced to the catalog at once, as Consul's syncChanges does after an agent write.
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { Catalog } from './catalog.ts';
import type { Clock, TimerHandle } from './clock.ts';
import { badRequest, notFound, serverError } from './http-error.ts';
import { probeHttp, probeTcp, type ProbeResult } from './probes.ts';
import { bool, num, str, strMap, strs, sub, subs, type Decoded } from './decode.ts';
import {
  CHECK_REAP_INTERVAL_MS,
  CHECK_UPDATE_INTERVAL_MS,
  DEFAULT_NODE_MAINT_REASON,
  DEFAULT_SERVICE_MAINT_REASON,
  NODE_MAINT_CHECK_ID,
  SERVICE_MAINT_PREFIX,
  buildLocalCheck,
  isEmptyCheck,
  maintenanceCheck,
  sortKeys,
  truncateOutput,
  unknownCheck,
  unknownService,
  validateCheckType,
  validateMeta,
  type LocalCheck,
} from './local-checks.ts';
import {
  isHealthStatus,
  type CheckRec,
  type HealthStatus,
  type ServiceRec,
  type TaggedAddress,
  type Unindexed,
} from './types.ts';

export { NODE_MAINT_CHECK_ID, sortKeys, unknownService } from './local-checks.ts';

export interface LocalAgentOptions {
  catalog: Catalog;
  clock: Clock;
  logger: Logger;
  nodeName: string;
  datacenter: string;
  random?: () => number;
}

export class LocalAgent {
  readonly #catalog: Catalog;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #node: string;
  readonly #random: () => number;
  readonly #services = new Map<string, Unindexed<ServiceRec>>();
  readonly #checks = new Map<string, LocalCheck>();
  #reaper: TimerHandle | undefined;
  #closed = false;

  constructor(options: LocalAgentOptions) {
    this.#catalog = options.catalog;
    this.#clock = options.clock;
    this.#log = options.logger;
    this.#node = options.nodeName;
    this.#random = options.random ?? Math.random;
    this.#armReaper();
  }

  // ---- reads -------------------------------------------------------------------------------

  services(): Unindexed<ServiceRec>[] {
    return [...this.#services.values()].sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0));
  }

  service(id: string): Unindexed<ServiceRec> | undefined {
    return this.#services.get(id);
  }

  /** Local check records, as /v1/agent/checks shows them (local output, not yet synced output included). */
  checks(): Unindexed<CheckRec>[] {
    return [...this.#checks.values()].map((c) => c.rec);
  }

  // ---- services ----------------------------------------------------------------------------

  /** PUT /v1/agent/service/register, after body decoding. */
  registerService(d: Decoded, replaceExistingChecks: boolean): void {
    const name = str(d, 'Name');
    if (name === '') throw badRequest('Missing service name');
    const id = str(d, 'ID') === '' ? name : str(d, 'ID');
    // Consul's order: address, weights, meta, check types, check status.
    const address = str(d, 'Address');
    if (address === '0.0.0.0' || address === '::' || address === '[::]') throw badRequest('Invalid service address');
    const weights = sub(d, 'Weights');
    if (weights !== undefined) {
      if (num(weights, 'Passing') < 1) throw badRequest('Invalid Weights: Passing must be greater than 0');
      if (num(weights, 'Warning') < 0) throw badRequest('Invalid Weights: Warning must be greater or equal than 0');
      if (num(weights, 'Passing') > 65535 || num(weights, 'Warning') > 65535) {
        throw badRequest('Invalid Weights: DNS Weight must be between 0 and 65535');
      }
    }
    const meta = strMap(d, 'Meta') ?? {};
    validateMeta(meta);
    const checkDefs: Decoded[] = [];
    const single = sub(d, 'Check');
    if (single !== undefined && !isEmptyCheck(single)) checkDefs.push(single);
    for (const c of subs(d, 'Checks') ?? []) checkDefs.push(c);
    for (const c of checkDefs) {
      const err = validateCheckType(c);
      if (err !== undefined) throw badRequest(`Invalid check: ${err}`);
    }
    for (const c of checkDefs) {
      const status = str(c, 'Status');
      if (status !== '' && !isHealthStatus(status))
        throw badRequest("Status for checks must 'passing', 'warning', 'critical'");
    }
    const port = num(d, 'Port');
    const tagged: Record<string, TaggedAddress> = {};
    const rawTagged = sub(d, 'TaggedAddresses') as Record<string, Decoded> | undefined;
    for (const [k, v] of Object.entries(rawTagged ?? {}))
      tagged[k] = { Address: str(v, 'Address'), Port: num(v, 'Port') };
    // agent.validateService (a 500, like every AddService error); it checks lan_ipv6 twice and never wan_ipv6.
    for (const [key, want] of [
      ['lan_ipv4', 4],
      ['wan_ipv4', 4],
      ['lan_ipv6', 6],
    ] as const) {
      const ta = tagged[key];
      if (ta !== undefined && isIP(ta.Address) !== want) {
        throw serverError(`Service tagged address ${JSON.stringify(key)} must be a valid ipv${want} address`);
      }
    }
    for (const c of checkDefs) {
      if ((strs(c, 'ScriptArgs')?.length ?? 0) > 0) {
        throw serverError(
          "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true",
        );
      }
    }
    const ipKind = isIP(address);
    if (ipKind !== 0) {
      const suffix = ipKind === 4 ? 'ipv4' : 'ipv6';
      for (const scope of ['lan', 'wan']) {
        const key = `${scope}_${suffix}`;
        tagged[key] ??= { Address: address, Port: port };
      }
    }
    const svc: Unindexed<ServiceRec> = {
      Kind: str(d, 'Kind'),
      ID: id,
      Service: name,
      Tags: strs(d, 'Tags') ?? [],
      Address: address,
      TaggedAddresses: sortKeys(tagged),
      Meta: sortKeys(meta),
      Port: port,
      Weights:
        weights === undefined
          ? { Passing: 1, Warning: 1 }
          : { Passing: num(weights, 'Passing'), Warning: num(weights, 'Warning') },
      EnableTagOverride: bool(d, 'EnableTagOverride'),
      Proxy: d.Proxy ?? { Mode: '', MeshGateway: {}, Expose: {} },
      Connect: d.Connect ?? {},
    };

    // Snapshot of the current check states: re-registering keeps status and output of checks that already exist.
    const snapshot = new Map<string, { Status: HealthStatus; Output: string }>();
    for (const [cid, c] of this.#checks) snapshot.set(cid, { Status: c.rec.Status, Output: c.rec.Output });
    const existing = new Set(
      [...this.#checks.values()].filter((c) => c.rec.ServiceID === id).map((c) => c.rec.CheckID),
    );

    this.#services.set(id, svc);
    this.#catalog.ensureService(svc);

    checkDefs.forEach((def, i) => {
      let cid = str(def, 'CheckID');
      if (cid === '') cid = checkDefs.length > 1 ? `service:${id}:${i + 1}` : `service:${id}`;
      existing.delete(cid);
      const local = this.#buildCheck(def, cid, svc);
      const prev = snapshot.get(cid);
      if (prev !== undefined) {
        local.rec.Status = prev.Status;
        local.rec.Output = prev.Output;
      }
      this.#install(local);
    });
    if (replaceExistingChecks) for (const cid of existing) this.#removeCheck(cid);
  }

  /** PUT /v1/agent/service/deregister/:id — the service and all its checks. */
  deregisterService(id: string): void {
    if (!this.#services.has(id)) throw unknownService(id);
    this.#removeService(id);
  }

  #removeService(id: string): void {
    for (const [cid, c] of this.#checks) {
      if (c.rec.ServiceID === id) {
        this.#stop(c);
        this.#checks.delete(cid);
      }
    }
    this.#services.delete(id);
    this.#catalog.deleteService(id);
  }

  /** PUT /v1/agent/service/maintenance/:id */
  serviceMaintenance(id: string, enable: boolean, reason: string): void {
    const svc = this.#services.get(id);
    if (svc === undefined) throw unknownService(id);
    const cid = `${SERVICE_MAINT_PREFIX}${id}`;
    if (enable) {
      if (this.#checks.has(cid)) return;
      this.#install(
        maintenanceCheck(
          this.#node,
          cid,
          'Service Maintenance Mode',
          reason === '' ? DEFAULT_SERVICE_MAINT_REASON : reason,
          svc,
        ),
      );
      this.#log.info({ service: id }, 'service is now in maintenance mode');
    } else if (this.#checks.has(cid)) {
      this.#removeCheck(cid);
      this.#log.info({ service: id }, 'service left maintenance mode');
    }
  }

  /** PUT /v1/agent/maintenance */
  nodeMaintenance(enable: boolean, reason: string): void {
    if (enable) {
      if (this.#checks.has(NODE_MAINT_CHECK_ID)) return;
      this.#install(
        maintenanceCheck(
          this.#node,
          NODE_MAINT_CHECK_ID,
          'Node Maintenance Mode',
          reason === '' ? DEFAULT_NODE_MAINT_REASON : reason,
        ),
      );
    } else if (this.#checks.has(NODE_MAINT_CHECK_ID)) {
      this.#removeCheck(NODE_MAINT_CHECK_ID);
    }
  }

  // ---- checks ------------------------------------------------------------------------------

  /** PUT /v1/agent/check/register, after body decoding. */
  registerCheck(d: Decoded): void {
    const name = str(d, 'Name');
    if (name === '') throw badRequest('Missing check name');
    const status = str(d, 'Status');
    if (status !== '' && !isHealthStatus(status)) throw badRequest('Bad check status');
    const err = validateCheckType(d);
    if (err !== undefined) throw badRequest(`Invalid check: ${err}`);
    const serviceId = str(d, 'ServiceID');
    let svc: Unindexed<ServiceRec> | undefined;
    if (serviceId !== '') {
      svc = this.#services.get(serviceId);
      if (svc === undefined) throw notFound(`ServiceID ${JSON.stringify(serviceId)} does not exist`);
    }
    if ((strs(d, 'ScriptArgs')?.length ?? 0) > 0) {
      throw serverError(
        "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true",
      );
    }
    const cid = str(d, 'ID') === '' ? name : str(d, 'ID');
    // Consul snapshots an existing check and pushes its status and output back through UpdateCheck afterwards.
    const existing = this.#checks.get(cid)?.rec;
    const local = this.#buildCheck(d, cid, svc, true);
    this.#install(local);
    if (existing !== undefined) this.#update(local, existing.Status, existing.Output);
  }

  /** PUT /v1/agent/check/deregister/:id */
  deregisterCheck(id: string): void {
    if (!this.#checks.has(id)) throw unknownCheck(id);
    this.#removeCheck(id);
  }

  /** pass/warn/fail/update on a TTL check: resets the TTL, whatever the status. */
  updateTtl(id: string, status: HealthStatus, output: string): void {
    const c = this.#checks.get(id);
    if (c === undefined) throw unknownCheck(id);
    if (c.kind !== 'ttl') throw serverError(`CheckID ${JSON.stringify(id)} does not have associated TTL`);
    const out = truncateOutput(output, c.outputMaxSize);
    c.lastOutput = out;
    this.#armTtl(c);
    this.#update(c, status, out);
  }

  #buildCheck(d: Decoded, cid: string, svc: Unindexed<ServiceRec> | undefined, standalone = false): LocalCheck {
    return buildLocalCheck(
      d,
      cid,
      svc,
      this.#node,
      (msg) => {
        this.#log.warn({ check: cid }, msg);
      },
      standalone,
    );
  }

  /** Adds or replaces a local check, starts its timer or probe, and syncs it. */
  #install(c: LocalCheck): void {
    const old = this.#checks.get(c.rec.CheckID);
    if (old !== undefined) this.#stop(old);
    this.#checks.set(c.rec.CheckID, c);
    this.#catalog.ensureCheck(c.rec);
    if (c.kind === 'ttl') this.#armTtl(c);
    if (c.kind === 'http' || c.kind === 'tcp') {
      // Consul staggers the first run randomly within one interval.
      c.timer = this.#clock.setTimeout(
        () => {
          this.#runProbe(c);
        },
        Math.floor(this.#random() * c.intervalMs),
      );
    }
  }

  #removeCheck(cid: string): void {
    const c = this.#checks.get(cid);
    if (c === undefined) return;
    this.#stop(c);
    this.#checks.delete(cid);
    this.#catalog.deleteCheck(cid);
  }

  #stop(c: LocalCheck): void {
    c.stopped = true;
    c.timer?.cancel();
    c.deferTimer?.cancel();
    c.timer = undefined;
    c.deferTimer = undefined;
  }

  #armTtl(c: LocalCheck): void {
    c.timer?.cancel();
    c.timer = this.#clock.setTimeout(() => {
      if (c.stopped) return;
      this.#log.warn({ check: c.rec.CheckID }, 'Check missed TTL, is now critical');
      const out =
        c.lastOutput === '' ? 'TTL expired' : `TTL expired (last output before timeout follows): ${c.lastOutput}`;
      this.#update(c, 'critical', out);
    }, c.ttlMs);
  }

  #runProbe(c: LocalCheck): void {
    if (c.stopped || this.#closed) return;
    const probe: Promise<ProbeResult> = c.http !== undefined ? probeHttp(c.http) : probeTcp(c.tcp ?? '', c.timeoutMs);
    void probe.then((r) => {
      if (c.stopped || this.#closed) return;
      this.#applyProbe(c, r.status, truncateOutput(r.output, c.outputMaxSize));
      c.timer = this.#clock.setTimeout(() => {
        this.#runProbe(c);
      }, c.intervalMs);
    });
  }

  /** Consul's StatusHandler: SuccessBeforePassing / FailuresBeforeWarning / FailuresBeforeCritical. */
  #applyProbe(c: LocalCheck, status: HealthStatus, output: string): void {
    if (status === 'passing' || status === 'warning') {
      c.successes += 1;
      c.failures = 0;
      if (c.successes >= c.successBeforePassing) this.#update(c, status, output);
      return;
    }
    c.failures += 1;
    c.successes = 0;
    if (c.failures >= c.failuresBeforeCritical) this.#update(c, 'critical', output);
    else if (c.failures >= c.failuresBeforeWarning) this.#update(c, 'warning', output);
  }

  /** local.State.UpdateCheck: critical-time tracking, idempotent no-op, deferred output-only sync. */
  #update(c: LocalCheck, status: HealthStatus, output: string): void {
    if (status === 'critical') {
      if (c.criticalTime === 0) c.criticalTime = this.#clock.now();
    } else {
      c.criticalTime = 0;
    }
    if (c.rec.Status === status && c.rec.Output === output) return;
    if (c.rec.Status === status) {
      c.rec.Output = output;
      c.deferTimer ??= this.#clock.setTimeout(
        () => {
          c.deferTimer = undefined;
          if (!c.stopped) this.#catalog.ensureCheck(c.rec);
        },
        CHECK_UPDATE_INTERVAL_MS / 2 + Math.floor(this.#random() * CHECK_UPDATE_INTERVAL_MS),
      );
      return;
    }
    c.rec.Status = status;
    c.rec.Output = output;
    c.deferTimer?.cancel();
    c.deferTimer = undefined;
    this.#catalog.ensureCheck(c.rec);
  }

  // ---- reaper ------------------------------------------------------------------------------

  #armReaper(): void {
    this.#reaper = this.#clock.setTimeout(() => {
      this.reap();
      if (!this.#closed) this.#armReaper();
    }, CHECK_REAP_INTERVAL_MS);
  }

  /** One reaper pass: removes services whose check has been critical for longer than its DCSA. */
  reap(): void {
    const now = this.#clock.now();
    for (const c of [...this.#checks.values()]) {
      if (c.dcsaMs <= 0 || c.criticalTime === 0 || c.rec.ServiceID === '') continue;
      if (now - c.criticalTime > c.dcsaMs && this.#services.has(c.rec.ServiceID)) {
        this.#log.info(
          { service: c.rec.ServiceID, check: c.rec.CheckID },
          "deregistered service with critical health due to exceeding health check's 'deregister_critical_service_after' timeout",
        );
        this.#removeService(c.rec.ServiceID);
      }
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reaper?.cancel();
    for (const c of this.#checks.values()) this.#stop(c);
  }
}
