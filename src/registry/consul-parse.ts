// Parsing what Consul sends back: the X-Consul-Index header, Go wait durations, and health/service bodies.
import { RegistryBadResponseError } from '../errors.ts';
import type { HealthServiceEntry } from './consul-types.ts';

const MAX_UINT64 = 2n ** 64n - 1n;

/** X-Consul-Index as a canonical decimal string, or undefined when absent or not a uint64. */
export function parseIndex(header: string | string[] | undefined): string | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (v === undefined || !/^[0-9]{1,20}$/.test(v.trim())) return undefined;
  const n = BigInt(v.trim());
  return n > MAX_UINT64 ? undefined : n.toString();
}

/** Go duration subset accepted for `wait`: a number with ms, s, m or h. */
export function parseWaitMs(wait: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(wait);
  if (!m) throw new TypeError(`wait must be a Go duration such as "30s" or "500ms", got "${wait}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}

export function parseHealthEntries(body: unknown): HealthServiceEntry[] {
  if (!Array.isArray(body)) throw new RegistryBadResponseError('consul health.service: expected a JSON array');
  return body.map((item: unknown, i) => {
    const bad = (what: string): RegistryBadResponseError =>
      new RegistryBadResponseError(`consul health.service: entry ${i}: ${what}`);
    if (!isObject(item)) throw bad('not an object');
    const node = item.Node;
    const svc = item.Service;
    if (!isObject(node) || !isObject(svc)) throw bad('missing Node or Service');
    if (typeof svc.ID !== 'string' || typeof svc.Service !== 'string') throw bad('Service.ID/Service missing');
    // Consul omits Port when it is 0 (omitempty).
    const port = svc.Port ?? 0;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) throw bad('bad Service.Port');
    const tags = svc.Tags ?? [];
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) throw bad('bad Service.Tags');
    const meta = svc.Meta ?? {};
    if (!isObject(meta) || !Object.values(meta).every((v) => typeof v === 'string')) throw bad('bad Service.Meta');
    const checks = item.Checks ?? [];
    if (!Array.isArray(checks)) throw bad('bad Checks');
    return {
      Node: {
        Node: typeof node.Node === 'string' ? node.Node : '',
        Address: typeof node.Address === 'string' ? node.Address : '',
        ...(typeof node.Datacenter === 'string' ? { Datacenter: node.Datacenter } : {}),
      },
      Service: {
        ID: svc.ID,
        Service: svc.Service,
        Tags: tags,
        Address: typeof svc.Address === 'string' ? svc.Address : '',
        Port: port,
        Meta: meta as Record<string, string>,
      },
      Checks: checks.filter(isObject).map((c) => ({
        Node: str(c.Node),
        CheckID: str(c.CheckID),
        Name: str(c.Name),
        Status: str(c.Status),
        ...(typeof c.Output === 'string' ? { Output: c.Output } : {}),
        ...(typeof c.ServiceID === 'string' ? { ServiceID: c.ServiceID } : {}),
        ...(typeof c.ServiceName === 'string' ? { ServiceName: c.ServiceName } : {}),
      })),
    };
  });
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
