// Spearlet options: named defaults, one validation pass with messages naming the option, a frozen result.
import { ConfigError } from '../errors.ts';
import type { TokenVerifier, TokenVerifierOptions } from '../auth/verify.ts';
import type { ConsulOptions } from '../registry/consul-options.ts';
import type { Logger } from '../util/logger.ts';
import { DEFAULT_MAX_FRAME_SIZE } from '../wire/index.ts';

export const DEFAULT_HEARTBEAT_MS = 1000;
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 3000;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_CONNECTIONS = 10_000;
export const DEFAULT_MAX_CONNECTIONS_PER_AGENT = 64;
export const DEFAULT_MAX_IN_FLIGHT_PER_SESSION = 1024;
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
export const DEFAULT_WRITE_HIGH_WATER_MARK_BYTES = 4 * 1024 * 1024;
export const DEFAULT_GOAWAY_GRACE_MS = 250;
export const DEFAULT_RETRY_AFTER_MS = 1000;
export const DEFAULT_REGISTRATION_TTL_MS = 10_000;
export const DEFAULT_MAX_HELLO_SIZE = 64 * 1024;
export const DEFAULT_MAX_PENDING_HANDSHAKES = 1024;
export const DEFAULT_MAX_PENDING_HANDSHAKES_PER_SOURCE = 64;

export interface HostPort {
  host: string;
  port: number;
}

export interface SpearletTlsOptions {
  /** PEM certificate chain and private key of the listener. */
  cert: string | Buffer;
  key: string | Buffer;
  /** PEM CA bundle: when set, clients must present a certificate it signed (mTLS). */
  clientCa?: string | Buffer;
}

export interface SpearletOptions {
  /** Spearlet id: 1-128 of [A-Za-z0-9._-]. */
  id: string;
  zone?: string;
  /** TCP listener; default 127.0.0.1:0. `null` for a Unix-socket-only spearlet. */
  listen?: HostPort | null;
  socketPath?: string;
  /** Token verification: verifier options, or a ready verifier. */
  auth: TokenVerifierOptions | { verifier: TokenVerifier };
  tls?: SpearletTlsOptions;
  /** Consul to register in; `null` = no registration; undefined = Consul from the CONSUL_HTTP_* environment. */
  consul?: ConsulOptions | string | null;
  serviceName?: string;
  /** Extra Consul tags (capabilities). */
  tags?: readonly string[];
  /** Address registered in Consul; default: the listen host, or a routable one when listening on a wildcard. */
  advertiseHost?: string;
  registrationTtlMs?: number;
  deregisterCriticalAfterMs?: number;
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  maxConnections?: number;
  maxConnectionsPerAgent?: number;
  maxInFlightPerSession?: number;
  maxFrameSize?: number;
  drainTimeoutMs?: number;
  writeHighWaterMarkBytes?: number;
  goAwayGraceMs?: number;
  retryAfterMs?: number;
  /** Register echo, sleep and info (default true). */
  builtins?: boolean;
  /** Largest frame read before WELCOME (the HELLO); larger ones are refused from their header. */
  maxHelloSize?: number;
  /** Connections still in their handshake (preface, HELLO, token check), in total and per source address. */
  maxPendingHandshakes?: number;
  maxPendingHandshakesPerSource?: number;
  /** More readiness conditions: each returns why the spearlet is not ready (e.g. no key set yet), or undefined. */
  readinessChecks?: readonly (() => string | undefined)[];
  logger?: Logger;
  /** Clock in ms since the epoch (tests). */
  now?: () => number;
}

export interface ResolvedSpearletOptions {
  readonly id: string;
  readonly zone: string | undefined;
  readonly listen: HostPort | null;
  readonly socketPath: string | undefined;
  readonly tls: SpearletTlsOptions | undefined;
  readonly consul: ConsulOptions | null;
  readonly serviceName: string | undefined;
  readonly tags: readonly string[];
  readonly advertiseHost: string | undefined;
  readonly registrationTtlMs: number;
  readonly deregisterCriticalAfterMs: number | undefined;
  readonly heartbeatMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerAgent: number;
  readonly maxInFlightPerSession: number;
  readonly maxFrameSize: number;
  readonly drainTimeoutMs: number;
  readonly writeHighWaterMarkBytes: number;
  readonly goAwayGraceMs: number;
  readonly retryAfterMs: number;
  readonly builtins: boolean;
  readonly maxHelloSize: number;
  readonly maxPendingHandshakes: number;
  readonly maxPendingHandshakesPerSource: number;
  readonly readinessChecks: readonly (() => string | undefined)[];
}

const KNOWN: ReadonlySet<string> = new Set([
  'id',
  'zone',
  'listen',
  'socketPath',
  'auth',
  'tls',
  'consul',
  'serviceName',
  'tags',
  'advertiseHost',
  'registrationTtlMs',
  'deregisterCriticalAfterMs',
  'heartbeatMs',
  'heartbeatTimeoutMs',
  'handshakeTimeoutMs',
  'maxConnections',
  'maxConnectionsPerAgent',
  'maxInFlightPerSession',
  'maxFrameSize',
  'drainTimeoutMs',
  'writeHighWaterMarkBytes',
  'goAwayGraceMs',
  'retryAfterMs',
  'builtins',
  'maxHelloSize',
  'maxPendingHandshakes',
  'maxPendingHandshakesPerSource',
  'readinessChecks',
  'logger',
  'now',
]);

const ID = /^[A-Za-z0-9._-]{1,128}$/u;

