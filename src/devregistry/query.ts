// Query-string handling with Go's url.ParseQuery semantics, plus Consul's flag, bool, index and wait parsing.
import { badRequest } from './http-error.ts';
import { DurationError, parseGoDuration } from './duration.ts';

/** Multi-valued query parameters, in the order given. Invalid pairs are dropped, as Go's Request.URL.Query() does. */
export class GoQuery {
  readonly #values = new Map<string, string[]>();
  /** False when Go's url.ParseQuery would report an error (a bad escape or a ';'); Consul then answers 500. */
  readonly valid: boolean;

  constructor(raw: string) {
    let valid = true;
    for (const part of raw.split('&')) {
      if (part === '') continue;
      if (part.includes(';')) {
        valid = false;
        continue;
      }
      const eq = part.indexOf('=');
      const k = unescapeQuery(eq === -1 ? part : part.slice(0, eq));
      const v = unescapeQuery(eq === -1 ? '' : part.slice(eq + 1));
      if (k === undefined || v === undefined) {
        valid = false;
        continue;
      }
      const list = this.#values.get(k);
      if (list === undefined) this.#values.set(k, [v]);
      else list.push(v);
    }
    this.valid = valid;
  }

  /** True when the key is present, with or without a value (`?passing`, `?recurse=`). */
  has(key: string): boolean {
    return this.#values.has(key);
  }

  /** First value, or '' when absent (Go's Values.Get). */
  get(key: string): string {
    return this.#values.get(key)?.[0] ?? '';
  }

  getAll(key: string): readonly string[] {
    return this.#values.get(key) ?? [];
  }

  /** Go's Values.Encode(): keys sorted, values in order, form-escaped; `omit` leaves keys out. */
  encode(...omit: string[]): string {
    const keys = [...this.#values.keys()].filter((k) => !omit.includes(k)).sort();
    const out: string[] = [];
    for (const k of keys) {
      for (const v of this.#values.get(k) ?? []) out.push(`${formEscape(k)}=${formEscape(v)}`);
    }
    return out.join('&');
  }
}

function formEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/%20/g, '+')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Go's QueryUnescape: '+' is a space, a bad %-escape makes the whole pair invalid. */
function unescapeQuery(s: string): string | undefined {
  if (/%(?![0-9a-fA-F]{2})/.test(s)) return undefined;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return Buffer.from(
      s.replace(/\+/g, ' ').replace(/%([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
      'latin1',
    ).toString('utf8');
  }
}

/** Go's strconv.ParseBool. */
export function parseGoBool(s: string): boolean | undefined {
  switch (s) {
    case '1':
    case 't':
    case 'T':
    case 'TRUE':
    case 'true':
    case 'True':
      return true;
    case '0':
    case 'f':
    case 'F':
    case 'FALSE':
    case 'false':
    case 'False':
      return false;
    default:
      return undefined;
  }
}

const U64_MAX = 18_446_744_073_709_551_615n;

/** Go's strconv.ParseUint(s, 10, 64); undefined when invalid or out of range. */
export function parseUint64(s: string): bigint | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  const v = BigInt(s);
  return v > U64_MAX ? undefined : v;
}

export type Consistency = 'leader' | 'stale' | 'consistent';

export interface QueryMeta {
  consistency: Consistency;
  /** 0n means "do not block". */
  minIndex: bigint;
  /** Requested wait in ms; 0 means the default. */
  waitMs: number;
  dc: string;
}

/** Consul's parseConsistency + parseWait + parseDC, in that order, with Consul's 400 messages. */
export function parseQueryMeta(q: GoQuery): QueryMeta {
  const stale = q.has('stale');
  const consistent = q.has('consistent');
  if (stale && consistent) throw badRequest('Cannot specify ?stale with ?consistent, conflicting semantics.');
  const { waitMs, minIndex } = parseWaitAndIndex(q);
  return { consistency: stale ? 'stale' : consistent ? 'consistent' : 'leader', minIndex, waitMs, dc: q.get('dc') };
}

/** Consul's parseWait: `wait` first, then `index`, each with Consul's 400 text; absent means 0. */
export function parseWaitAndIndex(q: GoQuery): { waitMs: number; minIndex: bigint } {
  let waitMs = 0;
  const wait = q.get('wait');
  if (wait !== '') {
    try {
      waitMs = parseGoDuration(wait) / 1e6;
    } catch (err) {
      if (err instanceof DurationError) throw badRequest('Invalid wait time');
      throw err;
    }
  }
  let minIndex = 0n;
  const idx = q.get('index');
  if (idx !== '') {
    const v = parseUint64(idx);
    if (v === undefined) throw badRequest('Invalid index');
    minIndex = v;
  }
  return { waitMs, minIndex };
}
