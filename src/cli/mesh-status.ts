// Collects what `status` and the `up` live view show: every spearlet Consul knows, its health, and the
// sessions and load its admin API reports.
import type { ConsulClient, HealthServiceEntry } from '../registry/consul-client.ts';
import { adminHeaders, checkAdminAuth } from '../admin/admin-client.ts';

export interface SpearletStatus {
  readonly id: string;
  readonly serviceId: string;
  readonly address: string;
  readonly port: number;
  readonly zone: string | null;
  readonly version: string | null;
  /** Worst status of the instance's checks, node checks included: passing, warning, critical or maintenance. */
  readonly health: string;
  readonly checks: readonly { id: string; status: string; output: string }[];
  /** The admin API URL; null when there is none or it listens on loopback on another host. */
  readonly admin: string | null;
  /** From the admin API; null when it did not answer. */
  readonly sessions: number | null;
  readonly inFlight: number | null;
  readonly ready: boolean | null;
  /** Why sessions, inFlight and ready are unknown, when they are (e.g. a loopback-only admin API on another host). */
  readonly note: string | null;
}

const isLoopback = (host: string): boolean => /^(127\.|::1$|localhost$)/i.test(host);
const isWildcard = (host: string): boolean => host === '0.0.0.0' || host === '::' || host === '';
const urlHost = (host: string): string => (host.includes(':') ? `[${host}]` : host);

const RANK: Record<string, number> = { passing: 0, warning: 1, critical: 2 };

function worst(entry: HealthServiceEntry): string {
  if (entry.Checks.some((c) => c.CheckID.startsWith('_service_maintenance') || c.CheckID === '_node_maintenance')) {
    return 'maintenance';
  }
  let result = 'passing';
  for (const check of entry.Checks) {
    if ((RANK[check.Status] ?? 2) > (RANK[result] ?? 0)) result = check.Status;
  }
  return result;
}

async function getJson(
  url: string,
  timeoutMs: number,
  token: string | undefined,
): Promise<{ status: number; body: unknown } | null> {
  let res: Response;
  try {
    res = await fetch(url, { headers: adminHeaders(token), signal: AbortSignal.timeout(timeoutMs) });
  } catch {
    return null;
  }
  // A refused credential is the user's to fix, not an unreachable spearlet.
  await checkAdminAuth(url, res);
  try {
    const text = await res.text();
    let body: unknown = null;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      body = null;
    }
    return { status: res.status, body };
  } catch {
    return null;
  }
}

function numberField(value: unknown, key: string): number | null {
  if (typeof value !== 'object' || value === null) return null;
  const field = (value as Record<string, unknown>)[key];
  return typeof field === 'number' ? field : null;
}

export async function collectStatus(
  consul: ConsulClient,
  service = 'spearlet',
  options: { adminTimeoutMs?: number; adminToken?: string } = {},
): Promise<SpearletStatus[]> {
  const { entries } = await consul.healthService(service, {});
  const timeout = options.adminTimeoutMs ?? 1000;
  const rows = await Promise.all(
    entries.map(async (entry): Promise<SpearletStatus> => {
      const meta = entry.Service.Meta;
      const address = entry.Service.Address !== '' ? entry.Service.Address : entry.Node.Address;
      const id = meta.spearlet_id ?? entry.Service.ID;
      const adminPort = meta.admin_port;
      // admin_host (published by the spearlet) is where its admin API listens; a wildcard means "at the service address".
      const adminHost = meta.admin_host ?? '';
      const host = isWildcard(adminHost) ? address : adminHost;
      const admin = adminPort !== undefined && adminPort !== '' ? `http://${urlHost(host)}:${adminPort}` : null;
      let sessions: number | null = null;
      let inFlight: number | null = null;
      let ready: boolean | null = null;
      let note: string | null = admin === null ? 'no admin API published in Consul meta' : null;
      let reachable = admin !== null;
      if (admin !== null && isLoopback(host) && !isLoopback(address)) {
        // A loopback-only admin API answers only on the spearlet's own host. It is this one if the open /health names it.
        const health = await getJson(`${admin}/health`, timeout, undefined);
        const sameSpearlet = health?.status === 200 && (health.body as { spearlet?: unknown } | null)?.spearlet === id;
        if (!sameSpearlet) {
          reachable = false;
          note = `admin API listens on ${urlHost(host)}:${adminPort ?? ''} of ${address} only: run status on that host`;
        }
      }
      if (admin !== null && reachable) {
        const [sess, rdy] = await Promise.all([
          getJson(`${admin}/v1/sessions`, timeout, options.adminToken),
          getJson(`${admin}/ready`, timeout, undefined),
        ]);
        if (sess !== null && sess.status === 200) {
          const list = Array.isArray(sess.body) ? sess.body : (sess.body as { sessions?: unknown } | null)?.sessions;
          if (Array.isArray(list)) {
            sessions = list.length;
            inFlight = list.reduce<number>((sum, s) => sum + (numberField(s, 'inFlight') ?? 0), 0);
          }
        } else {
          note =
            sess === null
              ? `admin API at ${admin} did not answer`
              : `admin API at ${admin}: HTTP ${sess.status} for /v1/sessions`;
        }
        if (rdy !== null) ready = rdy.status === 200;
      }
      return {
        id,
        serviceId: entry.Service.ID,
        address,
        port: entry.Service.Port,
        zone: meta.zone ?? null,
        version: meta.version ?? null,
        health: worst(entry),
        checks: entry.Checks.map((c) => ({ id: c.CheckID, status: c.Status, output: c.Output ?? '' })),
        // A loopback URL that belongs to another host's spearlet is not its admin API: never hand it to drills.
        admin: reachable ? admin : null,
        sessions,
        inFlight,
        ready,
        note,
      };
    }),
  );
  return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** A fixed-width table of spearlet rows, for terminals. */
export function formatStatusTable(rows: readonly SpearletStatus[]): string {
  const header = ['SPEARLET', 'ADDRESS', 'ZONE', 'HEALTH', 'READY', 'SESSIONS', 'IN-FLIGHT'];
  const body = rows.map((r) => [
    r.id,
    `${r.address}:${r.port}`,
    r.zone ?? '-',
    r.health,
    r.ready === null ? '?' : r.ready ? 'yes' : 'no',
    r.sessions === null ? '?' : String(r.sessions),
    r.inFlight === null ? '?' : String(r.inFlight),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const notes = rows.filter((r) => r.note !== null).map((r) => `${r.id}: ${r.note ?? ''}`);
  return [line(header), ...body.map(line), ...notes].join('\n') + '\n';
}
