// MeshClient options: defaults with units in their names, validated once, unknown options rejected, frozen.
import type { OutlierDetectorOptions } from '../balancer/outlier-detector.ts';
import { isPolicyName, POLICY_NAMES, type PolicyName } from '../balancer/policies.ts';
import type { RetryBudgetOptions } from '../balancer/retry-budget.ts';
import type { Registry } from 'prom-client';
import type { TlsClientOptions } from '../conn/transport.ts';
import type { Resolver } from '../discovery/resolver.ts';
import { ConfigError } from '../errors.ts';
import type { ConsulOptionsInput } from '../registry/consul-options.ts';
import type { BackoffOptions } from '../util/backoff.ts';
import type { Logger } from '../util/logger.ts';
import { DEFAULT_MAX_CONNECTIONS_PER_SPEARLET, DEFAULT_POOL_IDLE_TIMEOUT_MS } from './endpoint-pool.ts';

export const DEFAULT_SERVICE = 'spearlet';
export const DEFAULT_POLICY: PolicyName = 'least-outstanding';
export const DEFAULT_QUEUE_MAX_SIZE = 1024;
/** How long a request without a deadline waits for a spearlet before NO_SPEARLET_AVAILABLE. */
export const DEFAULT_QUEUE_TIMEOUT_MS = 10_000;
/** How long MeshClient.connect waits for the first READY connection (it resolves either way). */
export const DEFAULT_READY_TIMEOUT_MS = 5_000;
/** How long in-flight requests may finish on an endpoint that left the resolver's set, or on close(). */
export const DEFAULT_DRAIN_GRACE_MS = 30_000;
export const DEFAULT_CLOSE_GRACE_MS = 5_000;
/** Requests that were never written (or crossed a GOAWAY) move elsewhere at most this many times. */
export const DEFAULT_MAX_REROUTES = 8;
export const DEFAULT_CLIENT_TICK_MS = 20;
/** How long requests wait for the registry's first answer before failing with REGISTRY_UNAVAILABLE. */
export const DEFAULT_REGISTRY_WAIT_MS = 5_000;

export interface MeshClientOptions {
  /** Discover spearlets with a Consul health watch (this client creates and closes the Consul client). */
  readonly consul?: ConsulOptionsInput;
  /** Or any resolver; MeshClient starts it but does not close it. */
  readonly resolver?: Resolver;
  /** Or a fixed list: 'host:port', '[v6]:port', 'unix:/path'. */
  readonly endpoints?: readonly string[];
  /** Consul service name (default 'spearlet'). */
  readonly service?: string;
  /** Only spearlets carrying all these tags (filtered by Consul, and again locally for any resolver). */
  readonly tags?: readonly string[];
  /** A fixed JWT, or a provider called on every (re)connect and before expiry. One of the two is required. */
  readonly token?: string;
  readonly tokenProvider?: () => Promise<string>;
  readonly policy?: PolicyName;
  /** Prefer spearlets in this zone while any is usable. */
  readonly zone?: string;
  /** TLS settings for spearlets that advertise TLS (meta tls=true). */
  readonly tls?: TlsClientOptions;
  /** Use the spearlet's Unix socket when it advertises one and runs on this host (default true). */
  readonly preferUnixSocket?: boolean;
  /** Override the spearlet's heartbeat interval and timeout (default: what WELCOME says). */
  readonly heartbeatMs?: number;
  readonly heartbeatTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly reconnectBackoff?: BackoffOptions;
  readonly retryBudget?: RetryBudgetOptions;
  /** Outlier ejection from request outcomes and connection losses (src/balancer/outlier-options.ts); false: off. */
  readonly outlier?: OutlierDetectorOptions | false;
  /**
   * Hedging for idempotent requests: when the first attempt has not answered after this many ms, one more goes to
   * another spearlet (charged to the retry budget); the first answer wins and the other is cancelled. Off by default.
   */
  readonly hedgeAfterMs?: number;
  readonly queue?: { readonly maxSize?: number; readonly timeoutMs?: number };
  readonly readyTimeoutMs?: number;
  /**
   * How long requests wait for the registry's (resolver's) first answer; after that, while it has still not
   * answered, they fail with REGISTRY_UNAVAILABLE (default 5000).
   */
  readonly registryWaitMs?: number;
  readonly drainGraceMs?: number;
  readonly closeGraceMs?: number;
  readonly maxReroutes?: number;
  /** Connections one spearlet may get when the first ones are saturated (default 4; 1 = never more than one). */
  readonly maxConnectionsPerSpearlet?: number;
  /** Extra connections (beyond one per spearlet) close after this long without a request (default 60000). */
  readonly poolIdleTimeoutMs?: number;
  /** Name sent in HELLO for the spearlet's logs. */
  readonly agentName?: string;
  readonly logger?: Logger;
  /** Export client-side metrics (spear_mesh_client_*) in this prom-client registry (src/agent/client-metrics.ts). */
  readonly metricsRegistry?: Registry;
  /** Randomness for the policies (tests). */
  readonly random?: () => number;
}

const KNOWN: ReadonlySet<string> = new Set([
  'consul',
  'resolver',
  'endpoints',
  'service',
  'tags',
  'token',
  'tokenProvider',
  'policy',
  'zone',
  'tls',
  'preferUnixSocket',
  'heartbeatMs',
  'heartbeatTimeoutMs',
  'connectTimeoutMs',
  'reconnectBackoff',
  'retryBudget',
  'outlier',
  'hedgeAfterMs',
  'queue',
  'readyTimeoutMs',
  'registryWaitMs',
  'drainGraceMs',
  'closeGraceMs',
  'maxReroutes',
  'maxConnectionsPerSpearlet',
  'poolIdleTimeoutMs',
  'agentName',
  'logger',
  'metricsRegistry',
  'random',
]);

