// The one place that talks to Consul: a typed wrapper over the npm `consul` package, mapping its errors to ours.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import Consul from 'consul';
import { ConfigError, RegistryBadResponseError, RegistryHttpError, RegistryUnavailableError } from '../errors.ts';
import { resolveConsulOptions, type ConsulOptionsInput, type ResolvedConsulOptions } from './consul-options.ts';
import { parseHealthEntries, parseIndex, parseWaitMs } from './consul-parse.ts';
import type { BlockingReadOptions, HealthServiceEntry, HealthServiceQuery, ServiceDefinition } from './consul-types.ts';

export type {
  BlockingReadOptions,
  CheckStatus,
  HealthCheckEntry,
  HealthServiceEntry,
  HealthServiceQuery,
  ServiceCheckDefinition,
  ServiceDefinition,
} from './consul-types.ts';

export { parseIndex, parseWaitMs };

/**
 * Everything spear-mesh needs from Consul. Errors: RegistryUnavailableError (connection refused or reset, timeout,
 * client closed), RegistryHttpError (any non-2xx status, with `statusCode`), RegistryBadResponseError (a body that is not
 * the expected JSON); an aborted `signal` rejects with the signal's reason.
 */
export interface ConsulClient {
  registerService(def: ServiceDefinition): Promise<void>;
  /** A 404 (already gone) resolves. */
  deregisterService(id: string): Promise<void>;
  passCheck(checkId: string, note?: string): Promise<void>;
  failCheck(checkId: string, note?: string): Promise<void>;
  setServiceMaintenance(serviceId: string, enable: boolean, reason?: string): Promise<void>;
  healthService(
    name: string,
    opts: HealthServiceQuery,
  ): Promise<{ entries: HealthServiceEntry[]; index: string | undefined }>;
  /** A missing key resolves with `value: undefined` (and the KV index). An existing empty key gives an empty Buffer. */
  kvGet(key: string, opts?: BlockingReadOptions): Promise<{ value: Buffer | undefined; index: string | undefined }>;
  kvPut(key: string, value: string | Buffer): Promise<boolean>;
  /** Releases pooled sockets. Later calls reject with RegistryUnavailableError. Idempotent. */
  close(): void;
}

// ---- the untyped package, described once ------------------------------------------------------------------------
// The package's bundled .d.ts rejects a TTL-only check and types option keys lower-case only, so we describe the few
// methods we call ourselves and cast the instance once in createConsulClient.

/** papi aborts a request when its ctx emits 'cancel'; with includeResponse it resolves `[res, body]`. */
interface RawCtx extends EventEmitter {
  includeResponse?: boolean;
}
type RawCall = (opts: Record<string, unknown>) => Promise<unknown>;
interface RawConsul {
  agent: {
    service: { register: RawCall; deregister: RawCall; maintenance: RawCall };
    check: { pass: RawCall; fail: RawCall };
  };
  health: { service: RawCall };
  kv: { get: RawCall; set: RawCall };
  destroy(): void;
}
interface RawResponse {
  statusCode?: number;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
}
interface RawError {
  message?: string;
  code?: string;
  isAbort?: boolean;
  isTimeout?: boolean;
  isCodec?: boolean;
  isValidation?: boolean;
  isResponse?: boolean;
  statusCode?: number;
  response?: RawResponse;
}

const UNAVAILABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ENOENT', // unix socket path does not exist (yet)
]);

const MAX_UINT64 = 2n ** 64n - 1n; // largest valid `index`

/**
 * A client for one Consul agent. Options are merged over CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, CONSUL_HTTP_SSL,
 * CONSUL_CACERT, CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY and CONSUL_TLS_SERVER_NAME from `env` (explicit options win; pass
 * `{}` to ignore the environment). Throws ConfigError, also when a certificate or key file cannot be read.
 */
export function createConsulClient(options: ConsulOptionsInput, env: NodeJS.ProcessEnv = process.env): ConsulClient {
  return new NpmConsulClient(resolveConsulOptions(options, env));
}

class NpmConsulClient implements ConsulClient {
  readonly #raw: RawConsul;
  readonly #requestTimeoutMs: number;
  readonly #datacenter: string | undefined;
  #closed = false;

