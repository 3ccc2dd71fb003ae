// Bounds verifier for the legacy FlatBuffers tables: the JS runtime has none and silently reads past the end.
import { LegacyEnvelopeInvalidError } from '../../errors.ts';

/** What a table slot holds, as far as bounds are concerned. */
export type FieldKind = 'u8' | 'u32' | 'i32' | 'i64' | 'string' | 'bytes' | 'table';

/**
 * Checks FlatBuffers structures against the bytes they live in, so that the generated accessors can then read them
 * without running off the end (the npm runtime returns 0 or views into neighbouring memory instead of failing).
 * Positions are relative to `bytes`. Every failure is a LegacyEnvelopeInvalidError naming `what`.
 */
export class FlatVerifier {
  readonly #bytes: Buffer;
  readonly #what: string;

  constructor(bytes: Buffer, what: string) {
    this.#bytes = bytes;
    this.#what = what;
  }

  #fail(detail: string): never {
    throw new LegacyEnvelopeInvalidError(`invalid ${this.#what}: ${detail}`);
  }

  #need(position: number, size: number, detail: string): void {
    if (!Number.isSafeInteger(position) || position < 0 || position + size > this.#bytes.length) {
      this.#fail(`${detail} out of bounds`);
    }
  }

  /** The root table's position: the u32 at offset 0. */
  root(): number {
    this.#need(0, 4, 'root offset');
    return this.table(this.#bytes.readUInt32LE(0), 'root table');
  }

  /** Checks a table at `position` (its vtable and inline size) and returns `position`. */
  table(position: number, detail: string): number {
    this.#need(position, 4, detail);
    const vtable = position - this.#bytes.readInt32LE(position);
    this.#need(vtable, 4, `${detail} vtable`);
    const vtableSize = this.#bytes.readUInt16LE(vtable);
    const objectSize = this.#bytes.readUInt16LE(vtable + 2);
    if (vtableSize < 4 || vtableSize % 2 !== 0) this.#fail(`${detail} vtable size ${vtableSize}`);
    if (objectSize < 4) this.#fail(`${detail} object size ${objectSize}`);
    this.#need(vtable, vtableSize, `${detail} vtable`);
    this.#need(position, objectSize, `${detail} inline data`);
    return position;
  }

  /** Position of the field in `slot` of the table at `table`, or 0 when absent; checks the inline bytes. */
  field(table: number, slot: number, kind: FieldKind, detail: string): number {
    const vtable = table - this.#bytes.readInt32LE(table);
    const vtableSize = this.#bytes.readUInt16LE(vtable);
    const entry = 4 + slot * 2;
    if (entry + 2 > vtableSize) return 0;
    const offset = this.#bytes.readUInt16LE(vtable + entry);
    if (offset === 0) return 0;
    const objectSize = this.#bytes.readUInt16LE(vtable + 2);
    const size = INLINE_SIZE[kind];
    if (offset + size > objectSize) this.#fail(`${detail} outside its table`);
    const position = table + offset;
    this.#need(position, size, detail);
    return position;
  }

  /** Follows the uoffset at `position` to a vector of `elementSize`-byte elements; returns its [start, length]. */
  vector(position: number, elementSize: number, detail: string): [start: number, length: number] {
    const target = this.#indirect(position, detail);
    this.#need(target, 4, `${detail} length`);
    const length = this.#bytes.readUInt32LE(target);
    this.#need(target + 4, length * elementSize, detail);
    return [target + 4, length];
  }

  /** Follows the uoffset at `position` to a table and checks it. */
  subtable(position: number, detail: string): number {
    return this.table(this.#indirect(position, detail), detail);
  }

  /** Checks a field of `kind` (absent is fine); offsets are followed and their targets checked too. */
  check(table: number, slot: number, kind: FieldKind, detail: string): number {
    const position = this.field(table, slot, kind, detail);
    if (position === 0) return 0;
    if (kind === 'string' || kind === 'bytes') this.vector(position, 1, detail);
    else if (kind === 'table') this.subtable(position, detail);
    return position;
  }

  #indirect(position: number, detail: string): number {
    this.#need(position, 4, `${detail} offset`);
    const target = position + this.#bytes.readUInt32LE(position);
    this.#need(target, 0, detail);
    return target;
  }
}

const INLINE_SIZE: Readonly<Record<FieldKind, number>> = {
  u8: 1,
  u32: 4,
  i32: 4,
  i64: 8,
  string: 4,
  bytes: 4,
  table: 4,
};
