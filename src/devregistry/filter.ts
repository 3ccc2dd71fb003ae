// A subset of go-bexpr, the `filter` query language, evaluated over the JSON shapes Consul returns.
// Supported: ==, !=, in, not in, contains, not contains, is empty, is not empty, matches, not matches,
// and, or, not, parentheses; selectors like Service.Meta.version or Service.Meta["k"].
import { badRequest, serverError } from './http-error.ts';

/** Deepest nesting of parentheses and `not` a filter may have; deeper is a 400 before any recursion can overflow. */
export const MAX_FILTER_DEPTH = 64;

type Value = string | number | boolean;

type Node =
  | { op: 'and' | 'or'; items: Node[] }
  | { op: 'not'; inner: Node }
  | {
      op: '==' | '!=' | 'contains' | 'not contains' | 'in' | 'not in' | 'matches' | 'not matches';
      sel: string[];
      value: Value;
    }
  | { op: 'empty' | 'not empty'; sel: string[] };

class FilterSyntaxError extends Error {}
class FilterTooDeepError extends Error {}

interface Token {
  kind: 'ident' | 'string' | 'number' | 'op' | 'lparen' | 'rparen' | 'dot' | 'lbrack' | 'rbrack' | 'end';
  text: string;
  pos: number;
}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src.charAt(i);
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === '"' || c === '`') {
      let s = '';
      i++;
      while (i < src.length && src.charAt(i) !== c) {
        if (c === '"' && src.charAt(i) === '\\' && i + 1 < src.length) {
          const n = src.charAt(i + 1);
          s += n === 'n' ? '\n' : n === 't' ? '\t' : n;
          i += 2;
          continue;
        }
        s += src.charAt(i++);
      }
      if (i >= src.length)
        throw new FilterSyntaxError(`${posText(start)}: rule "stringLiteral": Unterminated string literal`);
      i++;
      out.push({ kind: 'string', text: s, pos: start });
    } else if (c === '=' || c === '!') {
      if (src.charAt(i + 1) !== '=')
        throw new FilterSyntaxError(`${posText(i)}: no match found, expected: "!=" or "=="`);
      out.push({ kind: 'op', text: src.slice(i, i + 2), pos: start });
      i += 2;
    } else if (c === '(') {
      out.push({ kind: 'lparen', text: c, pos: i++ });
    } else if (c === ')') {
      out.push({ kind: 'rparen', text: c, pos: i++ });
    } else if (c === '.') {
      out.push({ kind: 'dot', text: c, pos: i++ });
    } else if (c === '[') {
      out.push({ kind: 'lbrack', text: c, pos: i++ });
    } else if (c === ']') {
      out.push({ kind: 'rbrack', text: c, pos: i++ });
    } else if (/[-0-9]/.test(c)) {
      const m = /^-?\d+(\.\d+)?/.exec(src.slice(i));
      if (m === null) throw new FilterSyntaxError(`${posText(i)}: rule "number": Invalid number literal`);
      i += m[0].length;
      if (/[a-zA-Z_]/.test(src.charAt(i)))
        throw new FilterSyntaxError(`${posText(start)}: rule "number": Invalid number literal`);
      out.push({ kind: 'number', text: m[0], pos: start });
    } else if (/[a-zA-Z_]/.test(c)) {
      const m = /^[a-zA-Z0-9_/-]+/.exec(src.slice(i));
      const text = m?.[0] ?? c;
      i += text.length;
      out.push({ kind: 'ident', text, pos: start });
    } else {
      throw new FilterSyntaxError(`${posText(i)}: no match found, expected: "(", "not", [ \\t\\r\\n] or [a-zA-Z_]`);
    }
  }
  out.push({ kind: 'end', text: '', pos: src.length });
  return out;
}

/** pigeon's "line:col (offset)" prefix. */
const posText = (offset: number): string => `1:${offset + 1} (${offset})`;