  constructor(o: ResolvedConsulOptions) {
    this.#requestTimeoutMs = o.requestTimeoutMs ?? 10_000;
    this.#datacenter = o.datacenter;
    const init: Record<string, unknown> = {};
    if (o.addr.startsWith('unix://')) {
      init.baseUrl = 'http://localhost/v1';
      init.socketPath = o.addr.slice('unix://'.length);
    } else {
      init.baseUrl = `${o.addr}/v1`;
    }
    if (o.caFile !== undefined) init.ca = readPemFile('CONSUL_CACERT', o.caFile);
    if (o.certFile !== undefined) init.cert = readPemFile('CONSUL_CLIENT_CERT', o.certFile);
    if (o.keyFile !== undefined) init.key = readPemFile('CONSUL_CLIENT_KEY', o.keyFile);
    // Node verifies the certificate against `servername` when it is set, as Consul's client does with TLSServerName.
    if (o.tlsServerName !== undefined) init.servername = o.tlsServerName;
    // The token becomes a default option, which the package sends as X-Consul-Token on every request.
    if (o.token !== undefined) init.defaults = { token: o.token };
    // Cast once: see the comment above RawConsul.
    this.#raw = new Consul(init) as unknown as RawConsul;
  }

  async registerService(def: ServiceDefinition): Promise<void> {
    await this.#call('agent.service.register', () => this.#raw.agent.service.register(this.#opts({ ...def })));
  }

  async deregisterService(id: string): Promise<void> {
    requireString('id', id);
    try {
      await this.#call('agent.service.deregister', () => this.#raw.agent.service.deregister(this.#opts({ id })));
    } catch (err) {
      if (err instanceof RegistryHttpError && err.statusCode === 404) return;
      throw err;
    }
  }

  async passCheck(checkId: string, note?: string): Promise<void> {
    requireString('checkId', checkId);
    await this.#call('agent.check.pass', () => this.#raw.agent.check.pass(this.#opts({ id: checkId, note })));
  }

  async failCheck(checkId: string, note?: string): Promise<void> {
    requireString('checkId', checkId);
    await this.#call('agent.check.fail', () => this.#raw.agent.check.fail(this.#opts({ id: checkId, note })));
  }

