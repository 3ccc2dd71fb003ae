// Consistent-hash policy: affinity by key with bounded load (Mirrokni et al.), sticky across membership changes.
import { ConfigError } from '../errors.ts';
import {
  eligible,
  pickTwoChoices,
  type Picker,
  type PickContext,
  type PickTarget,
  type Policy,
  type PolicyOptions,
} from './picker.ts';

export const DEFAULT_LOAD_FACTOR = 1.25;
export const DEFAULT_VIRTUAL_NODES = 100;
export const DEFAULT_AFFINITY_TABLE_SIZE = 10_000;

export interface ConsistentHashOptions extends PolicyOptions {
  /** c: a target takes a keyed request only while its outstanding + 1 <= ceil(c * (total + 1) / n). */
  readonly loadFactor?: number;
  /** Ring points per target; more points spread keys more evenly. */
  readonly virtualNodes?: number;
  /** Keys whose home is remembered across picker rebuilds (LRU); 0 disables remembering. */
  readonly affinityTableSize?: number;
}

/** FNV-1a over UTF-16 code units with the murmur3 finaliser, so nearby keys land far apart on the ring. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Bounded LRU map from affinity key to the id of the target that is the key's home. */
class AffinityTable {
  readonly #max: number;
  readonly #map = new Map<string, string>();

  constructor(max: number) {
    this.#max = max;
  }

  get(key: string): string | undefined {
    const id = this.#map.get(key);
    if (id !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, id);
    }
    return id;
  }

  set(key: string, id: string): void {
    if (this.#max === 0) return;
    this.#map.delete(key);
    this.#map.set(key, id);
    if (this.#map.size > this.#max) {
      const oldest = this.#map.keys().next();
      if (oldest.done !== true) this.#map.delete(oldest.value);
    }
  }
}

class ConsistentHashPicker implements Picker {
  readonly #targets: readonly PickTarget[];
  readonly #byId: ReadonlyMap<string, PickTarget>;
  readonly #ringHashes: Uint32Array;
  readonly #ringTargets: readonly PickTarget[];
  readonly #loadFactor: number;
  readonly #table: AffinityTable;
  readonly #random: () => number;

  constructor(
    targets: readonly PickTarget[],
    vnodes: number,
    loadFactor: number,
    table: AffinityTable,
    random: () => number,
  ) {
    this.#targets = targets;
    this.#byId = new Map(targets.map((t) => [t.id, t]));
    this.#loadFactor = loadFactor;
    this.#table = table;
    this.#random = random;
    const points: { h: number; t: PickTarget }[] = [];
    for (const t of targets) {
      for (let v = 0; v < vnodes; v++) points.push({ h: hash32(`${t.id}#${v}`), t });
    }
    // Ties broken by id so the ring does not depend on the order targets were listed in.
    points.sort((a, b) => a.h - b.h || (a.t.id < b.t.id ? -1 : a.t.id > b.t.id ? 1 : 0));
    this.#ringHashes = Uint32Array.from(points, (p) => p.h);
    this.#ringTargets = points.map((p) => p.t);
  }

  pick(ctx: PickContext): PickTarget | undefined {
    const key = ctx.affinityKey;
    if (key === undefined) return pickTwoChoices(this.#targets, ctx, this.#random, (t) => t.outstanding);
    let n = 0;
    let total = 0;
    for (const t of this.#targets) {
      if (eligible(t, ctx)) {
        n++;
        total += t.outstanding;
      }
    }
    if (n === 0) return undefined;
    const bound = Math.ceil((this.#loadFactor * (total + 1)) / n);
    const fits = (t: PickTarget): boolean => eligible(t, ctx) && t.outstanding + 1 <= bound;

    const homeId = this.#table.get(key);
    const home = homeId === undefined ? undefined : this.#byId.get(homeId);
    if (home !== undefined && eligible(home, ctx)) {
      if (fits(home)) return home;
      // Overloaded home: spill this one request along the ring, but the key keeps its home.
      return this.#walk(key, fits, home.id) ?? home;
    }
    const chosen = this.#walk(key, fits, undefined) ?? this.#walk(key, (t) => eligible(t, ctx), undefined);
    if (chosen !== undefined) this.#table.set(key, chosen.id);
    return chosen;
  }

  #walk(key: string, accept: (t: PickTarget) => boolean, skipId: string | undefined): PickTarget | undefined {
    const len = this.#ringHashes.length;
    if (len === 0) return undefined;
    const start = lowerBound(this.#ringHashes, hash32(key)) % len;
    for (let k = 0; k < len; k++) {
      const t = this.#ringTargets[(start + k) % len];
      if (t !== undefined && t.id !== skipId && accept(t)) return t;
    }
    return undefined;
  }
}

function lowerBound(arr: Uint32Array, value: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((arr[mid] ?? 0) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** One policy instance keeps one affinity table, so keys stay home across picker rebuilds (joins, ejections). */
export function consistentHashPolicy(options: ConsistentHashOptions = {}): Policy {
  const loadFactor = options.loadFactor ?? DEFAULT_LOAD_FACTOR;
  const vnodes = options.virtualNodes ?? DEFAULT_VIRTUAL_NODES;
  const tableSize = options.affinityTableSize ?? DEFAULT_AFFINITY_TABLE_SIZE;
  if (!(loadFactor >= 1)) throw new ConfigError('loadFactor', 'must be >= 1');
  if (!(Number.isInteger(vnodes) && vnodes >= 1)) throw new ConfigError('virtualNodes', 'must be an integer >= 1');
  if (!(Number.isInteger(tableSize) && tableSize >= 0))
    throw new ConfigError('affinityTableSize', 'must be an integer >= 0');
  const table = new AffinityTable(tableSize);
  const random = options.random ?? Math.random;
  return {
    name: 'consistent-hash',
    build: (targets) => new ConsistentHashPicker(targets, vnodes, loadFactor, table, random),
  };
}
