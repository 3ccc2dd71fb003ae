// The catalog tables (one node, its services and checks) with Consul's index rules: writes that change nothing
// bump nothing; service indexes cover instances, their checks and the node's checks; extinction when the last goes.
import type { Indexes } from './indexes.ts';
import type { CheckRec, NodeRec, ServiceRec, Unindexed } from './types.ts';

export const CATALOG_TOPIC = 'catalog';
export const serviceTopic = (name: string): string => `svc:${name.toLowerCase()}`;

function sameContent(a: object, b: object): boolean {
  const strip = (o: object): string => {
    const { CreateIndex: _c, ModifyIndex: _m, ...rest } = o as Record<string, unknown>;
    return JSON.stringify(rest);
  };
  return strip(a) === strip(b);
}

export type CheckListener = (check: CheckRec, event: 'critical' | 'deleted') => void;

export class Catalog {
  readonly #ix: Indexes;
  readonly node: NodeRec;
  readonly #services = new Map<string, ServiceRec>();
  readonly #checks = new Map<string, CheckRec>();
  /** service.<lowercase name> → index; absent once the last instance is gone. */
  readonly #serviceIndex = new Map<string, number>();
  #extinction = 0;
  readonly #listeners: CheckListener[] = [];

  constructor(ix: Indexes, node: Unindexed<NodeRec>) {
    this.#ix = ix;
    const idx = ix.next();
    this.node = { ...node, CreateIndex: idx, ModifyIndex: idx };
    ix.bump(idx, 'nodes');
  }

  onCheck(listener: CheckListener): void {
    this.#listeners.push(listener);
  }

  // ---- reads -------------------------------------------------------------------------------

  services(): ServiceRec[] {
    return [...this.#services.values()].sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0));
  }

  service(id: string): ServiceRec | undefined {
    return this.#services.get(id);
  }

  /** Instances of a service, name matched case-insensitively, in service-ID order. */
  instances(name: string): ServiceRec[] {
    const lc = name.toLowerCase();
    return this.services().filter((s) => s.Service.toLowerCase() === lc);
  }

  checks(): CheckRec[] {
    return [...this.#checks.values()];
  }

  check(id: string): CheckRec | undefined {
    return this.#checks.get(id);
  }

  nodeChecks(): CheckRec[] {
    return this.checks().filter((c) => c.ServiceID === '');
  }

  serviceChecks(serviceId: string): CheckRec[] {
    return this.checks().filter((c) => c.ServiceID === serviceId);
  }

  /** Consul's maxIndexForService: the service index, else the last extinction, else the table maxima. */
  serviceIndex(name: string, withChecks: boolean): number {
    const idx = this.#serviceIndex.get(name.toLowerCase());
    if (idx !== undefined) return idx;
    if (this.#extinction > 0) return this.#extinction;
    return withChecks ? this.#ix.max('nodes', 'services', 'checks') : this.#ix.max('nodes', 'services');
  }

  /** Topics that wake a watcher of this service. */
  serviceTopics(name: string): string[] {
    return this.#serviceIndex.has(name.toLowerCase()) ? [serviceTopic(name)] : [serviceTopic(name), CATALOG_TOPIC];
  }

  // ---- writes ------------------------------------------------------------------------------

  /** Inserts or replaces a service; returns false (and bumps nothing) when it is unchanged. */
  ensureService(svc: Unindexed<ServiceRec>): boolean {
    const existing = this.#services.get(svc.ID);
    if (existing !== undefined && sameContent(existing, svc)) return false;
    const idx = this.#ix.next();
    const rec: ServiceRec = { ...svc, CreateIndex: existing?.CreateIndex ?? idx, ModifyIndex: idx };
    this.#services.set(svc.ID, rec);
    const topics = [CATALOG_TOPIC, serviceTopic(svc.Service)];
    this.#serviceIndex.set(svc.Service.toLowerCase(), idx);
    if (existing !== undefined && existing.Service.toLowerCase() !== svc.Service.toLowerCase()) {
      this.#retireName(existing.Service, idx);
      topics.push(serviceTopic(existing.Service));
    }
    this.#ix.bump(idx, 'services');
    this.#ix.hub.notify(topics);
    return true;
  }

  /** Removes a service and its checks; returns false when it did not exist. */
  deleteService(id: string): boolean {
    const existing = this.#services.get(id);
    if (existing === undefined) return false;
    const idx = this.#ix.next();
    this.#services.delete(id);
    const removed: CheckRec[] = [];
    for (const [cid, c] of this.#checks) {
      if (c.ServiceID === id) {
        this.#checks.delete(cid);
        removed.push(c);
      }
    }
    this.#retireName(existing.Service, idx);
    this.#ix.bump(idx, 'services');
    if (removed.length > 0) this.#ix.bump(idx, 'checks');
    this.#ix.hub.notify([CATALOG_TOPIC, serviceTopic(existing.Service)]);
    for (const c of removed) this.#emit(c, 'deleted');
    return true;
  }

  #retireName(name: string, idx: number): void {
    const lc = name.toLowerCase();
    const left = [...this.#services.values()].some((s) => s.Service.toLowerCase() === lc);
    if (left) {
      this.#serviceIndex.set(lc, idx);
    } else {
      this.#serviceIndex.delete(lc);
      this.#extinction = idx;
    }
  }

  /** Inserts or replaces a check; returns false when unchanged. A critical check invalidates linked sessions. */
  ensureCheck(check: Unindexed<CheckRec>): boolean {
    const existing = this.#checks.get(check.CheckID);
    if (existing !== undefined && sameContent(existing, check)) return false;
    const idx = this.#ix.next();
    const rec: CheckRec = { ...check, CreateIndex: existing?.CreateIndex ?? idx, ModifyIndex: idx };
    this.#checks.set(check.CheckID, rec);
    this.#ix.bump(idx, 'checks');
    this.#ix.hub.notify([CATALOG_TOPIC, ...this.#touchServicesOf(rec, idx)]);
    if (rec.Status === 'critical') this.#emit(rec, 'critical');
    return true;
  }

  deleteCheck(id: string): boolean {
    const existing = this.#checks.get(id);
    if (existing === undefined) return false;
    const idx = this.#ix.next();
    this.#checks.delete(id);
    this.#ix.bump(idx, 'checks');
    this.#ix.hub.notify([CATALOG_TOPIC, ...this.#touchServicesOf(existing, idx)]);
    this.#emit(existing, 'deleted');
    return true;
  }

  /** A service check bumps its service; a node check bumps every service on the node. */
  #touchServicesOf(check: CheckRec, idx: number): string[] {
    const names = new Set<string>();
    if (check.ServiceID !== '') {
      const svc = this.#services.get(check.ServiceID);
      if (svc !== undefined) names.add(svc.Service.toLowerCase());
    } else {
      for (const s of this.#services.values()) names.add(s.Service.toLowerCase());
    }
    for (const n of names) this.#serviceIndex.set(n, idx);
    return [...names].map(serviceTopic);
  }

  #emit(check: CheckRec, event: 'critical' | 'deleted'): void {
    for (const l of this.#listeners) l(check, event);
  }
}
