// The KV table: entries, tombstones (so watchers of deleted keys still see the index move, until the tombstone GC
// reaps them as Consul's does), CAS, locks and lock-delay.
import type { Clock, TimerHandle } from './clock.ts';
import { serverError } from './http-error.ts';
import type { Indexes } from './indexes.ts';

export const KV_TOPIC = 'kv';

export interface KvEntry {
  LockIndex: number;
  Key: string;
  Flags: bigint;
  Value: Buffer | null;
  Session: string;
  CreateIndex: number;
  ModifyIndex: number;
}

export type SessionExists = (id: string) => boolean;

/** Consul's `tombstone_ttl` default: a tombstone lives at least this long. */
export const TOMBSTONE_TTL_MS = 15 * 60_000;
/** Consul's `tombstone_ttl_granularity` default: expiries are rounded up to it and reaped together. */
export const TOMBSTONE_GRANULARITY_MS = 30_000;

interface ReapBucket {
  readonly at: number;
  maxIndex: number;
}

/** Pending writes of one transaction: a key mapped to its new entry, or to null when it is deleted. */
export type KvChanges = Map<string, KvEntry | null>;

export class KvStore {
  readonly #ix: Indexes;
  readonly #clock: Clock;
  readonly #entries = new Map<string, KvEntry>();
  readonly #tombstones = new Map<string, number>();
  readonly #lockDelay = new Map<string, number>();
  /** Tombstone GC hints, oldest first, one per granularity slot (Consul's TombstoneGC). */
  readonly #buckets: ReapBucket[] = [];
  #reapTimer: TimerHandle | undefined;
  #closed = false;
  #sessionExists: SessionExists = () => false;

  constructor(ix: Indexes, clock: Clock) {
    this.#ix = ix;
    this.#clock = clock;
  }

  /** Tombstones held now (for tests and the churn benchmark). */
  get tombstoneCount(): number {
    return this.#tombstones.size;
  }

  sessionExists(id: string): boolean {
    return this.#sessionExists(id);
  }