class Parser {
  readonly #t: Token[];
  #i = 0;
  #depth = 0;
  constructor(tokens: Token[]) {
    this.#t = tokens;
  }
  #peek(): Token {
    return this.#t[this.#i] ?? { kind: 'end', text: '', pos: 0 };
  }
  #next(): Token {
    const t = this.#peek();
    this.#i++;
    return t;
  }
  #isWord(w: string, offset = 0): boolean {
    const t = this.#t[this.#i + offset];
    return t?.kind === 'ident' && t.text === w;
  }
  #fail(expected: string): never {
    throw new FilterSyntaxError(`${posText(this.#peek().pos)}: no match found, expected: ${expected}`);
  }

  parse(): Node {
    const n = this.#or();
    if (this.#peek().kind !== 'end') this.#fail('"and", "or", [ \\t\\r\\n] or EOF');
    return n;
  }
  // and/or chains are flat lists, so a long chain costs no stack depth; only nesting does, and it is bounded.
  #or(): Node {
    const first = this.#and();
    if (!this.#isWord('or')) return first;
    const items = [first];
    while (this.#isWord('or')) {
      this.#i++;
      items.push(this.#and());
    }
    return { op: 'or', items };
  }
  #and(): Node {
    const first = this.#not();
    if (!this.#isWord('and')) return first;
    const items = [first];
    while (this.#isWord('and')) {
      this.#i++;
      items.push(this.#not());
    }
    return { op: 'and', items };
  }
  #enter(): void {
    this.#depth += 1;
    if (this.#depth > MAX_FILTER_DEPTH)
      throw new FilterTooDeepError(`filter nested deeper than ${MAX_FILTER_DEPTH} levels`);
  }
  #not(): Node {
    if (this.#isWord('not') && !this.#isWord('in', 1)) {
      this.#i++;
      this.#enter();
      const inner = this.#not();
      this.#depth -= 1;
      return { op: 'not', inner };
    }
    if (this.#peek().kind === 'lparen') {
      this.#i++;
      this.#enter();
      const n = this.#or();
      if (this.#next().kind !== 'rparen') this.#fail('")"');
      this.#depth -= 1;
      return n;
    }
    return this.#match();
  }
  #value(): Value {
    const t = this.#next();
    if (t.kind === 'string') return t.text;
    if (t.kind === 'number') return Number(t.text);
    if (t.kind === 'ident') return t.text === 'true' ? true : t.text === 'false' ? false : t.text;
    this.#i--;
    return this.#fail('"\\"", "`", "-", [0-9] or [a-zA-Z]');
  }
  #selector(): string[] {
    const first = this.#next();
    if (first.kind !== 'ident') {
      this.#i--;
      this.#fail('"(", "not", [ \\t\\r\\n] or [a-zA-Z]');
    }
    const sel = [first.text];
    for (;;) {
      const t = this.#peek();
      if (t.kind === 'dot') {
        this.#i++;
        const id = this.#next();
        if (id.kind !== 'ident') {
          this.#i--;
          this.#fail('[a-zA-Z0-9_]');
        }
        sel.push(id.text);
      } else if (t.kind === 'lbrack') {
        this.#i++;
        const s = this.#next();
        if (s.kind !== 'string') {
          this.#i--;
          this.#fail('"\\""');
        }
        if (this.#next().kind !== 'rbrack') {
          this.#i--;
          this.#fail('"]"');
        }
        sel.push(s.text);
      } else {
        return sel;
      }
    }
  }
  #match(): Node {
    // Value (not) in Selector
    const save = this.#i;
    const t = this.#peek();
    if (t.kind === 'string' || t.kind === 'number' || t.kind === 'ident') {
      const value = this.#value();
      if (this.#isWord('in')) {
        this.#i++;
        return { op: 'in', sel: this.#selector(), value };
      }
      if (this.#isWord('not') && this.#isWord('in', 1)) {
        this.#i += 2;
        return { op: 'not in', sel: this.#selector(), value };
      }
      this.#i = save;
    }
    const sel = this.#selector();
    const op = this.#peek();
    if (op.kind === 'op') {
      this.#i++;
      return { op: op.text === '==' ? '==' : '!=', sel, value: this.#value() };
    }
    if (this.#isWord('is')) {
      this.#i++;
      if (this.#isWord('empty')) {
        this.#i++;
        return { op: 'empty', sel };
      }
      if (this.#isWord('not') && this.#isWord('empty', 1)) {
        this.#i += 2;
        return { op: 'not empty', sel };
      }
      this.#fail('"empty" or "not"');
    }
    for (const word of ['contains', 'matches'] as const) {
      if (this.#isWord(word)) {
        this.#i++;
        return { op: word, sel, value: this.#value() };
      }
      if (this.#isWord('not') && this.#isWord(word, 1)) {
        this.#i += 2;
        return { op: `not ${word}`, sel, value: this.#value() };
      }
    }
    return this.#fail('"!=", ".", "==", "[", [ \\t\\r\\n] or [a-zA-Z0-9_]');
  }
}

/** Values reached by selecting through a list of structs (Checks.Status): a match on any of them counts. */
class Projection {
  readonly values: unknown[];
  constructor(values: unknown[]) {
    this.values = values;
  }
}

function field(rec: Record<string, unknown>, part: string): unknown {
  if (Object.hasOwn(rec, part)) return rec[part];
  const key = Object.keys(rec).find((k) => k.toLowerCase() === part.toLowerCase());
  return key === undefined ? undefined : rec[key];
}

function resolve(obj: unknown, sel: readonly string[]): unknown {
  let cur: unknown = obj;
  for (const part of sel) {
    if (cur instanceof Projection) {
      cur = new Projection(
        cur.values.map((v) =>
          v !== null && typeof v === 'object' && !Array.isArray(v)
            ? field(v as Record<string, unknown>, part)
            : undefined,
        ),
      );
    } else if (Array.isArray(cur)) {
      cur = new Projection(
        cur.map((v: unknown) =>
          v !== null && typeof v === 'object' && !Array.isArray(v)
            ? field(v as Record<string, unknown>, part)
            : undefined,
        ),
      );
    } else if (cur !== null && typeof cur === 'object') {
      cur = field(cur as Record<string, unknown>, part);
    } else {
      return undefined;
    }
  }
  return cur;
}

const eqScalar = (a: unknown, b: Value): boolean =>
  (typeof a === 'string' || typeof a === 'number' || typeof a === 'boolean') && String(a) === String(b);
const eq = (a: unknown, b: Value): boolean =>
  a instanceof Projection ? a.values.some((v) => eqScalar(v, b)) : eqScalar(a, b);

function contains(v: unknown, needle: Value): boolean {
  if (v instanceof Projection) return v.values.some((x) => contains(x, needle));
  if (Array.isArray(v)) return v.some((x) => eqScalar(x, needle));
  if (typeof v === 'string') return v.includes(String(needle));
  if (v !== null && typeof v === 'object') return Object.hasOwn(v, String(needle));
  return false;
}

function evaluate(n: Node, obj: unknown): boolean {
  switch (n.op) {
    case 'and':
      return n.items.every((x) => evaluate(x, obj));
    case 'or':
      return n.items.some((x) => evaluate(x, obj));
    case 'not':
      return !evaluate(n.inner, obj);
    case 'empty':
    case 'not empty': {
      const raw = resolve(obj, n.sel);
      const v = raw instanceof Projection ? raw.values : raw;
      const isEmpty =
        v === undefined ||
        v === null ||
        v === '' ||
        (Array.isArray(v) && v.length === 0) ||
        (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);
      return n.op === 'empty' ? isEmpty : !isEmpty;
    }
    default: {
      const v = resolve(obj, n.sel);
      let r: boolean;
      switch (n.op) {
        case '==':
        case '!=':
          r = eq(v, n.value);
          break;
        case 'in':
        case 'not in':
        case 'contains':
        case 'not contains':
          r = contains(v, n.value);
          break;
        case 'matches':
        case 'not matches': {
          const values = v instanceof Projection ? v.values : [v];
          try {
            const re = new RegExp(String(n.value));
            r = values.some((x) => typeof x === 'string' && re.test(x));
          } catch {
            r = false;
          }
          break;
        }
      }
      return n.op.startsWith('not') || n.op === '!=' ? !r : r;
    }
  }
}

/**
 * Compiles a filter; Consul answers a bad one with 500 "Failed to create boolean expression evaluator: …".
 * Nesting deeper than MAX_FILTER_DEPTH is a 400 (our limit: Consul's parser has none of its own).
 */
export function compileFilter(expr: string): (obj: unknown) => boolean {
  try {
    const ast = new Parser(tokenize(expr)).parse();
    return (obj) => evaluate(ast, obj);
  } catch (err) {
    if (err instanceof FilterSyntaxError)
      throw serverError(`Failed to create boolean expression evaluator: ${err.message}`);
    if (err instanceof FilterTooDeepError)
      throw badRequest(`Failed to create boolean expression evaluator: ${err.message}`);
    throw err;
  }
}

/** Keeps the items that match; an empty expression keeps everything. */
export function applyFilter<T>(expr: string, items: T[]): T[] {
  if (expr === '') return items;
  const f = compileFilter(expr);
  return items.filter((x) => f(x));
}
