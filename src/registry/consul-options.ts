// Where and how to reach Consul: explicit options merged over Consul's standard CONSUL_HTTP_* environment, validated once.
import { ConfigError } from '../errors.ts';

export const DEFAULT_CONSUL_ADDR = 'http://127.0.0.1:8500';
export const DEFAULT_CONSUL_REQUEST_TIMEOUT_MS = 10_000;

export interface ConsulOptions {
  /** `http://127.0.0.1:8500`, `https://host:8501`, `127.0.0.1:8500` or `unix:///path/consul.sock`. */
  addr?: string;
  /** ACL token, sent as `X-Consul-Token`; never logged. */
  token?: string;
  /** Use HTTPS. When true it wins over an `http://` scheme in `addr`, as in Consul's own client. */
  ssl?: boolean;
  /** PEM file with the CA that signed Consul's HTTPS certificate. */
  caFile?: string;
  /** PEM client certificate for Consul's HTTPS port when it sets `verify_incoming` (with keyFile). */
  certFile?: string;
  /** PEM private key of certFile. */
  keyFile?: string;
  /** Name to verify Consul's certificate against (and send as SNI) instead of the host in `addr`. */
  tlsServerName?: string;
  /** Datacenter for catalog, health and KV reads (`?dc=`); agent endpoints always act on the local agent. */
  datacenter?: string;
  /** Upper bound for one non-blocking request; blocking queries get their wait time plus a margin. */
  requestTimeoutMs?: number;
}

/** A Consul address alone (`'http://127.0.0.1:8500'`) is short for `{ addr }`. */
export type ConsulOptionsInput = ConsulOptions | string;

export type ResolvedConsulOptions = Required<Pick<ConsulOptions, 'addr'>> & ConsulOptions;

const KNOWN_KEYS: ReadonlySet<string> = new Set([
  'addr',
  'token',
  'ssl',
  'caFile',
  'certFile',
  'keyFile',
  'tlsServerName',
  'datacenter',
  'requestTimeoutMs',
]);

/**
 * Explicit options win over CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, CONSUL_HTTP_SSL, CONSUL_CACERT, CONSUL_CLIENT_CERT,
 * CONSUL_CLIENT_KEY and CONSUL_TLS_SERVER_NAME (empty variables count as unset, as in Consul). The result is frozen; `addr` always carries a scheme (`http://`, `https://` or `unix://`)
 * and agrees with `ssl`. Throws ConfigError naming the offending option.
 */
