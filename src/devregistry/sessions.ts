// Sessions: creation checks (node and health checks), TTL invalidation at 2×TTL, renew, destroy, and
// invalidation when a linked check turns critical or goes away (locks released or deleted, lock-delay armed).
import { randomUUID } from 'node:crypto';
import type { Catalog } from './catalog.ts';
import type { Clock, TimerHandle } from './clock.ts';
import { DurationError, formatGoDuration, parseGoDuration } from './duration.ts';
import { serverError } from './http-error.ts';
import type { Indexes } from './indexes.ts';
import type { KvStore } from './kv.ts';
import { str, strs, subs, type Decoded } from './decode.ts';

export const SESSION_TOPIC = 'sessions';
const DEFAULT_LOCK_DELAY_NS = 15e9;
const MAX_LOCK_DELAY_NS = 60e9;
const MIN_TTL_NS = 10e9;
const MAX_TTL_NS = 24 * 3600e9;
const TTL_MULTIPLIER = 2;

export interface SessionRec {
  ID: string;
  Name: string;
  Node: string;
  LockDelay: number;
  Behavior: 'release' | 'delete';
  TTL: string;
  NodeChecks: string[] | null;
  ServiceChecks: { ID: string; Namespace: string }[] | null;
  CreateIndex: number;
  ModifyIndex: number;
}

export class SessionStore {
  readonly #ix: Indexes;
  readonly #clock: Clock;
  readonly #catalog: Catalog;
  readonly #kv: KvStore;
  readonly #sessions = new Map<string, SessionRec>();
  readonly #timers = new Map<string, TimerHandle>();

  constructor(ix: Indexes, clock: Clock, catalog: Catalog, kv: KvStore) {
    this.#ix = ix;
    this.#clock = clock;
    this.#catalog = catalog;
    this.#kv = kv;
    kv.setSessionLookup((id) => this.#sessions.has(id));
    catalog.onCheck((check) => {
      for (const s of [...this.#sessions.values()]) {
        const linked =
          (check.ServiceID === '' && (s.NodeChecks ?? []).includes(check.CheckID)) ||
          (check.ServiceID !== '' && (s.ServiceChecks ?? []).some((c) => c.ID === check.CheckID));
        if (linked) this.destroy(s.ID);
      }
    });
  }

  list(): SessionRec[] {
    return [...this.#sessions.values()].sort((a, b) => (a.ID < b.ID ? -1 : 1));
  }

  get(id: string): SessionRec | undefined {
    return this.#sessions.get(id);
  }

  index(): number {
    return this.#ix.table('sessions');
  }

  /** PUT /v1/session/create after decoding; errors are Consul's (500 with the RPC error text). */
  create(d: Decoded, defaultNode: string): SessionRec {
    const behavior = str(d, 'Behavior', 'release');
    if (behavior !== 'release' && behavior !== 'delete') throw serverError(`Invalid Behavior setting '${behavior}'`);
    const ttl = str(d, 'TTL');
    if (ttl !== '') {
      let ns: number;
      try {
        ns = parseGoDuration(ttl);
      } catch (err) {
        if (err instanceof DurationError) throw serverError(`Session TTL '${ttl}' invalid: ${err.message}`);
        throw err;
      }
      if (ns !== 0 && (ns < MIN_TTL_NS || ns > MAX_TTL_NS)) {
        throw serverError(
          `Invalid Session TTL '${ns}', must be between [${formatGoDuration(MIN_TTL_NS)}=${formatGoDuration(MAX_TTL_NS)}]`,
        );
      }
    }
    let lockDelay = DEFAULT_LOCK_DELAY_NS;
    if (typeof d.LockDelay === 'number') lockDelay = d.LockDelay;
    if (lockDelay > MAX_LOCK_DELAY_NS) lockDelay = MAX_LOCK_DELAY_NS;
    const node = str(d, 'Node', defaultNode) || defaultNode;
    if (node !== this.#catalog.node.Node) throw serverError('Missing node registration');
    // The HTTP layer's defaults and fixupEmptySessionChecks: NodeChecks and the legacy Checks both start as
    // [serfHealth]; an explicit empty Checks clears NodeChecks.
    let nodeChecks: string[] | null = strs(d, 'NodeChecks') ?? ['serfHealth'];
    let legacy: string[] | null = strs(d, 'Checks') ?? ['serfHealth'];
    if (legacy.length === 0) {
      nodeChecks = [];
      legacy = null;
    } else if (legacy.length === 1 && legacy[0] === 'serfHealth') {
      legacy = null;
    } else if (nodeChecks.length === 0) {
      legacy = null;
    }
    for (const cid of legacy ?? []) if (!nodeChecks.includes(cid)) nodeChecks.push(cid);
    if (nodeChecks.length === 0) nodeChecks = null;
    const serviceChecks =
      (subs(d, 'ServiceChecks') ?? null)?.map((c) => ({ ID: str(c, 'ID'), Namespace: str(c, 'Namespace') })) ?? null;
    for (const cid of [...(nodeChecks ?? []), ...(serviceChecks ?? []).map((c) => c.ID)]) {
      const check = this.#catalog.check(cid);
      if (check === undefined) throw serverError(`Missing check '${cid}' registration`);
      if (check.Status === 'critical') throw serverError(`Check '${cid}' is in critical state`);
    }
    const idx = this.#ix.next();
    const rec: SessionRec = {
      ID: randomUUID(),
      Name: str(d, 'Name'),
      Node: node,
      LockDelay: lockDelay,
      Behavior: behavior,
      TTL: ttl,
      NodeChecks: nodeChecks,
      ServiceChecks: serviceChecks,
      CreateIndex: idx,
      ModifyIndex: idx,
    };
    this.#sessions.set(rec.ID, rec);
    this.#ix.bump(idx, 'sessions');
    this.#armTtl(rec);
    this.#ix.hub.notify([SESSION_TOPIC]);
    return rec;
  }

  #armTtl(rec: SessionRec): void {
    this.#timers.get(rec.ID)?.cancel();
    if (rec.TTL === '') return;
    const ms = (parseGoDuration(rec.TTL) / 1e6) * TTL_MULTIPLIER;
    if (ms <= 0) return;
    this.#timers.set(
      rec.ID,
      this.#clock.setTimeout(() => {
        this.destroy(rec.ID);
      }, ms),
    );
  }

  /** Resets the TTL timer; undefined when the session is unknown. */
  renew(id: string): SessionRec | undefined {
    const rec = this.#sessions.get(id);
    if (rec === undefined) return undefined;
    this.#armTtl(rec);
    return rec;
  }

  /** Invalidates a session: idempotent. */
  destroy(id: string): void {
    const rec = this.#sessions.get(id);
    if (rec === undefined) return;
    this.#timers.get(id)?.cancel();
    this.#timers.delete(id);
    const idx = this.#ix.next();
    this.#sessions.delete(id);
    this.#ix.bump(idx, 'sessions');
    this.#kv.invalidateSession(id, rec.Behavior, rec.LockDelay / 1e6);
    this.#ix.hub.notify([SESSION_TOPIC]);
  }

  close(): void {
    for (const t of this.#timers.values()) t.cancel();
    this.#timers.clear();
  }
}
