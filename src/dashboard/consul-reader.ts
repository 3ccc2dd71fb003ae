// The few read-only Consul HTTP calls the dashboard makes: catalog services, health of a service, every check, KV.
// It never writes: the dashboard's Consul token may be a read-only one (deploy/consul/agent-policy.hcl).
import { readFileSync } from 'node:fs';
import type { ResolvedConsulOptions } from '../registry/consul-options.ts';
import { httpGet, type GetOptions } from './http-get.ts';

export interface ConsulCheck {
  readonly node: string;
  readonly checkId: string;
  readonly name: string;
  readonly status: string;
  readonly output: string;
  readonly serviceId: string;
  readonly serviceName: string;
}

export interface ConsulInstance {
  readonly node: string;
  readonly nodeAddress: string;
  readonly serviceId: string;
  readonly address: string;
  readonly port: number;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string>>;
  readonly checks: readonly ConsulCheck[];
}

export interface KvListing {
  readonly prefix: string;
  /** Keys and "folders" (ending in '/') directly under the prefix. */
  readonly keys: readonly string[];
}

export interface KvValue {
  readonly key: string;
  /** UTF-8 text, or base64 when the bytes are not valid UTF-8. */
  readonly value: string;
  readonly encoding: 'utf8' | 'base64';
  readonly size: number;
  readonly flags: number;
  readonly modifyIndex: number;
}

/** Errors carry the HTTP status (or a socket code) for the UI. */
export class ConsulReadError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = 'ConsulReadError';
    this.status = status;
  }
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

function parseCheck(raw: unknown): ConsulCheck {
  const c = obj(raw);
  return {
    node: str(c.Node),
    checkId: str(c.CheckID),
    name: str(c.Name),
    status: str(c.Status),
    output: str(c.Output),
    serviceId: str(c.ServiceID),
    serviceName: str(c.ServiceName),
  };
}

/** Encodes a KV key path segment by segment (slashes stay). */
const kvPath = (key: string): string => key.split('/').map(encodeURIComponent).join('/');

export class ConsulReader {
  readonly #base: URL;
  readonly #get: GetOptions;
  readonly #dc: string | undefined;

  constructor(o: ResolvedConsulOptions, timeoutMs: number) {
    const unix = o.addr.startsWith('unix://') ? o.addr.slice('unix://'.length) : undefined;
    this.#base = new URL(unix === undefined ? o.addr : 'http://localhost');
    this.#dc = o.datacenter;
    this.#get = {
      timeoutMs,
      headers: o.token !== undefined ? { 'x-consul-token': o.token } : {},
      ...(o.caFile !== undefined ? { ca: readFileSync(o.caFile) } : {}),
      ...(unix !== undefined ? { socketPath: unix } : {}),
    };
  }

  /** The address shown in the UI (never the token). */
  get address(): string {
    return this.#base.origin;
  }

  async #json(path: string, query: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
    const url = new URL(path, this.#base);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    if (this.#dc !== undefined) url.searchParams.set('dc', this.#dc);
    const res = await httpGet(url, this.#get);
    if (res.status === 404) return { status: 404, body: null };
    if (res.status !== 200) throw new ConsulReadError(`consul GET ${path}: HTTP ${res.status}`, res.status);
    try {
      return { status: 200, body: JSON.parse(res.text) as unknown };
    } catch {
      throw new ConsulReadError(`consul GET ${path}: not JSON`, res.status);
    }
  }

  /** Service name to its tags (GET /v1/catalog/services). */
  async services(): Promise<Record<string, readonly string[]>> {
    const { body } = await this.#json('/v1/catalog/services');
    const out: Record<string, readonly string[]> = {};
    for (const [name, tags] of Object.entries(obj(body))) {
      out[name] = Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
    }
    return out;
  }

  /** Every instance of `name` with its checks, passing or not (GET /v1/health/service/:name). */
  async healthService(name: string): Promise<ConsulInstance[]> {
    const { body } = await this.#json(`/v1/health/service/${encodeURIComponent(name)}`);
    if (!Array.isArray(body)) return [];
    return body.map((raw): ConsulInstance => {
      const e = obj(raw);
      const node = obj(e.Node);
      const svc = obj(e.Service);
      const meta: Record<string, string> = {};
      for (const [k, v] of Object.entries(obj(svc.Meta))) if (typeof v === 'string') meta[k] = v;
      return {
        node: str(node.Node),
        nodeAddress: str(node.Address),
        serviceId: str(svc.ID),
        address: str(svc.Address) !== '' ? str(svc.Address) : str(node.Address),
        port: typeof svc.Port === 'number' ? svc.Port : 0,
        tags: Array.isArray(svc.Tags) ? svc.Tags.filter((t): t is string => typeof t === 'string') : [],
        meta,
        checks: Array.isArray(e.Checks) ? e.Checks.map(parseCheck) : [],
      };
    });
  }

  /** Every check in the datacenter (GET /v1/health/state/any). */
  async checks(): Promise<ConsulCheck[]> {
    const { body } = await this.#json('/v1/health/state/any');
    return Array.isArray(body) ? body.map(parseCheck) : [];
  }

  /** Keys one level under `prefix` (GET /v1/kv/<prefix>?keys&separator=/); a missing prefix lists nothing. */
  async kvList(prefix: string): Promise<KvListing> {
    const { body } = await this.#json(`/v1/kv/${kvPath(prefix)}`, { keys: '', separator: '/' });
    const keys = Array.isArray(body) ? body.filter((k): k is string => typeof k === 'string') : [];
    return { prefix, keys };
  }

  /** One key's value, or null when it does not exist. */
  async kvGet(key: string): Promise<KvValue | null> {
    const { status, body } = await this.#json(`/v1/kv/${kvPath(key)}`);
    if (status === 404 || !Array.isArray(body)) return null;
    const entry = obj(body[0]);
    const bytes = typeof entry.Value === 'string' ? Buffer.from(entry.Value, 'base64') : Buffer.alloc(0);
    const text = bytes.toString('utf8');
    const utf8 = Buffer.from(text, 'utf8').equals(bytes);
    return {
      key: str(entry.Key),
      value: utf8 ? text : bytes.toString('base64'),
      encoding: utf8 ? 'utf8' : 'base64',
      size: bytes.length,
      flags: typeof entry.Flags === 'number' ? entry.Flags : 0,
      modifyIndex: typeof entry.ModifyIndex === 'number' ? entry.ModifyIndex : 0,
    };
  }
}