  /** True while a lock-delay blocks acquiring `key`. */
  lockDelayed(key: string): boolean {
    const until = this.#lockDelay.get(key);
    if (until === undefined) return false;
    if (until > this.#clock.now()) return true;
    this.#lockDelay.delete(key);
    return false;
  }

  /** Stops the tombstone GC timer. */
  close(): void {
    this.#closed = true;
    this.#reapTimer?.cancel();
    this.#reapTimer = undefined;
  }

  /**
   * Records that tombstones up to `idx` may be reaped after TOMBSTONE_TTL_MS, rounded up to the granularity, so
   * every delete in one 30 s slot shares one reap, as Consul's leader coalesces its hints.
   */
  #hint(idx: number): void {
    const g = TOMBSTONE_GRANULARITY_MS;
    const at = Math.ceil((this.#clock.now() + TOMBSTONE_TTL_MS) / g) * g;
    const last = this.#buckets[this.#buckets.length - 1];
    if (last?.at === at) {
      last.maxIndex = Math.max(last.maxIndex, idx);
      return;
    }
    this.#buckets.push({ at, maxIndex: idx });
    if (this.#buckets.length === 1) this.#armReap();
  }

  #armReap(): void {
    const head = this.#buckets[0];
    if (head === undefined || this.#closed) return;
    this.#reapTimer = this.#clock.setTimeout(() => {
      this.#reapTimer = undefined;
      const due = this.#buckets.shift();
      if (due !== undefined) this.reapTombstones(due.maxIndex);
      this.#armReap();
    }, head.at - this.#clock.now());
  }

  /**
   * Consul's ReapTombstones: drops every tombstone with an index at or below `index`. The table indexes stay, so a
   * missing key keeps its index; a prefix whose newest item was a reaped tombstone may report a lower index.
   */
  reapTombstones(index: number): void {
    for (const [k, idx] of this.#tombstones) if (idx <= index) this.#tombstones.delete(k);
    for (const [k, until] of this.#lockDelay) if (until <= this.#clock.now()) this.#lockDelay.delete(k);
  }

  #bury(key: string, idx: number): void {
    this.#tombstones.set(key, idx);
  }

  /**
   * Applies a transaction's changes at one index and wakes KV watchers once. Every change is already validated.
   */
  commit(changes: KvChanges, idx: number): void {
    let deleted = false;
    for (const [key, entry] of changes) {
      if (entry === null) {
        if (!this.#entries.delete(key)) continue;
        this.#bury(key, idx);
        deleted = true;
      } else {
        this.#entries.set(key, entry);
        this.#tombstones.delete(key);
      }
    }
    this.#ix.bump(idx, 'kvs');
    if (deleted) {
      this.#ix.bump(idx, 'tombstones');
      this.#hint(idx);
    }
    this.#ix.hub.notify([KV_TOPIC]);
  }

  setSessionLookup(fn: SessionExists): void {
    this.#sessionExists = fn;
  }

  get(key: string): KvEntry | undefined {
    return this.#entries.get(key);
  }

  /** Entries under a prefix, sorted by key. */
  list(prefix: string): KvEntry[] {
    const out: KvEntry[] = [];
    for (const e of this.#entries.values()) if (e.Key.startsWith(prefix)) out.push(e);
    return out.sort((a, b) => (a.Key < b.Key ? -1 : a.Key > b.Key ? 1 : 0));
  }

  /** KV table index for a missing key: max of the kvs and tombstones tables. */
  tableIndex(): number {
    return this.#ix.max('kvs', 'tombstones');
  }

  /** Index for a prefix listing: highest ModifyIndex under it, tombstones included; the table index as fallback. */
  prefixIndex(prefix: string): number {
    if (prefix === '') return this.tableIndex();
    let m = 0;
    for (const e of this.#entries.values()) if (e.Key.startsWith(prefix) && e.ModifyIndex > m) m = e.ModifyIndex;
    for (const [k, idx] of this.#tombstones) if (k.startsWith(prefix) && idx > m) m = idx;
    return m === 0 ? this.tableIndex() : m;
  }

  #write(entry: KvEntry, idx: number): void {
    this.#entries.set(entry.Key, entry);
    this.#tombstones.delete(entry.Key);
    this.#ix.bump(idx, 'kvs');
    this.#ix.hub.notify([KV_TOPIC]);
  }

  /** Plain set: keeps CreateIndex, LockIndex and Session of an existing entry. */
  set(key: string, value: Buffer | null, flags: bigint): void {
    const existing = this.#entries.get(key);
    const idx = this.#ix.next();
    this.#write(
      {
        LockIndex: existing?.LockIndex ?? 0,
        Key: key,
        Flags: flags,
        Value: value,
        Session: existing?.Session ?? '',
        CreateIndex: existing?.CreateIndex ?? idx,
        ModifyIndex: idx,
      },
      idx,
    );
  }

  /** Check-and-set: cas 0 creates only; otherwise the entry's ModifyIndex must equal cas. */
  cas(key: string, value: Buffer | null, flags: bigint, cas: bigint): boolean {
    const existing = this.#entries.get(key);
    if (cas === 0n && existing !== undefined) return false;
    if (cas !== 0n && (existing === undefined || BigInt(existing.ModifyIndex) !== cas)) return false;
    this.set(key, value, flags);
    return true;
  }

  /** Lock acquisition; `false` when another session holds it or a lock-delay is running. */
  acquire(key: string, value: Buffer | null, flags: bigint, session: string): boolean {
    if (session === '') throw serverError('missing session');
    const delayUntil = this.#lockDelay.get(key);
    if (delayUntil !== undefined) {
      if (delayUntil > this.#clock.now()) return false;
      this.#lockDelay.delete(key);
    }
    if (!this.#sessionExists(session)) throw serverError(`invalid session ${JSON.stringify(session)}`);
    const existing = this.#entries.get(key);
    let lockIndex = 1;
    if (existing !== undefined) {
      if (existing.Session === session) lockIndex = existing.LockIndex;
      else if (existing.Session !== '') return false;
      else lockIndex = existing.LockIndex + 1;
    }
    const idx = this.#ix.next();
    this.#write(
      {
        LockIndex: lockIndex,
        Key: key,
        Flags: flags,
        Value: value,
        Session: session,
        CreateIndex: existing?.CreateIndex ?? idx,
        ModifyIndex: idx,
      },
      idx,
    );
    return true;
  }

  /** Lock release: only the holder may release; LockIndex is kept. */
  release(key: string, value: Buffer | null, flags: bigint, session: string): boolean {
    if (session === '') throw serverError('missing session');
    const existing = this.#entries.get(key);
    if (existing?.Session !== session) return false;
    const idx = this.#ix.next();
    this.#write({ ...existing, Flags: flags, Value: value, Session: '', ModifyIndex: idx }, idx);
    return true;
  }

  delete(key: string): void {
    if (!this.#entries.has(key)) return;
    const idx = this.#ix.next();
    this.#entries.delete(key);
    this.#bury(key, idx);
    this.#ix.bump(idx, 'kvs', 'tombstones');
    this.#hint(idx);
    this.#ix.hub.notify([KV_TOPIC]);
  }

  /** Deletes only when ModifyIndex equals cas; a missing key counts as deleted. */
  deleteCas(key: string, cas: bigint): boolean {
    const existing = this.#entries.get(key);
    if (existing === undefined) return true;
    if (BigInt(existing.ModifyIndex) !== cas) return false;
    this.delete(key);
    return true;
  }

  deleteTree(prefix: string): void {
    const keys = this.list(prefix).map((e) => e.Key);
    if (keys.length === 0) return;
    const idx = this.#ix.next();
    for (const k of keys) {
      this.#entries.delete(k);
      this.#bury(k, idx);
    }
    this.#ix.bump(idx, 'kvs', 'tombstones');
    this.#hint(idx);
    this.#ix.hub.notify([KV_TOPIC]);
  }

  /** Session invalidation: release (or delete) every lock it holds and start their lock-delay. */
  invalidateSession(session: string, behavior: 'release' | 'delete', lockDelayMs: number): void {
    const held = [...this.#entries.values()].filter((e) => e.Session === session);
    if (held.length === 0) return;
    const idx = this.#ix.next();
    const now = this.#clock.now();
    for (const e of held) {
      if (lockDelayMs > 0) this.#lockDelay.set(e.Key, now + lockDelayMs);
      if (behavior === 'delete') {
        this.#entries.delete(e.Key);
        this.#bury(e.Key, idx);
      } else {
        this.#entries.set(e.Key, { ...e, Session: '', ModifyIndex: idx });
      }
    }
    this.#ix.bump(idx, 'kvs');
    if (behavior === 'delete') {
      this.#ix.bump(idx, 'tombstones');
      this.#hint(idx);
    }
    this.#ix.hub.notify([KV_TOPIC]);
  }
}