export function resolveConsulOptions(
  input: ConsulOptionsInput,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedConsulOptions {
  // Callers from plain JavaScript may pass anything: check the shape before reading keys.
  const raw: unknown = input;
  if (typeof raw !== 'string' && (typeof raw !== 'object' || raw === null || Array.isArray(raw)))
    throw new ConfigError('consul', 'must be an address string or an options object');
  const explicit: ConsulOptions = typeof input === 'string' ? { addr: input } : input;
  for (const key of Object.keys(explicit)) {
    if (!KNOWN_KEYS.has(key)) throw new ConfigError(`consul.${key}`, 'unknown option');
  }
  const envOr = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v === '' ? undefined : v;
  };

  const addrRaw = explicit.addr ?? envOr('CONSUL_HTTP_ADDR') ?? DEFAULT_CONSUL_ADDR;
  const addrOption =
    explicit.addr !== undefined ? 'consul.addr' : envOr('CONSUL_HTTP_ADDR') ? 'CONSUL_HTTP_ADDR' : 'consul.addr';

  let ssl: boolean | undefined = explicit.ssl;
  if (ssl !== undefined && typeof ssl !== 'boolean') throw new ConfigError('consul.ssl', 'must be a boolean');
  if (ssl === undefined) {
    const sslEnv = envOr('CONSUL_HTTP_SSL');
    if (sslEnv !== undefined) ssl = parseGoBool('CONSUL_HTTP_SSL', sslEnv);
  }

  const token = explicit.token ?? envOr('CONSUL_HTTP_TOKEN');
  if (token !== undefined) checkToken(explicit.token !== undefined ? 'consul.token' : 'CONSUL_HTTP_TOKEN', token);

  const pathOption = (key: 'caFile' | 'certFile' | 'keyFile', envName: string): string | undefined => {
    const value = explicit[key] ?? envOr(envName);
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      throw new ConfigError(explicit[key] !== undefined ? `consul.${key}` : envName, 'must be a non-empty path');
    }
    return value;
  };
  const caFile = pathOption('caFile', 'CONSUL_CACERT');
  const certFile = pathOption('certFile', 'CONSUL_CLIENT_CERT');
  const keyFile = pathOption('keyFile', 'CONSUL_CLIENT_KEY');
  // A certificate without its key (or the reverse) cannot make a TLS handshake: say so now, not at the first request.
  if ((certFile === undefined) !== (keyFile === undefined)) {
    const missing =
      certFile === undefined ? 'CONSUL_CLIENT_CERT (consul.certFile)' : 'CONSUL_CLIENT_KEY (consul.keyFile)';
    const given =
      certFile === undefined
        ? explicit.keyFile !== undefined
          ? 'consul.keyFile'
          : 'CONSUL_CLIENT_KEY'
        : explicit.certFile !== undefined
          ? 'consul.certFile'
          : 'CONSUL_CLIENT_CERT';
    throw new ConfigError(given, `needs ${missing} as well`);
  }
  const tlsServerName = explicit.tlsServerName ?? envOr('CONSUL_TLS_SERVER_NAME');
  if (tlsServerName !== undefined && (typeof tlsServerName !== 'string' || !/^[A-Za-z0-9.-]+$/.test(tlsServerName))) {
    throw new ConfigError(
      explicit.tlsServerName !== undefined ? 'consul.tlsServerName' : 'CONSUL_TLS_SERVER_NAME',
      'must be a host name of letters, digits, "." or "-"',
    );
  }

  const datacenter = explicit.datacenter;
  if (datacenter !== undefined && (typeof datacenter !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(datacenter))) {
    throw new ConfigError('consul.datacenter', 'must be a non-empty name of letters, digits, "_", "." or "-"');
  }

  const requestTimeoutMs = explicit.requestTimeoutMs ?? DEFAULT_CONSUL_REQUEST_TIMEOUT_MS;
  if (typeof requestTimeoutMs !== 'number' || !Number.isInteger(requestTimeoutMs) || requestTimeoutMs <= 0) {
    throw new ConfigError('consul.requestTimeoutMs', 'must be a positive integer of milliseconds');
  }

  const normalized = normalizeAddr(addrOption, addrRaw, ssl);
  const out: ResolvedConsulOptions = { addr: normalized.addr, ssl: normalized.ssl, requestTimeoutMs };
  if (token !== undefined) out.token = token;
  if (caFile !== undefined) out.caFile = caFile;
  if (certFile !== undefined) out.certFile = certFile;
  if (keyFile !== undefined) out.keyFile = keyFile;
  if (tlsServerName !== undefined) out.tlsServerName = tlsServerName;
  if (datacenter !== undefined) out.datacenter = datacenter;
  return Object.freeze(out);
}

/** Go's strconv.ParseBool, which Consul uses for CONSUL_HTTP_SSL. */
function parseGoBool(option: string, value: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw new ConfigError(option, `not a boolean: "${value}"`);
}

function checkToken(option: string, token: unknown): void {
  // A token goes into an HTTP header: refuse anything that could split or corrupt it. Never echo the value.
  if (typeof token !== 'string' || token === '' || !/^[\x21-\x7e]+$/.test(token)) {
    throw new ConfigError(option, 'must be a non-empty string of printable ASCII without spaces');
  }
}

function normalizeAddr(option: string, raw: unknown, ssl: boolean | undefined): { addr: string; ssl: boolean } {
  if (typeof raw !== 'string' || raw.trim() === '') throw new ConfigError(option, 'must be a non-empty address');
  const value = raw.trim();
  if (value.startsWith('unix://')) {
    const path = value.slice('unix://'.length);
    if (!path.startsWith('/')) throw new ConfigError(option, `unix socket address needs an absolute path: "${value}"`);
    return { addr: `unix://${path}`, ssl: false };
  }
  const schemeMatch = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(value);
  let scheme = schemeMatch?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') {
    throw new ConfigError(option, `unknown protocol scheme "${scheme}"`);
  }
  // Consul's client never falls back to http when TLS was asked for explicitly.
  if (ssl === true) scheme = 'https';
  scheme ??= 'http';
  const hostPort = schemeMatch ? value.slice(schemeMatch[0].length) : value;
  let url: URL;
  try {
    url = new URL(`${scheme}://${hostPort}`);
  } catch {
    throw new ConfigError(option, `not a valid address: "${value}"`);
  }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new ConfigError(option, `must be host:port with no path, query or credentials: "${value}"`);
  }
  if (url.hostname === '') throw new ConfigError(option, `missing host: "${value}"`);
  const port = url.port === '' ? (scheme === 'https' ? 443 : 80) : Number(url.port);
  return { addr: `${scheme}://${url.hostname}:${port}`, ssl: scheme === 'https' };
}
