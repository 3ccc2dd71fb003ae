// Admin API security options: credentials (bearer tokens, mTLS), the loopback-only rule without them, host names.
import { networkInterfaces } from 'node:os';
import { ConfigError } from '../errors.ts';
import { isLoopbackHost } from '../util/host-origin.ts';

export interface AdminTlsOptions {
  /** PEM certificate chain and key the admin API serves HTTPS with. */
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** PEM CA bundle: a client certificate it signed grants full admin access (mTLS). */
  readonly clientCa: string | Buffer;
}

export interface AdminSecurityOptions {
  /** Bearer token for every route (drain, tasks, faults, reads). */
  readonly token?: string;
  /** Bearer token for the read-only routes (GET): /metrics, /v1/info, /v1/sessions, GET /v1/tasks. */
  readonly readToken?: string;
  /** HTTPS with client certificates. */
  readonly tls?: AdminTlsOptions;
  /** /metrics without a credential, for scrapers that cannot send one. */
  readonly publicMetrics?: boolean;
  /** Further names the Host header may carry (the advertised address). */
  readonly hosts?: readonly string[];
}

/** Whether any credential is configured; without one the admin API is open and must stay on loopback. */
export function hasAdminCredentials(s: AdminSecurityOptions | undefined): boolean {
  return s !== undefined && (s.token !== undefined || s.readToken !== undefined || s.tls !== undefined);
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

/** Refuses an admin bind address that is not loopback when no credential is configured (names the flags). */
export function checkAdminBind(host: string, security: AdminSecurityOptions | undefined): void {
  if (hasAdminCredentials(security) || isLoopbackHost(host)) return;
  throw new ConfigError(
    '--admin',
    `${host} is not a loopback address and the admin API has no credentials: give --admin-token-file ` +
      '(or --admin-read-token-file, or --admin-tls-cert, --admin-tls-key and --admin-tls-client-ca), ' +
      'or bind 127.0.0.1',
  );
}

function checkToken(name: string, value: string | undefined): void {
  if (value === undefined) return;
  if (typeof value !== 'string' || value.length < 16 || /\s/.test(value))
    throw new ConfigError(name, 'must be at least 16 characters without whitespace');
}

/** Validates the options in one pass; errors name the CLI flag. */
export function validateAdminSecurity(s: AdminSecurityOptions | undefined): void {
  if (s === undefined) return;
  checkToken('--admin-token-file', s.token);
  checkToken('--admin-read-token-file', s.readToken);
  if (s.token !== undefined && s.token === s.readToken)
    throw new ConfigError('--admin-read-token-file', 'must differ from the admin token');
  // Checked at run time for JavaScript callers.
  const tls = s.tls as Partial<AdminTlsOptions> | undefined;
  if (tls !== undefined && (tls.cert === undefined || tls.key === undefined || tls.clientCa === undefined))
    throw new ConfigError('--admin-tls-cert', 'needs --admin-tls-key and --admin-tls-client-ca');
}

/**
 * Host names (lower case, no port) a request's Host header may carry: loopback names, the bound address and the
 * advertised ones; for a wildcard bind, every address of this machine's interfaces.
 */
export function allowedHostNames(bound: string, extra: readonly string[] = []): Set<string> {
  const names = new Set<string>(extra.map((h) => h.toLowerCase()));
  if (WILDCARDS.has(bound)) {
    for (const list of Object.values(networkInterfaces()))
      for (const a of list ?? []) names.add(a.address.toLowerCase().replace(/%.*$/, ''));
  } else {
    names.add(bound.toLowerCase());
  }
  return names;
}
