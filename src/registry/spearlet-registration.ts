// Keeps one spearlet registered in Consul: register, pass the TTL check every ~TTL/3, re-register when Consul forgot
// us, retry with backoff while Consul is unreachable, maintenance for drains, deregister on close. Never overwrites the
// registration of another live instance with the same id (see #checkOwner).
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { ConfigError, MeshError, RegistryHttpError, SpearletIdInUseError } from '../errors.ts';
import { Backoff, type BackoffOptions } from '../util/backoff.ts';
import { silentLogger, type Logger } from '../util/logger.ts';
import type { ConsulClient, ServiceDefinition } from './consul-client.ts';
import {
  DEFAULT_SPEARLET_SERVICE_NAME,
  spearletCheckId,
  spearletServiceId,
  validateServiceMeta,
} from './spearlet-service.ts';

export const DEFAULT_REGISTRATION_TTL_MS = 10_000;
export const DEFAULT_DEREGISTER_CRITICAL_AFTER_MS = 60_000;
export const DEFAULT_REGISTRATION_RETRY: Readonly<BackoffOptions> = Object.freeze({
  initialMs: 500,
  multiplier: 1.6,
  maxMs: 10_000,
  jitter: 0.2,
});
/** Share of the pass interval (TTL/3) added or removed at random so a fleet does not pass in lockstep. */
const PASS_JITTER = 0.1;

export interface SpearletRegistrationOptions {
  consul: ConsulClient;
  /** Spearlet id: 1-128 of [A-Za-z0-9._-]. Service ID becomes `spearlet-<id>`, check ID `spearlet:<id>:ttl`. */
  id: string;
  serviceName?: string;
  /** Address agents dial; '' means the Consul node's address. Never a wildcard address. */
  address: string;
  port: number;
  tags?: string[];
  /** Service meta (see buildSpearletServiceMeta); `spearlet_id` is set to `id` when missing. */
  meta?: Record<string, string>;
  ttlMs?: number;
  /** Consul removes the service once its check stayed critical this long (Consul floors it at one minute). 0 = never. */
  deregisterCriticalAfterMs?: number;
  logger?: Logger;
  /** Backoff between attempts while Consul is unreachable or refusing. */
  retry?: BackoffOptions;
  /** Randomness for the pass jitter; injectable for tests. */
  random?: () => number;
  /** This instance's nonce, registered as `Meta.instance` (default: 16 random hex digits per registration object). */
  instance?: string;
}

/** Service meta key holding the nonce of the instance that owns a registration. */
export const INSTANCE_META_KEY = 'instance';

export type RegistrationState =
  | 'unregistered'
  | 'registering'
  | 'registered'
  | 'maintenance'
  | 'unreachable'
  /** Another live instance owns this id's registration: nothing more is sent to Consul, close() deregisters nothing. */
  | 'conflict'
  | 'closed';

export interface RegistrationStats {
  /** Successful PUT service/register calls (first one and every re-registration). */
  registrations: number;
  /** Successful TTL passes. */
  passes: number;
  /** Attempts that failed (Consul unreachable, HTTP errors, bad responses). */
  failures: number;
}

interface RegistrationEvents {
  state: [state: RegistrationState, previous: RegistrationState, error?: Error];
}

export class SpearletRegistration extends EventEmitter<RegistrationEvents> {
  readonly #consul: ConsulClient;
  readonly #serviceId: string;
  readonly #checkId: string;
  readonly #definition: ServiceDefinition;
  readonly #serviceName: string;
  readonly #instance: string;
  readonly #ttlMs: number;
  /** Read the registration back once after (re-)registering, to catch an instance that registered at the same time. */
  #verifyOwner = false;
  #lastPassAt: number | undefined;
  readonly #passIntervalMs: number;
  readonly #backoff: Backoff;
  readonly #random: () => number;
  readonly #log: Logger;
  #state: RegistrationState = 'unregistered';
  #timer: NodeJS.Timeout | undefined;
  #inflight: Promise<void> | undefined;
  #needsRegister = true;
  #wantMaintenance: { enable: boolean; reason: string | undefined } = { enable: false, reason: undefined };
  #maintenanceApplied = false;
  #closed = false;
  #closePromise: Promise<void> | undefined;
  readonly #stats: RegistrationStats = { registrations: 0, passes: 0, failures: 0 };

