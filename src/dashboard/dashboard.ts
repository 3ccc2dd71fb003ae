// The dashboard as one object: options checked once, a poller of Consul and the spearlets, and the HTTP app.
//
//   const d = await startDashboard({ consul: { addr }, listen: { host: '127.0.0.1', port: 8600 } });
//   console.log(d.url); ... await d.close();
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../errors.ts';
import { resolveConsulOptions, type ConsulOptions } from '../registry/consul-options.ts';
import type { Logger } from '../util/logger.ts';
import { buildDashboardApp } from './app.ts';
import { ConsulReader } from './consul-reader.ts';
import { DrillRuns } from './drill-runs.ts';
import { isLoopbackHost } from '../util/host-origin.ts';
import { MeshPoller, type AgentSource } from './poller.ts';

export const DEFAULT_DASHBOARD_PORT = 8600;
export const DEFAULT_POLL_INTERVAL_MS = 1000;

export interface DashboardOptions {
  /** Consul to read (addr, token, TLS); CONSUL_HTTP_* fill what is not given. */
  readonly consul: ConsulOptions;
  /** Default 127.0.0.1:8600. A non-loopback host needs `basicAuth`. */
  readonly listen?: { readonly host: string; readonly port: number };
  /** Bearer token for the spearlets' admin APIs (read-only token is enough); never sent to browsers. */
  readonly adminToken?: string;
  /** Credentials browsers must present (HTTP Basic); required when listening off loopback. */
  readonly basicAuth?: { readonly user: string; readonly password: string };
  /** Extra Host header names to accept (a DNS name the dashboard is reached by). */
  readonly allowedHosts?: readonly string[];
  /** Directory of drill JSON reports to show. */
  readonly drillDir?: string;
  /** Agents whose client-side metrics to show. */
  readonly agents?: readonly AgentSource[];
  /** Consul service name of the spearlets (default 'spearlet'). */
  readonly service?: string;
  readonly intervalMs?: number;
  readonly logger?: Logger;
}

export interface Dashboard {
  readonly url: string;
  readonly poller: MeshPoller;
  close(): Promise<void>;
}

const KNOWN: ReadonlySet<string> = new Set([
  'consul',
  'listen',
  'adminToken',
  'basicAuth',
  'allowedHosts',
  'drillDir',
  'agents',
  'service',
  'intervalMs',
  'logger',
]);

/** Validates `o` in one pass (ConfigError naming the option) and starts polling and serving. */
export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  for (const key of Object.keys(o)) if (!KNOWN.has(key)) throw new ConfigError(key, 'unknown option');
  const listen = o.listen ?? { host: '127.0.0.1', port: DEFAULT_DASHBOARD_PORT };
  if (typeof listen.host !== 'string' || listen.host === '') throw new ConfigError('listen', 'host must be non-empty');
  if (!Number.isInteger(listen.port) || listen.port < 0 || listen.port > 65535)
    throw new ConfigError('listen', 'port must be 0..65535');
  if (
    o.basicAuth !== undefined &&
    (o.basicAuth.user === '' || o.basicAuth.user.includes(':') || o.basicAuth.password.length < 12)
  )
    throw new ConfigError('basicAuth', 'needs a user without ":" and a password of at least 12 characters');
  if (!isLoopbackHost(listen.host) && o.basicAuth === undefined)
    throw new ConfigError(
      'listen',
      `${listen.host} is not a loopback address: the dashboard shows the whole mesh, so it needs credentials there (basic auth file)`,
    );
  if (o.adminToken !== undefined && !/^[\x21-\x7e]+$/.test(o.adminToken))
    throw new ConfigError('adminToken', 'must be printable ASCII without spaces');
  const intervalMs = o.intervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  if (!Number.isInteger(intervalMs) || intervalMs < 100 || intervalMs > 60_000)
    throw new ConfigError('intervalMs', 'must be an integer between 100 and 60000');
  const names = new Set<string>();
  for (const a of o.agents ?? []) {
    if (a.name === '' || names.has(a.name))
      throw new ConfigError('agents', `agent names must be unique and non-empty: "${a.name}"`);
    names.add(a.name);
    if ('url' in a && !/^https?:\/\//.test(a.url)) throw new ConfigError('agents', `not an http(s) URL: "${a.url}"`);
  }
  const consul = new ConsulReader(resolveConsulOptions(o.consul), Math.min(800, Math.round(intervalMs * 0.8)));
  const poller = new MeshPoller({
    consul,
    intervalMs,
    ...(o.service !== undefined ? { service: o.service } : {}),
    ...(o.adminToken !== undefined ? { adminToken: o.adminToken } : {}),
    ...(o.agents !== undefined ? { agents: o.agents } : {}),
    ...(o.logger !== undefined ? { logger: o.logger } : {}),
  });
  const app = buildDashboardApp({
    poller,
    consul,
    drills: o.drillDir === undefined ? undefined : new DrillRuns(o.drillDir),
    allowedHosts: o.allowedHosts ?? [],
    basicAuth: o.basicAuth,
    ...(o.logger !== undefined ? { logger: o.logger } : {}),
  });
  try {
    await app.listen({ host: listen.host, port: listen.port });
  } catch (err) {
    await app.close();
    throw err;
  }
  poller.start();
  const addr = app.server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${addr.port}/`,
    poller,
    close() {
      closing ??= (async () => {
        await poller.close();
        // SSE streams are hijacked replies: end them so the server can close.
        app.server.closeAllConnections();
        await app.close();
      })();
      return closing;
    },
  };
}
