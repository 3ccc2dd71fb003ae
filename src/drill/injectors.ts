// Fault injectors for drills: signals to local spearlet processes, or the admin fault endpoint of a spearlet
// started with --enable-drills (for remote clusters, and for `partition`, which needs the spearlet's cooperation).
import type { LocalMesh } from '../localmesh/local-mesh.ts';
import { adminHeaders, checkAdminAuth } from '../admin/admin-client.ts';
import type { ConsulOptionsInput } from '../registry/consul-options.ts';
import { Flapper } from './flap.ts';
import type { Fault } from './report.ts';
import type { FaultInjector } from './run-drill.ts';

/** Posts a fault to a spearlet's admin API: POST /v1/faults {fault, durationMs}. */
export async function postFault(
  adminUrl: string,
  fault: string,
  durationMs: number,
  adminToken?: string,
): Promise<void> {
  const res = await fetch(`${adminUrl}/v1/faults`, {
    method: 'POST',
    headers: adminHeaders(adminToken, true),
    body: JSON.stringify({ fault, durationMs }),
    signal: AbortSignal.timeout(5000),
  });
  await checkAdminAuth(`${adminUrl}/v1/faults`, res);
  if (res.status !== 200 && res.status !== 202) {
    throw new Error(
      `${adminUrl}/v1/faults answered ${res.status}: ${await res.text()} (is the spearlet running with --enable-drills?)`,
    );
  }
}