export interface ResolvedClientOptions {
  readonly service: string;
  readonly tags: readonly string[];
  readonly tokenProvider: () => Promise<string>;
  readonly policy: PolicyName;
  readonly zone: string | undefined;
  readonly tls: TlsClientOptions | undefined;
  readonly preferUnixSocket: boolean;
  readonly heartbeatMs: number | undefined;
  readonly heartbeatTimeoutMs: number | undefined;
  readonly connectTimeoutMs: number | undefined;
  readonly reconnectBackoff: BackoffOptions | undefined;
  readonly queueMaxSize: number;
  readonly queueTimeoutMs: number;
  readonly readyTimeoutMs: number;
  readonly registryWaitMs: number;
  readonly drainGraceMs: number;
  readonly closeGraceMs: number;
  readonly maxReroutes: number;
  readonly maxConnectionsPerSpearlet: number;
  readonly hedgeAfterMs: number | undefined;
  readonly poolIdleTimeoutMs: number;
}

function positive(name: string, v: unknown, fallback: number | undefined, integer = false): number | undefined {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new ConfigError(
      name,
      `must be a positive ${integer ? 'integer' : 'number'}, got ${typeof v === 'number' ? v : typeof v}`,
    );
  }
  return v;
}

function required(name: string, v: unknown, fallback: number, integer = false): number {
  return positive(name, v, fallback, integer) ?? fallback;
}

/** Validates everything except the discovery source (checked by the client when it builds its resolver). */
export function resolveClientOptions(o: MeshClientOptions): ResolvedClientOptions {
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key)) throw new ConfigError(key, 'unknown option');
  }
  const sources = [o.consul, o.resolver, o.endpoints].filter((s) => s !== undefined).length;
  if (sources !== 1) throw new ConfigError('consul|resolver|endpoints', 'give exactly one discovery source');
  if (o.token !== undefined && o.tokenProvider !== undefined)
    throw new ConfigError('token', 'give token or tokenProvider, not both');
  let tokenProvider: () => Promise<string>;
  if (o.tokenProvider !== undefined) {
    if (typeof o.tokenProvider !== 'function')
      throw new ConfigError('tokenProvider', 'must be a function returning a promise of a JWT');
    tokenProvider = o.tokenProvider;
  } else if (typeof o.token === 'string' && o.token !== '') {
    const token = o.token;
    tokenProvider = () => Promise.resolve(token);
  } else {
    throw new ConfigError('token', 'a token or a tokenProvider is required');
  }
  const policy = o.policy ?? DEFAULT_POLICY;
  if (!isPolicyName(policy))
    throw new ConfigError('policy', `unknown policy '${String(policy)}' (known: ${POLICY_NAMES.join(', ')})`);
  const tags: readonly string[] = o.tags ?? [];
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string' && t !== ''))
    throw new ConfigError('tags', 'must be non-empty strings');
  if (o.zone !== undefined && (typeof o.zone !== 'string' || o.zone === ''))
    throw new ConfigError('zone', 'must be a non-empty string');
  if (o.metricsRegistry !== undefined && typeof o.metricsRegistry.registerMetric !== 'function')
    throw new ConfigError('metricsRegistry', 'must be a prom-client Registry');
  const service = o.service ?? DEFAULT_SERVICE;
  if (typeof service !== 'string' || service === '') throw new ConfigError('service', 'must be a non-empty string');
  return Object.freeze({
    service,
    tags: Object.freeze(Array.from(tags as Iterable<string>)),
    tokenProvider,
    policy,
    zone: o.zone,
    tls: o.tls,
    preferUnixSocket: o.preferUnixSocket ?? true,
    heartbeatMs: positive('heartbeatMs', o.heartbeatMs, undefined),
    heartbeatTimeoutMs: positive('heartbeatTimeoutMs', o.heartbeatTimeoutMs, undefined),
    connectTimeoutMs: positive('connectTimeoutMs', o.connectTimeoutMs, undefined),
    reconnectBackoff: o.reconnectBackoff,
    queueMaxSize: required('queue.maxSize', o.queue?.maxSize, DEFAULT_QUEUE_MAX_SIZE, true),
    queueTimeoutMs: required('queue.timeoutMs', o.queue?.timeoutMs, DEFAULT_QUEUE_TIMEOUT_MS),
    readyTimeoutMs: required('readyTimeoutMs', o.readyTimeoutMs, DEFAULT_READY_TIMEOUT_MS),
    registryWaitMs: required('registryWaitMs', o.registryWaitMs, DEFAULT_REGISTRY_WAIT_MS),
    drainGraceMs: required('drainGraceMs', o.drainGraceMs, DEFAULT_DRAIN_GRACE_MS),
    closeGraceMs: o.closeGraceMs === 0 ? 0 : required('closeGraceMs', o.closeGraceMs, DEFAULT_CLOSE_GRACE_MS),
    maxReroutes: required('maxReroutes', o.maxReroutes, DEFAULT_MAX_REROUTES, true),
    hedgeAfterMs: positive('hedgeAfterMs', o.hedgeAfterMs, undefined),
    maxConnectionsPerSpearlet: required(
      'maxConnectionsPerSpearlet',
      o.maxConnectionsPerSpearlet,
      DEFAULT_MAX_CONNECTIONS_PER_SPEARLET,
      true,
    ),
    poolIdleTimeoutMs: required('poolIdleTimeoutMs', o.poolIdleTimeoutMs, DEFAULT_POOL_IDLE_TIMEOUT_MS),
  });
}
