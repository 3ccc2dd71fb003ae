// JSON request bodies decoded like Go's encoding/json with DisallowUnknownFields: case-insensitive keys,
// snake_case aliases, type errors and unknown fields reported with Go's messages (Consul prefixes them).
import { DurationError, parseGoDuration } from './duration.ts';

export type FieldType =
  | 'string'
  | 'int'
  | 'uint'
  | 'bool'
  | 'duration'
  /** structs.Session's LockDelay: a duration or nanoseconds, and anything below 1000 means seconds. */
  | 'lockDelay'
  | 'strings'
  | 'stringMap'
  | 'raw'
  | { readonly struct: Schema }
  | { readonly array: FieldType }
  | { readonly map: FieldType };

export interface FieldSpec {
  readonly type: FieldType;
  readonly aliases?: readonly string[];
}

export interface Schema {
  /** Go type name used in error messages, e.g. "structs.ServiceDefinition". */
  readonly goName: string;
  readonly fields: Readonly<Record<string, FieldSpec>>;
}

/** Go's decode error text, without Consul's "Request decode failed: " prefix. */
export class DecodeError extends Error {}

export type Decoded = Record<string, unknown>;

function jsonKind(v: unknown): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return `number`;
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'array';
  return 'object';
}

function goTypeName(t: FieldType): string {
  if (typeof t === 'string') {
    switch (t) {
      case 'string':
        return 'string';
      case 'int':
        return 'int';
      case 'uint':
        return 'uint64';
      case 'bool':
        return 'bool';
      case 'duration':
      case 'lockDelay':
        return 'time.Duration';
      case 'strings':
        return '[]string';
      case 'stringMap':
        return 'map[string]string';
      case 'raw':
        return 'interface {}';
    }
  }
  if ('struct' in t) return t.struct.goName;
  if ('array' in t) return `[]${goTypeName(t.array)}`;
  return `map[string]${goTypeName(t.map)}`;
}

function typeError(v: unknown, field: string, t: FieldType): DecodeError {
  const kind = typeof v === 'number' ? `number ${String(v)}` : jsonKind(v);
  return new DecodeError(`json: cannot unmarshal ${kind} into Go struct field ${field} of type ${goTypeName(t)}`);
}

export function decodeValue(v: unknown, t: FieldType, field: string): unknown {
  if (v === null) return undefined;
  if (typeof t === 'string') {
    switch (t) {
      case 'string':
        if (typeof v !== 'string') throw typeError(v, field, t);
        return v;
      case 'int':
      case 'uint':
        if (typeof v !== 'number' || !Number.isInteger(v) || (t === 'uint' && v < 0)) throw typeError(v, field, t);
        return v;
      case 'bool':
        if (typeof v !== 'boolean') throw typeError(v, field, t);
        return v;
      case 'duration':
        // Consul's custom UnmarshalJSON: a string is a Go duration, a number is nanoseconds.
        if (typeof v === 'number') return v;
        if (typeof v !== 'string') throw typeError(v, field, t);
        try {
          return parseGoDuration(v);
        } catch (err) {
          if (err instanceof DurationError) throw new DecodeError(err.message);
          throw err;
        }
      case 'lockDelay': {
        const ns = decodeValue(v, 'duration', field) as number;
        return ns < 1000 ? ns * 1e9 : ns;
      }
      case 'strings':
        if (!Array.isArray(v)) throw typeError(v, field, t);
        return v.map((x: unknown) => {
          if (x === null) return '';
          if (typeof x !== 'string') throw typeError(x, field, 'string');
          return x;
        });
      case 'stringMap': {
        if (typeof v !== 'object' || Array.isArray(v)) throw typeError(v, field, t);
        const out: Record<string, string> = {};
        for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
          if (x === null) {
            out[k] = '';
            continue;
          }
          if (typeof x !== 'string') throw typeError(x, field, 'string');
          out[k] = x;
        }
        return out;
      }
      case 'raw':
        return v;
    }
  }
  if ('struct' in t) {
    if (typeof v !== 'object' || Array.isArray(v)) throw typeError(v, field, t);
    return decodeStruct(v as Record<string, unknown>, t.struct, field);
  }
  if ('array' in t) {
    if (!Array.isArray(v)) throw typeError(v, field, t);
    return v.map((x: unknown) => decodeValue(x, t.array, field));
  }
  if (typeof v !== 'object' || Array.isArray(v)) throw typeError(v, field, t);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = decodeValue(x, t.map, field);
  return out;
}

function decodeStruct(obj: Record<string, unknown>, schema: Schema, path: string): Decoded {
  const out: Decoded = {};
  const shortName = schema.goName.replace(/^.*\./, '');
  for (const [key, value] of Object.entries(obj)) {
    const name = resolveField(schema, key);
    if (name === undefined) throw new DecodeError(`json: unknown field ${JSON.stringify(key)}`);
    const spec = schema.fields[name];
    if (spec === undefined) continue;
    const fieldPath = path === '' ? `${shortName}.${name}` : `${path}.${name}`;
    const decoded = decodeValue(value, spec.type, fieldPath);
    if (decoded !== undefined) out[name] = decoded;
  }
  return out;
}

