// Chooses how to reach an endpoint: its Unix socket when it is on this host, else TCP, with TLS when advertised.
import { networkInterfaces } from 'node:os';
import type { TlsClientOptions, TransportTarget } from '../conn/transport.ts';
import type { Endpoint } from '../discovery/endpoint.ts';

const LOOPBACK = /^(127\.|::1$|localhost$|::ffff:127\.)/i;

let localAddresses: ReadonlySet<string> | undefined;

/** True when `address` is this host: loopback, empty (static unix endpoints) or one of our interface addresses. */
export function isLocalAddress(address: string): boolean {
  if (address === '' || LOOPBACK.test(address)) return true;
  localAddresses ??= new Set(
    Object.values(networkInterfaces())
      .flatMap((list) => list ?? [])
      .map((i) => i.address),
  );
  return localAddresses.has(address);
}

export interface TargetChoice {
  readonly preferUnixSocket: boolean;
  readonly tls: TlsClientOptions | undefined;
}

export function transportTargetFor(endpoint: Endpoint, choice: TargetChoice): TransportTarget {
  const path = endpoint.socketPath;
  if (path !== undefined && (endpoint.port === 0 || (choice.preferUnixSocket && isLocalAddress(endpoint.address)))) {
    return { kind: 'unix', path };
  }
  if (!endpoint.tls) return { kind: 'tcp', host: endpoint.address, port: endpoint.port };
  const servername = choice.tls?.servername ?? endpoint.meta.tls_servername;
  return {
    kind: 'tcp',
    host: endpoint.address,
    port: endpoint.port,
    tls: { ...choice.tls, ...(servername === undefined ? {} : { servername }) },
  };
}