/** GET /health (open, a probe) on a spearlet's admin API: it answers, and this process has loaded its HTTP client. */
export async function reachAdmin(adminUrl: string): Promise<void> {
  const res = await fetch(`${adminUrl}/health`, { signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${adminUrl}/health answered ${res.status}`);
}

/** Options of the gray faults: how much latency `slow` adds. */
export interface GrayOptions {
  slowMs: number;
}

/** Posts a gray fault (slow, error) to a drill-enabled spearlet's admin API: POST /v1/gray-faults. */
export async function postGrayFault(
  adminUrl: string,
  fault: string,
  durationMs: number,
  slowMs: number,
  adminToken?: string,
): Promise<void> {
  const res = await fetch(`${adminUrl}/v1/gray-faults`, {
    method: 'POST',
    headers: adminHeaders(adminToken, true),
    body: JSON.stringify({ fault, durationMs, slowMs }),
    signal: AbortSignal.timeout(5000),
  });
  await checkAdminAuth(`${adminUrl}/v1/gray-faults`, res);
  if (res.status !== 202) {
    throw new Error(
      `${adminUrl}/v1/gray-faults answered ${res.status} (is the spearlet running with --enable-drills?)`,
    );
  }
}

/** slow, error and flap, the same for every injector: the admin API for the first two, Consul for flap. */
class GrayInjector {
  readonly #consul: ConsulOptionsInput;
  readonly #gray: GrayOptions;
  readonly #faultForMs: number;
  readonly #adminToken: string | undefined;
  #flapper: Flapper | undefined;

  constructor(consul: ConsulOptionsInput, gray: GrayOptions, faultForMs: number, adminToken: string | undefined) {
    this.#adminToken = adminToken;
    this.#consul = consul;
    this.#gray = gray;
    this.#faultForMs = faultForMs;
  }

  async inject(fault: Fault, target: string, adminUrl: string): Promise<void> {
    if (fault === 'flap') {
      this.#flapper = new Flapper(this.#consul, target);
      await this.#flapper.start();
    } else {
      await postGrayFault(
        adminUrl,
        fault,
        this.#faultForMs + 1000,
        fault === 'slow' ? this.#gray.slowMs : 0,
        this.#adminToken,
      );
    }
  }

  async heal(fault: Fault, adminUrl: string): Promise<void> {
    if (fault === 'flap') await this.#flapper?.stop();
    else await postGrayFault(adminUrl, 'none', 0, 0, this.#adminToken);
  }
}

/** Injects faults into the spearlet processes of a LocalMesh this process started. */
export class LocalInjector implements FaultInjector {
  readonly #mesh: LocalMesh;
  readonly #faultForMs: number;
  readonly #gray: GrayInjector;

  constructor(mesh: LocalMesh, faultForMs: number, gray: GrayOptions = { slowMs: 2000 }) {
    this.#mesh = mesh;
    this.#faultForMs = faultForMs;
    this.#gray = new GrayInjector(mesh.consulAddr, gray, faultForMs, mesh.adminToken);
  }

  #adminUrl(target: string): string {
    const s = this.#spearlet(target);
    return `http://${s.admin.host}:${s.admin.port}`;
  }

  #spearlet(target: string) {
    const s = this.#mesh.find(target);
    if (s === undefined) throw new Error(`no local spearlet ${target}`);
    return s;
  }

  async inject(fault: Fault, target: string): Promise<void> {
    switch (fault) {
      case 'kill':
        this.#spearlet(target).child.kill('SIGKILL');
        return;
      case 'freeze':
        this.#spearlet(target).child.kill('SIGSTOP');
        return;
      case 'drain':
        // SIGTERM drains: GOAWAY, in-flight work finishes, deregistration, exit 0.
        this.#spearlet(target).child.kill('SIGTERM');
        return;
      case 'partition': {
        const s = this.#spearlet(target);
        await postFault(`http://${s.admin.host}:${s.admin.port}`, 'partition', this.#faultForMs, this.#mesh.adminToken);
        return;
      }
      case 'registry-down':
        await this.#mesh.stopRegistry();
        return;
      case 'slow':
      case 'error':
      case 'flap':
        await this.#gray.inject(fault, target, this.#adminUrl(target));
        return;
    }
  }

  prepare(target: string): Promise<void> {
    return reachAdmin(this.#adminUrl(target));
  }

  async heal(fault: Fault, target: string): Promise<void> {
    if (fault === 'slow' || fault === 'error' || fault === 'flap') await this.#gray.heal(fault, this.#adminUrl(target));
    else if (fault === 'freeze') this.#spearlet(target).child.kill('SIGCONT');
    else if (fault === 'registry-down') await this.#mesh.restartRegistry();
    // partition heals itself after its duration; kill and drain are permanent.
  }
}

/**
 * Injects faults into a spearlet process on this host (for example one started by `spear-mesh up`) with signals;
 * partition, which needs the spearlet's cooperation, goes to its admin fault endpoint.
 */
export class ProcessInjector implements FaultInjector {
  readonly #pid: number;
  readonly #adminUrl: string;
  readonly #faultForMs: number;
  readonly #gray: GrayInjector;

  readonly #adminToken: string | undefined;

  constructor(
    pid: number,
    adminUrl: string,
    faultForMs: number,
    consul: ConsulOptionsInput,
    gray: GrayOptions,
    adminToken?: string,
  ) {
    this.#adminToken = adminToken;
    this.#pid = pid;
    this.#adminUrl = adminUrl;
    this.#faultForMs = faultForMs;
    this.#gray = new GrayInjector(consul, gray, faultForMs, adminToken);
  }

  async inject(fault: Fault, target: string): Promise<void> {
    if (fault === 'slow' || fault === 'error' || fault === 'flap')
      await this.#gray.inject(fault, target, this.#adminUrl);
    else if (fault === 'kill') process.kill(this.#pid, 'SIGKILL');
    else if (fault === 'freeze') process.kill(this.#pid, 'SIGSTOP');
    else if (fault === 'drain') process.kill(this.#pid, 'SIGTERM');
    else if (fault === 'partition') await postFault(this.#adminUrl, 'partition', this.#faultForMs, this.#adminToken);
    else throw new Error('registry-down needs a local mesh: run the drill without --consul');
  }

  prepare(): Promise<void> {
    return reachAdmin(this.#adminUrl);
  }

  async heal(fault: Fault): Promise<void> {
    if (fault === 'slow' || fault === 'error' || fault === 'flap') await this.#gray.heal(fault, this.#adminUrl);
    else if (fault === 'freeze') process.kill(this.#pid, 'SIGCONT');
  }
}

/** The pid of a spearlet whose admin API is on this host and whose process this user may signal, else undefined. */
export async function localSpearletPid(adminUrl: string, adminToken?: string): Promise<number | undefined> {
  const host = new URL(adminUrl).hostname;
  if (!['127.0.0.1', 'localhost', '[::1]', '::1'].includes(host)) return undefined;
  try {
    const res = await fetch(`${adminUrl}/v1/info`, {
      headers: adminHeaders(adminToken),
      signal: AbortSignal.timeout(2000),
    });
    const info = (await res.json()) as { pid?: unknown };
    if (typeof info.pid !== 'number') return undefined;
    process.kill(info.pid, 0);
    return info.pid;
  } catch {
    return undefined;
  }
}

/** Injects faults into spearlets elsewhere through their admin fault endpoint (spearlets run with --enable-drills). */
export class AdminInjector implements FaultInjector {
  readonly #adminUrl: (target: string) => string;
  readonly #faultForMs: number;
  readonly #gray: GrayInjector;

  readonly #adminToken: string | undefined;

  constructor(
    adminUrl: (target: string) => string,
    faultForMs: number,
    consul: ConsulOptionsInput,
    gray: GrayOptions,
    adminToken?: string,
  ) {
    this.#adminToken = adminToken;
    this.#adminUrl = adminUrl;
    this.#faultForMs = faultForMs;
    this.#gray = new GrayInjector(consul, gray, faultForMs, adminToken);
  }

  async inject(fault: Fault, target: string): Promise<void> {
    const url = this.#adminUrl(target);
    if (fault === 'slow' || fault === 'error' || fault === 'flap') {
      await this.#gray.inject(fault, target, url);
      return;
    }
    if (fault === 'drain') {
      const res = await fetch(`${url}/v1/drain`, {
        method: 'POST',
        headers: adminHeaders(this.#adminToken, true),
        body: '{}',
        signal: AbortSignal.timeout(5000),
      });
      await checkAdminAuth(`${url}/v1/drain`, res);
      if (res.status >= 300) throw new Error(`${url}/v1/drain answered ${res.status}`);
      return;
    }
    if (fault === 'registry-down') throw new Error('registry-down needs a local mesh: run the drill without --consul');
    await postFault(url, fault, this.#faultForMs, this.#adminToken);
  }

  prepare(target: string): Promise<void> {
    return reachAdmin(this.#adminUrl(target));
  }

  async heal(fault: Fault, target: string): Promise<void> {
    // Remote freeze and partition end by themselves after durationMs.
    if (fault === 'slow' || fault === 'error' || fault === 'flap') await this.#gray.heal(fault, this.#adminUrl(target));
  }
}