function resolveField(schema: Schema, key: string): string | undefined {
  if (Object.hasOwn(schema.fields, key)) return key;
  const lower = key.toLowerCase();
  for (const [name, spec] of Object.entries(schema.fields)) {
    if (name.toLowerCase() === lower) return name;
    if (spec.aliases?.some((a) => a === key || a.toLowerCase() === lower)) return name;
  }
  return undefined;
}

/** Describes a JSON.parse failure the way Go's decoder words it. */
function syntaxMessage(text: string, err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (/end of (JSON )?input|Unterminated/i.test(msg)) return 'unexpected EOF';
  const pos = /position (\d+)/.exec(msg);
  let at = pos?.[1] === undefined ? -1 : Number(pos[1]);
  if (at === -1) {
    const tok = /Unexpected token '?(.)/.exec(msg);
    at = tok?.[1] === undefined ? 0 : Math.max(0, text.indexOf(tok[1]));
  }
  if (at >= text.length || text.slice(at).trim() === '') return 'unexpected EOF';
  const ch = `'${text.charAt(at).replace(/'/g, "\\'")}'`;
  if (/after property name/.test(msg)) return `invalid character ${ch} after object key`;
  if (/after property value/.test(msg)) return `invalid character ${ch} after object key:value pair`;
  if (/after array element/.test(msg)) return `invalid character ${ch} after array element`;
  if (/non-whitespace character after JSON/.test(msg)) return `invalid character ${ch} after top-level value`;
  return `invalid character ${ch} looking for beginning of value`;
}

/** Deepest JSON nesting a request body may have. Consul's own bodies need fewer than 10 levels. */
export const MAX_JSON_DEPTH = 64;

/**
 * True when the JSON text nests arrays/objects deeper than `max`. One pass over the bytes, no allocation: it runs
 * before JSON.parse, so a body of millions of `[` costs a scan, not a parse tree (or the event loop for seconds).
 */
export function jsonTooDeep(body: Uint8Array, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const b = body[i];
    if (inString) {
      if (b === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) {
      inString = true;
    } else if (b === 0x5b || b === 0x7b) {
      if (++depth > max) return true;
    } else if (b === 0x5d || b === 0x7d) {
      depth--;
    }
  }
  return false;
}

/**
 * Parses a request body the way Go's Decoder reads its first value: an empty body is `EOF`; text after the first
 * value is ignored; syntax errors use Go's wording. Bodies nested deeper than MAX_JSON_DEPTH are refused first.
 */
export function parseJsonBody(body: Buffer | undefined): unknown {
  if (body !== undefined && jsonTooDeep(body)) {
    throw new DecodeError(`json: nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  const text = body === undefined ? '' : body.toString('utf8');
  if (text.trim() === '') throw new DecodeError('EOF');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    // Go's Decoder reads the first value and ignores what follows it.
    const after = err instanceof Error ? /after JSON at position (\d+)/.exec(err.message) : null;
    try {
      if (after?.[1] === undefined) throw err;
      parsed = JSON.parse(text.slice(0, Number(after[1])));
    } catch {
      throw new DecodeError(syntaxMessage(text, err));
    }
  }
  return parsed;
}

/** Decodes a request body into a struct. Returns canonical field names (the schema's keys). */
export function decodeBody(body: Buffer | undefined, schema: Schema): Decoded {
  const parsed = parseJsonBody(body);
  if (parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new DecodeError(`json: cannot unmarshal ${jsonKind(parsed)} into Go value of type ${schema.goName}`);
  }
  return decodeStruct(parsed as Record<string, unknown>, schema, '');
}

// ---- typed accessors for decoded structs -------------------------------------------------

export const str = (d: Decoded, k: string, dflt = ''): string => (typeof d[k] === 'string' ? d[k] : dflt);
export const num = (d: Decoded, k: string, dflt = 0): number => (typeof d[k] === 'number' ? d[k] : dflt);
export const bool = (d: Decoded, k: string, dflt = false): boolean => (typeof d[k] === 'boolean' ? d[k] : dflt);
export const strs = (d: Decoded, k: string): string[] | undefined =>
  Array.isArray(d[k]) ? (d[k] as string[]) : undefined;
export const strMap = (d: Decoded, k: string): Record<string, string> | undefined =>
  typeof d[k] === 'object' && d[k] !== null && !Array.isArray(d[k]) ? (d[k] as Record<string, string>) : undefined;
export const sub = (d: Decoded, k: string): Decoded | undefined =>
  typeof d[k] === 'object' && d[k] !== null && !Array.isArray(d[k]) ? (d[k] as Decoded) : undefined;
export const subs = (d: Decoded, k: string): Decoded[] | undefined =>
  Array.isArray(d[k]) ? (d[k] as Decoded[]) : undefined;
