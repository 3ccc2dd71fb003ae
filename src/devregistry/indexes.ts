// The "raft" index shared by every table, per-table max indexes, and the hub that wakes blocked readers.
import { WatchHub } from './blocking.ts';

export type Table = 'nodes' | 'services' | 'checks' | 'kvs' | 'tombstones' | 'sessions';

export class Indexes {
  #raft: number;
  readonly #tables = new Map<string, number>();
  readonly hub = new WatchHub();

  constructor(start = 1) {
    this.#raft = start;
  }

  /** The last index handed out. */
  get current(): number {
    return this.#raft;
  }

  /** A fresh index for one write. */
  next(): number {
    this.#raft += 1;
    return this.#raft;
  }

  bump(idx: number, ...tables: Table[]): void {
    for (const t of tables) this.#tables.set(t, idx);
  }

  table(t: Table): number {
    return this.#tables.get(t) ?? 0;
  }

  max(...tables: Table[]): number {
    let m = 0;
    for (const t of tables) m = Math.max(m, this.table(t));
    return m;
  }
}
