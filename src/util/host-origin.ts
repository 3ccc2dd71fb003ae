// Host and Origin checks shared by the HTTP surfaces (the admin API, the dashboard, the metrics endpoint): the DNS
// rebinding defence (the Host header must name this server) and the cross-site defence (an Origin must be its own).
// Each surface decides which names it accepts and how it answers a refusal; the parsing and the rules live here.
import { isIP } from 'node:net';

/** `localhost` (and `*.localhost`), 127.0.0.0/8 and ::1 (plain, bracketed or IPv4-mapped): only this machine. */
export function isLoopbackHost(host: string): boolean {
  const lower = host.toLowerCase();
  const h = lower.startsWith('[') && lower.endsWith(']') ? lower.slice(1, -1) : lower;
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1' || h === '0:0:0:0:0:0:0:1' || h.startsWith('::ffff:127.');
}

/** `host[:port]` or `[v6][:port]` => lower-case host without brackets; undefined when malformed. */
export function hostOf(header: string): string | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]/@\s]+))(?::(\d{1,5}))?$/.exec(header);
  if (m === null) return undefined;
  return (m[1] ?? m[2] ?? '').toLowerCase();
}

/** An IP literal or a loopback name: no DNS name an attacker controls can be rebound to it. */
export function isAddressLiteral(name: string): boolean {
  return isIP(name) !== 0 || isLoopbackHost(name);
}

export interface HostOriginRule {
  /** Whether a Host header's name (from hostOf) is this server's. */
  readonly acceptHost: (name: string) => boolean;
  /** The schemes this server is reached by: an Origin must be one of them with the request's own Host. */
  readonly schemes: readonly ('http' | 'https')[];
}

/** Why a request is refused, or undefined when its Host and Origin are acceptable. */
export type HostOriginRefusal = 'host' | 'origin' | undefined;

export function checkHostOrigin(
  headers: { readonly host?: string | undefined; readonly origin?: string | undefined },
  rule: HostOriginRule,
): HostOriginRefusal {
  const { host, origin } = headers;
  const name = host === undefined ? undefined : hostOf(host);
  if (name === undefined || !rule.acceptHost(name)) return 'host';
  if (origin !== undefined && !rule.schemes.some((s) => origin === `${s}://${host ?? ''}`)) return 'origin';
  return undefined;
}
