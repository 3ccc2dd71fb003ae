// What the conformance suite runs against: a real Consul when CONSUL_HTTP_ADDR is set, otherwise a dev registry.
// Every test uses its own unique names and cleans up, so the suite can share one real agent.
import { randomBytes } from 'node:crypto';
import Consul from 'consul';
import { startDevRegistry, type DevRegistry } from '../../src/devregistry/index.ts';

export interface Target {
  readonly url: string;
  readonly consul: Consul;
  /** The agent's node name (from /v1/agent/self). */
  readonly node: string;
  readonly datacenter: string;
  /** True when talking to the embedded dev registry. */
  readonly isDev: boolean;
  close(): Promise<void>;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  // A typed view of the body, for test convenience.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
  json<T = unknown>(): T;
}

/** True when no CONSUL_HTTP_ADDR is set, so the suite runs against the embedded dev registry. */
export const againstDev = (process.env.CONSUL_HTTP_ADDR ?? '') === '';

/** For cases that check the dev registry's own behaviour (its limits, its flags): skipped against a real Consul. */
export const devOnly = { skip: againstDev ? false : 'dev registry behaviour, not Consul' } as const;

function baseUrl(addr: string): string {
  return /^https?:\/\//.test(addr) ? addr.replace(/\/$/, '') : `http://${addr}`;
}

export async function openTarget(): Promise<Target> {
  const addr = process.env.CONSUL_HTTP_ADDR;
  let registry: DevRegistry | undefined;
  let url: string;
  if (addr !== undefined && addr !== '') {
    url = baseUrl(addr);
  } else {
    registry = await startDevRegistry({ port: 0 });
    url = registry.url;
  }
  const u = new URL(url);
  const token = process.env.CONSUL_HTTP_TOKEN;
  const consul = new Consul({
    host: u.hostname,
    port: Number(u.port === '' ? 8500 : u.port),
    secure: u.protocol === 'https:',
    ...(token === undefined ? {} : { defaults: { token } }),
  });
  const self = (await (
    await fetch(`${url}/v1/agent/self`, { headers: token === undefined ? {} : { 'X-Consul-Token': token } })
  ).json()) as {
    Config: { NodeName: string; Datacenter: string };
  };
  return {
    url,
    consul,
    node: self.Config.NodeName,
    datacenter: self.Config.Datacenter,
    isDev: registry !== undefined,
    close: async () => {
      consul.destroy();
      await registry?.close();
    },
  };
}

/** A name no other test (or earlier run against a shared Consul) uses. */
export function uniq(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Raw HTTP with fetch; never throws on a status. */
export async function raw(
  t: Target,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const token = process.env.CONSUL_HTTP_TOKEN;
  const res = await fetch(`${t.url}${path}`, {
    method,
    body,
    headers: { ...(token === undefined ? {} : { 'X-Consul-Token': token }), ...headers },
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
  return { status: res.status, headers: res.headers, text, json: <T>() => JSON.parse(text) as T };
}

export const putJson = (t: Target, path: string, value: unknown): Promise<RawResponse> =>
  raw(t, 'PUT', path, JSON.stringify(value));

/** Polls until `cond` holds (for state that settles asynchronously on a real agent). */
export async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs = 20_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface HealthEntry {
  Node: { Node: string; Address: string };
  Service: { ID: string; Service: string; Tags: string[]; Address: string; Port: number; Meta: Record<string, string> };
  Checks: {
    CheckID: string;
    Name: string;
    Status: string;
    Output: string;
    Notes: string;
    ServiceID: string;
    Type: string;
  }[];
}
