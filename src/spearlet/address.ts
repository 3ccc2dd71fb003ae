// The address a spearlet registers in Consul: the listen host, or a routable one when listening on a wildcard.
import { networkInterfaces } from 'node:os';

const WILDCARDS: ReadonlySet<string> = new Set(['0.0.0.0', '::', '[::]', '']);

export function isWildcardHost(host: string): boolean {
  return WILDCARDS.has(host);
}

/** First non-internal IPv4 address of this host, else 127.0.0.1. */
export function firstRoutableIPv4(interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces()): string {
  for (const list of Object.values(interfaces)) {
    for (const addr of list ?? []) {
      if (addr.family === 'IPv4' && !addr.internal) return addr.address;
    }
  }
  return '127.0.0.1';
}

/** What agents should dial for a listener bound to `host`. */
export function advertiseAddress(host: string, explicit?: string): string {
  if (explicit !== undefined && explicit !== '') return explicit;
  return isWildcardHost(host) ? firstRoutableIPv4() : host;
}