  constructor(o: SpearletRegistrationOptions) {
    super();
    if (typeof o.id !== 'string' || !/^[A-Za-z0-9._-]{1,128}$/.test(o.id)) {
      throw new ConfigError('id', 'spearlet id must be 1-128 characters of [A-Za-z0-9._-]');
    }
    const name = o.serviceName ?? DEFAULT_SPEARLET_SERVICE_NAME;
    if (typeof name !== 'string' || !/^[A-Za-z0-9._-]{1,128}$/.test(name))
      throw new ConfigError('serviceName', 'must be 1-128 of [A-Za-z0-9._-]');
    if (typeof o.address !== 'string') throw new ConfigError('address', 'must be a string');
    if (o.address === '0.0.0.0' || o.address === '::' || o.address === '[::]') {
      throw new ConfigError('address', `"${o.address}" is a wildcard; register the address agents should dial`);
    }
    if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535)
      throw new ConfigError('port', 'must be an integer in 0..65535');
    const ttlMs = o.ttlMs ?? DEFAULT_REGISTRATION_TTL_MS;
    if (!Number.isInteger(ttlMs) || ttlMs < 300) throw new ConfigError('ttlMs', 'must be an integer >= 300');
    const dcsaMs = o.deregisterCriticalAfterMs ?? DEFAULT_DEREGISTER_CRITICAL_AFTER_MS;
    if (!Number.isInteger(dcsaMs) || dcsaMs < 0)
      throw new ConfigError('deregisterCriticalAfterMs', 'must be an integer >= 0');
    const tags = o.tags ?? [];
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string' && t !== ''))
      throw new ConfigError('tags', 'must be non-empty strings');
    const meta = { ...(o.meta ?? {}) };
    // Watchers identify endpoints by Meta.spearlet_id, so it is always present and always the registration's id.
    if (meta.spearlet_id !== undefined && meta.spearlet_id !== o.id) {
      throw new ConfigError('meta', `spearlet_id "${meta.spearlet_id}" differs from id "${o.id}"`);
    }
    meta.spearlet_id = o.id;
    const instance = o.instance ?? randomBytes(8).toString('hex');
    if (typeof instance !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(instance))
      throw new ConfigError('instance', 'must be 1-64 of [A-Za-z0-9._-]');
    meta[INSTANCE_META_KEY] = instance;
    validateServiceMeta('meta', meta);
    this.#instance = instance;
    this.#serviceName = name;
    this.#ttlMs = ttlMs;

