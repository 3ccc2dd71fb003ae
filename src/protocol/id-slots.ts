// Pending entries by request id, for ids a connection hands out in increasing order: a ring of slots indexed by
// id modulo its size, and a Map only for an id whose slot still holds an older pending entry. A Map alone
// reallocates its hash table as the in-flight count swings between 0 and N (V8 shrinks a Map that falls below a
// quarter full), which at 16 in flight happened on every tick.

/** Slot ids are positive safe integers; a free slot holds this. */
const FREE = -1;
/** Slots of the first allocation; the ring doubles whenever more than half of it would be in use. */
const FIRST_CAPACITY = 16;

export class IdSlots<T> {
  #ids: Float64Array = new Float64Array(0);
  #values: (T | undefined)[] = [];
  /** Entries whose slot was taken by an older pending one. */
  #overflow: Map<number, T> | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Adds `value` under `id` (a positive safe integer not already present). */
  set(id: number, value: T): void {
    if (2 * (this.#size + 1) > this.#ids.length) this.#grow();
    this.#place(id, value);
    this.#size++;
  }

  /** Removes and returns the entry of `id`; undefined when there is none. */
  take(id: number): T | undefined {
    const i = id % this.#ids.length;
    if (this.#ids[i] === id) {
      const value = this.#values[i];
      this.#ids[i] = FREE;
      this.#values[i] = undefined;
      this.#size--;
      return value;
    }
    const o = this.#overflow;
    if (o === undefined) return undefined;
    const value = o.get(id);
    if (value === undefined) return undefined;
    o.delete(id);
    if (o.size === 0) this.#overflow = undefined;
    this.#size--;
    return value;
  }

  /** Every entry, in increasing id order (the order the ids were handed out). */
  entries(): [number, T][] {
    const out: [number, T][] = [];
    for (let i = 0; i < this.#ids.length; i++) {
      const id = this.#ids[i] ?? FREE;
      if (id !== FREE) out.push([id, this.#values[i] as T]);
    }
    if (this.#overflow !== undefined) out.push(...this.#overflow);
    return out.sort((a, b) => a[0] - b[0]);
  }

  #place(id: number, value: T): void {
    const i = id % this.#ids.length;
    if (this.#ids[i] === FREE) {
      this.#ids[i] = id;
      this.#values[i] = value;
    } else {
      (this.#overflow ??= new Map()).set(id, value);
    }
  }

  #grow(): void {
    const old = this.entries();
    const capacity = Math.max(FIRST_CAPACITY, 2 * this.#ids.length);
    this.#ids = new Float64Array(capacity).fill(FREE);
    this.#values = new Array<T | undefined>(capacity).fill(undefined);
    this.#overflow = undefined;
    for (const [id, value] of old) this.#place(id, value);
  }
}
