// The endpoint a resolver hands to the balancer: one spearlet, how to reach it, and what it advertises.
import type { HealthServiceEntry } from '../registry/consul-client.ts';

export interface Endpoint {
  /** Spearlet id from Meta.spearlet_id, else the Consul service ID (or the static address string). */
  readonly id: string;
  readonly serviceId: string;
  readonly address: string;
  readonly port: number;
  /** Unix socket path (Meta.socket), for agents on the same host. */
  readonly socketPath?: string;
  /** Meta.tls === 'true'. */
  readonly tls: boolean;
  readonly zone?: string;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string>>;
}

/** Builds a frozen endpoint from a health entry, using Service.Address or else Node.Address; undefined if unusable. */
export function endpointFromHealthEntry(entry: HealthServiceEntry): Endpoint | undefined {
  const svc = entry.Service;
  const meta = Object.freeze({ ...svc.Meta });
  const address = svc.Address !== '' ? svc.Address : entry.Node.Address;
  const socketPath = meta.socket !== undefined && meta.socket !== '' ? meta.socket : undefined;
  if (address === '' && socketPath === undefined) return undefined;
  if (svc.Port === 0 && socketPath === undefined) return undefined;
  const zone = meta.zone !== undefined && meta.zone !== '' ? meta.zone : undefined;
  const id = meta.spearlet_id !== undefined && meta.spearlet_id !== '' ? meta.spearlet_id : svc.ID;
  return Object.freeze({
    id,
    serviceId: svc.ID,
    address,
    port: svc.Port,
    ...(socketPath !== undefined ? { socketPath } : {}),
    tls: meta.tls === 'true',
    ...(zone !== undefined ? { zone } : {}),
    tags: Object.freeze([...svc.Tags]),
    meta,
  });
}

/** Canonical text of an endpoint for change detection: id, address, port, tags and meta (the rest derives from meta). */
export function endpointKey(e: Endpoint): string {
  const meta = Object.keys(e.meta)
    .sort()
    .map((k) => [k, e.meta[k]]);
  return JSON.stringify([
    e.id,
    e.serviceId,
    e.address,
    e.port,
    e.socketPath ?? null,
    e.tls,
    e.zone ?? null,
    e.tags,
    meta,
  ]);
}

/** Sorts by id then service ID, so the same set always comes out in the same order (Consul's ?passing order is not stable). */
export function sortEndpoints(list: readonly Endpoint[]): Endpoint[] {
  return [...list].sort(
    (a, b) => cmp(a.id, b.id) || cmp(a.serviceId, b.serviceId) || cmp(a.address, b.address) || a.port - b.port,
  );
}

export function sameEndpointSet(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined || y === undefined || endpointKey(x) !== endpointKey(y)) return false;
  }
  return true;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