    this.#consul = o.consul;
    this.#serviceId = spearletServiceId(o.id);
    this.#checkId = spearletCheckId(o.id);
    this.#passIntervalMs = Math.max(100, Math.floor(ttlMs / 3));
    this.#backoff = new Backoff({ ...DEFAULT_REGISTRATION_RETRY, ...o.retry });
    this.#random = o.random ?? Math.random;
    this.#log = (o.logger ?? silentLogger()).child({ component: 'registration', serviceId: this.#serviceId });
    this.#definition = {
      ID: this.#serviceId,
      Name: name,
      Address: o.address,
      Port: o.port,
      Tags: [...tags],
      Meta: meta,
      // No Status: Consul starts the check critical, and we pass it only after the registration succeeded, so the
      // service never claims health it has not shown.
      Check: {
        CheckID: this.#checkId,
        Name: `spearlet ${o.id} TTL`,
        TTL: `${ttlMs}ms`,
        ...(dcsaMs > 0 ? { DeregisterCriticalServiceAfter: `${dcsaMs}ms` } : {}),
      },
    };
  }

  get serviceId(): string {
    return this.#serviceId;
  }

  get checkId(): string {
    return this.#checkId;
  }

  /** This instance's nonce (`Meta.instance`). */
  get instance(): string {
    return this.#instance;
  }

  get state(): RegistrationState {
    return this.#state;
  }

  stats(): RegistrationStats {
    return { ...this.#stats };
  }

  /** Starts registering in the background. Idempotent; does nothing after close(). */
  start(): void {
    if (this.#closed || this.#state !== 'unregistered') return;
    this.#transition('registering');
    this.#schedule(0);
  }

  /**
   * Enables or disables service maintenance (agents watching `?passing` stop choosing us). Never rejects because of the
   * registry: the wish is remembered and applied by the background loop once Consul answers (also after re-registering).
   * Resolves after one attempt.
   */
  async setMaintenance(enable: boolean, reason?: string): Promise<void> {
    if (typeof enable !== 'boolean') throw new TypeError('enable must be a boolean');
    if (this.#closed || this.#state === 'conflict') return;
    this.#wantMaintenance = { enable, reason };
    if (this.#state === 'unregistered') return;
    await this.#inflight;
    if (this.#isClosed()) return;
    this.#clearTimer();
    await this.#runStep();
  }

  /** Stops passing and deregisters (a 404 counts as done). Idempotent; never rejects. */
  close(): Promise<void> {
    this.#closePromise ??= this.#doClose();
    return this.#closePromise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #doClose(): Promise<void> {
    // In conflict the registration in Consul is another instance's: leave it alone.
    const started = this.#state !== 'unregistered' && this.#state !== 'conflict';
    this.#closed = true;
    this.#clearTimer();
    // Let a register in flight finish first, or it could land after our deregister and leave a zombie entry.
    await this.#inflight;
    if (started) {
      try {
        await this.#consul.deregisterService(this.#serviceId);
        this.#log.info('deregistered from consul');
      } catch (err) {
        this.#log.warn(
          { err: errSummary(err) },
          'deregister failed; consul removes the service after its check goes critical',
        );
      }
    }
    this.#transition('closed');
  }

  /** A method rather than the field, so TypeScript does not keep a narrowing across awaits. */
  #isClosed(): boolean {
    return this.#closed;
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#clearTimer();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#runStep();
    }, delayMs);
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #runStep(): Promise<void> {
    if (this.#closed) return;
    if (this.#inflight !== undefined) {
      await this.#inflight;
      return;
    }
    const p = this.#step();
    this.#inflight = p;
    try {
      await p;
    } finally {
      this.#inflight = undefined;
    }
  }

  /** One round: (re-)register when needed, pass, reconcile maintenance, then schedule the next round. Never throws. */
  async #step(): Promise<void> {
    let registeredNow = false;
    try {
      // Silent longer than a TTL (a frozen process, say): our check went critical and another instance may have
      // taken the id over, so look before passing a check that may now be someone else's.
      if (this.#lastPassAt !== undefined && Date.now() - this.#lastPassAt > this.#ttlMs) this.#needsRegister = true;
      if (this.#needsRegister) {
        if (this.#state !== 'registering' && this.#state !== 'unreachable') this.#transition('registering');
        await this.#checkOwner();
        await this.#consul.registerService(this.#definition);
        this.#stats.registrations++;
        this.#needsRegister = false;
        this.#maintenanceApplied = false;
        this.#verifyOwner = true;
        registeredNow = true;
      } else if (this.#verifyOwner) {
        await this.#checkOwner();
        this.#verifyOwner = false;
      }
      await this.#consul.passCheck(this.#checkId);
      this.#lastPassAt = Date.now();
      this.#stats.passes++;
      const want = this.#wantMaintenance;
      if (want.enable !== this.#maintenanceApplied) {
        await this.#consul.setServiceMaintenance(this.#serviceId, want.enable, want.reason);
        this.#maintenanceApplied = want.enable;
      }
      this.#backoff.reset();
      if (this.#closed) return;
      this.#transition(this.#maintenanceApplied ? 'maintenance' : 'registered');
      this.#schedule(this.#jittered(this.#passIntervalMs));
    } catch (err) {
      if (this.#closed) return;
      if (err instanceof SpearletIdInUseError) {
        this.#log.error({ err: errSummary(err) }, 'another live instance holds this spearlet id; not registering');
        this.#transition('conflict', err);
        return;
      }
      if (err instanceof RegistryHttpError && err.statusCode === 404 && !registeredNow) {
        // The agent no longer knows our check (agent restart, lost state, reaped): register again right away.
        this.#log.warn('consul no longer knows our check; registering again');
        this.#needsRegister = true;
        this.#transition('registering');
        this.#schedule(0);
        return;
      }
      this.#stats.failures++;
      // Re-registering is idempotent (Consul keeps the check status) and repairs whatever state the agent lost.
      this.#needsRegister = true;
      const error = err instanceof Error ? err : new Error(typeof err === 'string' ? err : 'unknown error');
      this.#transition('unreachable', error);
      this.#schedule(this.#backoff.next());
    }
  }

  /**
   * Throws SpearletIdInUseError when a registration with our service ID belongs to another instance (another
   * `Meta.instance`, or none) whose TTL check is passing or warning: that instance is alive. A registration whose check
   * is critical (its owner stopped passing for a whole TTL) or missing is taken over.
   */
  async #checkOwner(): Promise<void> {
    const { entries } = await this.#consul.healthService(this.#serviceName, {
      filter: `Service.ID == "${this.#serviceId}"`,
    });
    for (const e of entries) {
      if (e.Service.ID !== this.#serviceId || e.Service.Meta[INSTANCE_META_KEY] === this.#instance) continue;
      const status = e.Checks.find((c) => c.CheckID === this.#checkId)?.Status;
      const owner = e.Service.Meta[INSTANCE_META_KEY] ?? 'unknown';
      if (status === 'passing' || status === 'warning') {
        throw new SpearletIdInUseError(
          this.#serviceId,
          `spearlet id in use: ${this.#serviceId} is registered on node ${e.Node.Node} by instance ${owner}, whose check is ${status}`,
        );
      }
      this.#log.warn(
        { node: e.Node.Node, owner, check: status ?? 'missing' },
        'taking over a registration whose owner stopped passing its check',
      );
    }
  }

  #jittered(ms: number): number {
    return Math.max(1, Math.round(ms * (1 + PASS_JITTER * (this.#random() * 2 - 1))));
  }

  #transition(to: RegistrationState, error?: Error): void {
    const from = this.#state;
    if (from === to || from === 'closed') return;
    this.#state = to;
    if (to === 'unreachable')
      this.#log.warn({ from, to, err: errSummary(error) }, 'consul registration failing; retrying with backoff');
    else this.#log.info({ from, to }, `registration ${to}`);
    // A throwing listener must not be mistaken for a registry failure by the loop that called us.
    try {
      if (error) this.emit('state', to, from, error);
      else this.emit('state', to, from);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}

function errSummary(err: unknown): { code?: string; message: string } | undefined {
  if (err === undefined) return undefined;
  if (err instanceof MeshError) return { code: err.code, message: err.message };
  return { message: err instanceof Error ? err.message : typeof err === 'string' ? err : 'unknown error' };
}