function int(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min || v > max)
    throw new ConfigError(name, `must be an integer in [${min}, ${max}], got ${String(v)}`);
  return v;
}

function hostPort(name: string, value: HostPort): HostPort {
  if (typeof value !== 'object' || typeof value.host !== 'string' || value.host === '')
    throw new ConfigError(name, 'needs a host');
  return { host: value.host, port: int(`${name}.port`, value.port, 0, 0, 65535) };
}

export function resolveSpearletOptions(o: SpearletOptions): ResolvedSpearletOptions {
  if (typeof o !== 'object') throw new TypeError('Spearlet options must be an object');
  for (const key of Object.keys(o)) if (!KNOWN.has(key)) throw new ConfigError(key, 'unknown option');
  if (typeof o.id !== 'string' || !ID.test(o.id))
    throw new ConfigError('id', 'must be 1-128 characters of [A-Za-z0-9._-]');
  if (o.zone !== undefined && (typeof o.zone !== 'string' || !ID.test(o.zone)))
    throw new ConfigError('zone', 'must be 1-128 characters of [A-Za-z0-9._-]');
  const listen = o.listen === null ? null : hostPort('listen', o.listen ?? { host: '127.0.0.1', port: 0 });
  if (o.socketPath !== undefined && (typeof o.socketPath !== 'string' || o.socketPath === ''))
    throw new ConfigError('socketPath', 'must be a path');
  if (listen === null && o.socketPath === undefined)
    throw new ConfigError('listen', 'give a TCP listener, a socketPath or both');
  if (
    o.tls !== undefined &&
    ((o.tls as Partial<SpearletTlsOptions>).cert === undefined ||
      (o.tls as Partial<SpearletTlsOptions>).key === undefined)
  )
    throw new ConfigError('tls', 'needs cert and key');
  if (o.tls !== undefined && listen === null) throw new ConfigError('tls', 'TLS needs a TCP listener');
  const heartbeatMs = int('heartbeatMs', o.heartbeatMs, DEFAULT_HEARTBEAT_MS, 10, 3_600_000);
  const heartbeatTimeoutMs = int(
    'heartbeatTimeoutMs',
    o.heartbeatTimeoutMs,
    Math.max(DEFAULT_HEARTBEAT_TIMEOUT_MS, heartbeatMs * 3),
    20,
    3_600_000,
  );
  if (heartbeatTimeoutMs <= heartbeatMs)
    throw new ConfigError('heartbeatTimeoutMs', 'must be greater than heartbeatMs');
  const tags = o.tags ?? [];
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string' && t !== ''))
    throw new ConfigError('tags', 'must be non-empty strings');
  const maxFrameSize = int('maxFrameSize', o.maxFrameSize, DEFAULT_MAX_FRAME_SIZE, 64);
  return Object.freeze({
    id: o.id,
    zone: o.zone,
    listen,
    socketPath: o.socketPath,
    tls: o.tls,
    consul: o.consul === undefined ? {} : typeof o.consul === 'string' ? { addr: o.consul } : o.consul,
    serviceName: o.serviceName,
    tags: Object.freeze([...(tags as readonly string[])]),
    advertiseHost: o.advertiseHost,
    registrationTtlMs: int('registrationTtlMs', o.registrationTtlMs, DEFAULT_REGISTRATION_TTL_MS, 300),
    deregisterCriticalAfterMs: o.deregisterCriticalAfterMs,
    heartbeatMs,
    heartbeatTimeoutMs,
    handshakeTimeoutMs: int('handshakeTimeoutMs', o.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS, 1, 600_000),
    maxConnections: int('maxConnections', o.maxConnections, DEFAULT_MAX_CONNECTIONS, 1),
    maxConnectionsPerAgent: int(
      'maxConnectionsPerAgent',
      o.maxConnectionsPerAgent,
      DEFAULT_MAX_CONNECTIONS_PER_AGENT,
      1,
    ),
    maxInFlightPerSession: int('maxInFlightPerSession', o.maxInFlightPerSession, DEFAULT_MAX_IN_FLIGHT_PER_SESSION, 1),
    maxFrameSize,
    drainTimeoutMs: int('drainTimeoutMs', o.drainTimeoutMs, DEFAULT_DRAIN_TIMEOUT_MS, 0),
    writeHighWaterMarkBytes: int(
      'writeHighWaterMarkBytes',
      o.writeHighWaterMarkBytes,
      DEFAULT_WRITE_HIGH_WATER_MARK_BYTES,
      1024,
    ),
    goAwayGraceMs: int('goAwayGraceMs', o.goAwayGraceMs, DEFAULT_GOAWAY_GRACE_MS, 0, 60_000),
    retryAfterMs: int('retryAfterMs', o.retryAfterMs, DEFAULT_RETRY_AFTER_MS, 0),
    builtins: o.builtins ?? true,
    readinessChecks: Object.freeze([...(o.readinessChecks ?? [])]),
    maxHelloSize: int('maxHelloSize', o.maxHelloSize, Math.min(DEFAULT_MAX_HELLO_SIZE, maxFrameSize), 64, maxFrameSize),
    maxPendingHandshakes: int('maxPendingHandshakes', o.maxPendingHandshakes, DEFAULT_MAX_PENDING_HANDSHAKES, 1),
    maxPendingHandshakesPerSource: int(
      'maxPendingHandshakesPerSource',
      o.maxPendingHandshakesPerSource,
      DEFAULT_MAX_PENDING_HANDSHAKES_PER_SOURCE,
      1,
    ),
  });
}