  async setServiceMaintenance(serviceId: string, enable: boolean, reason?: string): Promise<void> {
    requireString('serviceId', serviceId);
    await this.#call('agent.service.maintenance', () =>
      this.#raw.agent.service.maintenance(this.#opts({ id: serviceId, enable, reason })),
    );
  }

  async healthService(
    name: string,
    q: HealthServiceQuery,
  ): Promise<{ entries: HealthServiceEntry[]; index: string | undefined }> {
    requireString('name', name);
    const opts: Record<string, unknown> = { service: name };
    if (q.passing === true) opts.passing = true;
    if (q.tags !== undefined && q.tags.length > 0) opts.tag = [...q.tags];
    if (q.filter !== undefined && q.filter !== '') opts.filter = q.filter;
    if (this.#datacenter !== undefined) opts.dc = this.#datacenter;
    const res = await this.#read('health.service', (o) => this.#raw.health.service(o), opts, q);
    const entries = parseHealthEntries(res.body);
    return { entries, index: parseIndex(res.res.headers['x-consul-index']) };
  }

  async kvGet(
    key: string,
    q: BlockingReadOptions = {},
  ): Promise<{ value: Buffer | undefined; index: string | undefined }> {
    requireString('key', key);
    const opts: Record<string, unknown> = { key, buffer: true };
    if (this.#datacenter !== undefined) opts.dc = this.#datacenter;
    const res = await this.#read('kv.get', (o) => this.#raw.kv.get(o), opts, q);
    const index = parseIndex(res.res.headers['x-consul-index']);
    if (res.body === undefined) return { value: undefined, index };
    if (typeof res.body !== 'object' || res.body === null)
      throw new RegistryBadResponseError('consul kv.get: entry is not an object');
    const v = (res.body as { Value?: unknown }).Value;
    if (v === null || v === undefined) return { value: Buffer.alloc(0), index };
    if (!Buffer.isBuffer(v)) throw new RegistryBadResponseError('consul kv.get: Value is not base64');
    return { value: v, index };
  }

  async kvPut(key: string, value: string | Buffer): Promise<boolean> {
    requireString('key', key);
    const opts: Record<string, unknown> = { key, value };
    if (this.#datacenter !== undefined) opts.dc = this.#datacenter;
    const out = await this.#call('kv.set', () => this.#raw.kv.set(this.#opts(opts)));
    if (typeof out !== 'boolean') throw new RegistryBadResponseError('consul kv.set: expected true or false');
    return out;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#raw.destroy();
  }

  #opts(o: Record<string, unknown>, timeoutMs = this.#requestTimeoutMs): Record<string, unknown> {
    const out: Record<string, unknown> = { timeout: timeoutMs };
    for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
    return out;
  }

  /** A GET that needs the response headers (X-Consul-Index) and may block and be aborted. */
  async #read(
    op: string,
    fn: RawCall,
    base: Record<string, unknown>,
    q: BlockingReadOptions,
  ): Promise<{ res: RawResponse; body: unknown }> {
    const opts = { ...base };
    let timeoutMs = this.#requestTimeoutMs;
    if (q.index !== undefined) {
      if (!/^[0-9]+$/.test(q.index) || BigInt(q.index) > MAX_UINT64)
        throw new TypeError(`index must be a decimal uint64, got "${q.index}"`);
      if (BigInt(q.index) > 0n) {
        opts.index = BigInt(q.index).toString();
        const waitMs = q.wait === undefined ? 300_000 : parseWaitMs(q.wait);
        if (q.wait !== undefined) opts.wait = q.wait;
        // Consul adds up to wait/16 of jitter; allow for it plus transport slack before calling the query dead.
        timeoutMs = Math.ceil(waitMs + waitMs / 10) + this.#requestTimeoutMs;
      }
    } else if (q.wait !== undefined) {
      parseWaitMs(q.wait);
    }
    const signal = q.signal;
    signal?.throwIfAborted();
    const ctx: RawCtx = new EventEmitter();
    ctx.includeResponse = true;
    const onAbort = (): void => {
      ctx.emit('cancel');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // A blocking query is not retried on a reset: the reset usually means the registry restarted, and the caller must
      // start over with a fresh (index 0) read rather than block on an index the new registry has never reached.
      const out = await this.#call(
        op,
        () => fn(this.#opts({ ...opts, ctx }, timeoutMs)),
        signal,
        opts.index === undefined,
      );
      if (!Array.isArray(out) || out.length < 1 || typeof out[0] !== 'object' || out[0] === null) {
        throw new RegistryBadResponseError(`consul ${op}: no response`);
      }
      return { res: out[0] as RawResponse, body: out[1] };
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async #call(op: string, fn: () => Promise<unknown>, signal?: AbortSignal, retryReset = true): Promise<unknown> {
    if (this.#closed) throw new RegistryUnavailableError(`consul ${op}: client is closed`);
    try {
      return await fn();
    } catch (err) {
      const raw = err as RawError;
      // A pooled keep-alive socket closed by the server between requests: every call we make is idempotent, so retry
      // once on a fresh connection instead of reporting an outage that is not one.
      if (retryReset && raw.code === 'ECONNRESET' && signal?.aborted !== true) {
        try {
          return await fn();
        } catch (again) {
          throw mapError(op, again, signal);
        }
      }
      throw mapError(op, err, signal);
    }
  }
}

function mapError(op: string, err: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted === true) return signal.reason;
  if (typeof err !== 'object' || err === null) return new RegistryUnavailableError(`consul ${op}: ${String(err)}`, err);
  const e = err as RawError;
  if (e.isValidation === true)
    return new TypeError(`consul ${op}: ${e.message ?? 'invalid arguments'}`, { cause: err });
  if (e.isResponse === true && e.response !== undefined) {
    const status = e.response.statusCode ?? 0;
    return new RegistryHttpError(status, `consul ${op}: HTTP ${status}: ${bodyText(e.response.body, e.message)}`, err);
  }
  if (e.isCodec === true) return new RegistryBadResponseError(`consul ${op}: response body is not valid JSON`, err);
  if (e.isTimeout === true) return new RegistryUnavailableError(`consul ${op}: request timed out`, err);
  if (e.isAbort === true) return new RegistryUnavailableError(`consul ${op}: request aborted`, err);
  const code = e.code ?? '';
  const what = UNAVAILABLE_CODES.has(code) ? code : (e.message ?? 'request failed');
  return new RegistryUnavailableError(`consul ${op}: ${what}`, err);
}

/** The package keeps only error bodies under 80 characters in `message`; we want the full text (truncated for logs). */
function bodyText(body: unknown, fallback: string | undefined): string {
  let text: string;
  if (typeof body === 'string') text = body;
  else if (Buffer.isBuffer(body)) text = body.toString('utf8');
  else if (body !== undefined && body !== null) text = JSON.stringify(body);
  else text = fallback ?? '';
  text = text.trim();
  return text.length > 500 ? `${text.slice(0, 500)}...` : text;
}

function readPemFile(option: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(option, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

function requireString(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${name} must be a non-empty string`);
}
