// How a spearlet describes itself in Consul: service ID, check ID, tags and meta, validated as Consul would.
import { ConfigError } from '../errors.ts';

export const DEFAULT_SPEARLET_SERVICE_NAME = 'spearlet';
export const MESH_TAG = 'spear-mesh';

export function spearletServiceId(id: string): string {
  return `spearlet-${id}`;
}

export function spearletCheckId(id: string): string {
  return `spearlet:${id}:ttl`;
}

export interface SpearletServiceMetaInput {
  spearletId: string;
  version: string;
  /** Mesh protocol version, e.g. 1. */
  proto: number;
  adminPort?: number;
  /** Host the admin API is bound to, so `status` can tell a loopback-only admin API from a reachable one. */
  adminHost?: string;
  zone?: string;
  /** Unix socket path, where the spearlet offers one. */
  socketPath?: string;
  maxConns?: number;
  tls?: boolean;
}

/** Meta keys read by discovery/endpoint.ts; keep the two in step. */
export function buildSpearletServiceMeta(input: SpearletServiceMetaInput): Record<string, string> {
  const meta: Record<string, string> = {
    spearlet_id: input.spearletId,
    version: input.version,
    proto: String(input.proto),
  };
  if (input.adminPort !== undefined) meta.admin_port = String(input.adminPort);
  if (input.adminHost !== undefined && input.adminHost !== '') meta.admin_host = input.adminHost;
  if (input.zone !== undefined && input.zone !== '') meta.zone = input.zone;
  if (input.socketPath !== undefined && input.socketPath !== '') meta.socket = input.socketPath;
  if (input.maxConns !== undefined) meta.max_conns = String(input.maxConns);
  if (input.tls === true) meta.tls = 'true';
  validateServiceMeta('meta', meta);
  return meta;
}

/** `spear-mesh`, `proto-<n>`, `zone-<z>` (when zoned), then the extra capability tags, without duplicates. */
export function buildSpearletTags(input: { proto: number; zone?: string; extra?: readonly string[] }): string[] {
  const tags = [MESH_TAG, `proto-${input.proto}`];
  if (input.zone !== undefined && input.zone !== '') tags.push(`zone-${input.zone}`);
  for (const t of input.extra ?? []) if (!tags.includes(t)) tags.push(t);
  return tags;
}

/** Consul's own limits on service meta (agent/structs ValidateServiceMetadata), checked before we send. */
export function validateServiceMeta(option: string, meta: Readonly<Record<string, string>>): void {
  const entries = Object.entries(meta);
  if (entries.length > 64) throw new ConfigError(option, `at most 64 meta pairs, got ${entries.length}`);
  for (const [k, v] of entries) {
    if (!/^[a-zA-Z0-9_-]{1,128}$/.test(k))
      throw new ConfigError(option, `meta key "${k}" must be 1-128 of [a-zA-Z0-9_-]`);
    if (k.startsWith('consul-')) throw new ConfigError(option, `meta key "${k}" uses the reserved "consul-" prefix`);
    if (typeof v !== 'string') throw new ConfigError(option, `meta value for "${k}" must be a string`);
    if (v.length > 512) throw new ConfigError(option, `meta value for "${k}" is longer than 512 characters`);
  }
}
