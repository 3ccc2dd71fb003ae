// PUT /v1/txn: KV operations applied atomically at one index, with Consul's verbs, checks, errors and limits.
// Every operation runs against a private overlay of the KV table; only when none failed is the overlay committed.
import type { RegistryState } from './context.ts';
import { readMeta } from './context.ts';
import { DecodeError, decodeValue, parseJsonBody, type Decoded, type Schema } from './decode.ts';
import { HttpError } from './http-error.ts';
import { json, type Endpoint, type Reply } from './http.ts';
import type { KvChanges, KvEntry, KvStore } from './kv.ts';
import { KV_MAX_VALUE_SIZE } from './routes-kv.ts';
import { kvJson } from './render.ts';

/** Consul's maxTxnOps. */
export const MAX_TXN_OPS = 64;
/** Consul's txn_max_req_len default (the suggested raft entry size), which is also kv_max_value_size. */
export const TXN_MAX_REQ_LEN = 512 * 1024;

const KV_OP: Schema = {
  goName: 'api.KVTxnOp',
  fields: {
    Verb: { type: 'string' },
    Key: { type: 'string' },
    Value: { type: 'string' },
    Flags: { type: 'uint' },
    Index: { type: 'uint' },
    Session: { type: 'string' },
    Namespace: { type: 'string' },
    Partition: { type: 'string' },
  },
};

const TXN_OP: Schema = {
  goName: 'api.TxnOp',
  fields: {
    KV: { type: { struct: KV_OP } },
    Node: { type: 'raw' },
    Service: { type: 'raw' },
    Check: { type: 'raw' },
  },
};

const WRITE_VERBS = new Set(['set', 'cas', 'lock', 'unlock', 'delete', 'delete-cas', 'delete-tree']);

interface KvOp {
  readonly verb: string;
  readonly key: string;
  readonly value: Buffer | null;
  readonly flags: bigint;
  readonly index: number;
  readonly session: string;
}

type Op = { readonly kind: 'kv'; readonly kv: KvOp } | { readonly kind: 'other'; readonly what: string };

class TxnOpError extends Error {}

/** Go's base64.StdEncoding.DecodeString: strict alphabet and padding, error at the first bad byte. */
function decodeBase64(s: string): Buffer {
  const bad = /[^A-Za-z0-9+/=]/.exec(s);
  const pad = s.indexOf('=');
  let at = bad?.index ?? -1;
  if (pad !== -1 && (pad < s.length - 2 || /[^=]/.test(s.slice(pad)))) at = at === -1 ? pad : Math.min(at, pad);
  if (at === -1 && s.length % 4 !== 0) at = s.length - (s.length % 4);
  if (at !== -1) throw new DecodeError(`illegal base64 data at input byte ${at}`);
  return Buffer.from(s, 'base64');
}

function parseOps(body: Buffer | undefined): Op[] {
  const parsed = parseJsonBody(body);
  if (parsed === null) return [];
  if (!Array.isArray(parsed)) {
    const kind = typeof parsed === 'object' ? 'object' : typeof parsed === 'string' ? 'string' : typeof parsed;
    throw new DecodeError(`json: cannot unmarshal ${kind} into Go value of type api.TxnOps`);
  }
  return parsed.map((raw: unknown): Op => {
    const d = (decodeValue(raw, { struct: TXN_OP }, 'TxnOp') ?? {}) as Decoded;
    const kv = d.KV as Decoded | undefined;
    if (kv !== undefined) {
      const value = typeof kv.Value === 'string' && kv.Value !== '' ? decodeBase64(kv.Value) : null;
      return {
        kind: 'kv',
        kv: {
          verb: typeof kv.Verb === 'string' ? kv.Verb : '',
          key: typeof kv.Key === 'string' ? kv.Key : '',
          value,
          flags: BigInt(typeof kv.Flags === 'number' ? kv.Flags : 0),
          index: typeof kv.Index === 'number' ? kv.Index : 0,
          session: typeof kv.Session === 'string' ? kv.Session : '',
        },
      };
    }
    for (const k of ['Node', 'Service', 'Check'] as const) {
      if (d[k] !== undefined) return { kind: 'other', what: `${k} operations are not supported by the dev registry` };
    }
    return { kind: 'other', what: 'no operation specified' };
  });
}

/** The KV table as this transaction sees it: committed entries under its own pending changes. */
class Overlay {
  readonly changes: KvChanges = new Map();
  readonly #kv: KvStore;
  readonly #idx: number;
  constructor(kv: KvStore, idx: number) {
    this.#kv = kv;
    this.#idx = idx;
  }

  get(key: string): KvEntry | undefined {
    const c = this.changes.get(key);
    if (c !== undefined) return c ?? undefined;
    return this.#kv.get(key);
  }

  list(prefix: string): KvEntry[] {
    const out = new Map<string, KvEntry>();
    for (const e of this.#kv.list(prefix)) out.set(e.Key, e);
    for (const [k, e] of this.changes) {
      if (!k.startsWith(prefix)) continue;
      if (e === null) out.delete(k);
      else out.set(k, e);
    }
    return [...out.values()].sort((a, b) => (a.Key < b.Key ? -1 : a.Key > b.Key ? 1 : 0));
  }

  /** kvsSetTxn: keeps CreateIndex, LockIndex and (unless `session` is given) the Session of an existing entry. */
  put(op: KvOp, session?: string, lockIndex?: number): KvEntry {
    const existing = this.get(op.key);
    const entry: KvEntry = {
      LockIndex: lockIndex ?? existing?.LockIndex ?? 0,
      Key: op.key,
      Flags: op.flags,
      Value: op.value,
      Session: session ?? existing?.Session ?? '',
      CreateIndex: existing?.CreateIndex ?? this.#idx,
      ModifyIndex: this.#idx,
    };
    this.changes.set(op.key, entry);
    return entry;
  }

  delete(key: string): void {
    if (this.get(key) !== undefined) this.changes.set(key, null);
  }
}

const q = (s: string): string => JSON.stringify(s);
const withoutValue = (e: KvEntry): KvEntry => ({ ...e, Value: null });

/** One KV operation (Consul's txnKVS); returns its results or throws TxnOpError with Consul's text. */
function applyKv(o: Overlay, kv: KvStore, op: KvOp): KvEntry[] {
  const existing = o.get(op.key);
  switch (op.verb) {
    case 'set':
      return [withoutValue(o.put(op))];
    case 'cas': {
      const ok = op.index === 0 ? existing === undefined : existing?.ModifyIndex === op.index;
      if (!ok) throw new TxnOpError(`failed to set key ${q(op.key)}, index is stale`);
      return [withoutValue(o.put(op))];
    }
    case 'lock': {
      if (op.session === '') throw new TxnOpError('missing session');
      if (!kv.sessionExists(op.session)) throw new TxnOpError(`invalid session ${q(op.session)}`);
      if (existing !== undefined && existing.Session !== '' && existing.Session !== op.session)
        throw new TxnOpError(`failed to lock key ${q(op.key)}, lock is already held`);
      const lockIndex =
        existing === undefined ? 1 : existing.Session === op.session ? existing.LockIndex : existing.LockIndex + 1;
      return [withoutValue(o.put(op, op.session, lockIndex))];
    }
    case 'unlock': {
      if (op.session === '') throw new TxnOpError('missing session');
      if (existing?.Session !== op.session)
        throw new TxnOpError(`failed to unlock key ${q(op.key)}, lock isn't held, or is held by another session`);
      return [withoutValue(o.put(op, '', existing.LockIndex))];
    }
    case 'get':
      if (existing === undefined) throw new TxnOpError(`key ${q(op.key)} doesn't exist`);
      return [existing];
    case 'get-tree':
      return o.list(op.key);
    case 'check-index':
      if (existing === undefined) throw new TxnOpError(`failed to check index, key ${q(op.key)} doesn't exist`);
      if (existing.ModifyIndex !== op.index)
        throw new TxnOpError(
          `failed index check for key ${q(op.key)}, current modify index ${existing.ModifyIndex} != ${op.index}`,
        );
      return [withoutValue(existing)];
    case 'check-session':
      if (existing === undefined) throw new TxnOpError(`failed to check session, key ${q(op.key)} doesn't exist`);
      if (existing.Session !== op.session)
        throw new TxnOpError(
          `failed session check for key ${q(op.key)}, current session ${q(existing.Session)} != ${q(op.session)}`,
        );
      return [withoutValue(existing)];
    case 'check-not-exists':
      if (existing !== undefined) throw new TxnOpError(`key ${q(op.key)} exists`);
      return [];
    case 'delete':
      o.delete(op.key);
      return [];
    case 'delete-cas':
      if (existing !== undefined && existing.ModifyIndex !== op.index)
        throw new TxnOpError(`failed to delete key ${q(op.key)}, index is stale`);
      o.delete(op.key);
      return [];
    case 'delete-tree':
      for (const e of o.list(op.key)) o.delete(e.Key);
      return [];
    default:
      throw new TxnOpError(`unknown KV verb ${q(op.verb)}`);
  }
}

/** kvsPreApply, as Txn.preCheck runs it over every KV operation before anything is applied. */
function preCheck(kv: KvStore, op: KvOp): string | undefined {
  if (op.key === '' && op.verb !== 'delete-tree') return 'Must provide key';
  if (op.verb === 'lock' && kv.lockDelayed(op.key)) return `failed to lock key ${q(op.key)} due to lock delay`;
  return undefined;
}

interface TxnError {
  OpIndex: number;
  What: string;
}

export function txnRoutes(state: RegistryState): Endpoint[] {
  const { kv } = state;
  const handler = (ctx: Parameters<Endpoint['handler']>[0]): Reply => {
    const size = ctx.body?.length ?? 0;
    if (size > TXN_MAX_REQ_LEN) {
      throw new HttpError(413, `Request body too large, max size: ${TXN_MAX_REQ_LEN} bytes`);
    }
    let ops: Op[];
    try {
      ops = parseOps(ctx.body);
    } catch (err) {
      if (err instanceof DecodeError) throw new HttpError(400, `Failed to parse body: ${err.message}`);
      throw err;
    }
    if (ops.length > MAX_TXN_OPS) {
      throw new HttpError(413, `Transaction contains too many operations (${ops.length} > ${MAX_TXN_OPS})`);
    }
    for (const op of ops) {
      if (op.kind === 'kv' && (op.kv.value?.length ?? 0) > KV_MAX_VALUE_SIZE) {
        throw new HttpError(
          413,
          `Value for key ${q(op.kv.key)} is too large (${op.kv.value?.length ?? 0} > ${KV_MAX_VALUE_SIZE} bytes)`,
        );
      }
    }
    readMeta(state, ctx);
    const writes = ops.some((op) => op.kind === 'kv' && WRITE_VERBS.has(op.kv.verb));
    // A read-only transaction is answered like a read (leader metadata); a write carries no metadata headers.
    const headers: Record<string, string> = writes
      ? {}
      : { 'X-Consul-Knownleader': 'true', 'X-Consul-Lastcontact': '0' };

    const errors: TxnError[] = [];
    ops.forEach((op, i) => {
      if (op.kind !== 'kv') return;
      const what = preCheck(kv, op.kv);
      if (what !== undefined) errors.push({ OpIndex: i, What: what });
    });
    const conflict = (): Reply => ({ kind: 'json', status: 409, value: { Results: null, Errors: errors }, headers });
    if (errors.length > 0) return conflict();

    // The index this transaction would commit at; it is taken from the raft counter only when it commits.
    const idx = state.ix.current + 1;
    const overlay = new Overlay(kv, idx);
    const results: { KV: Record<string, unknown> }[] = [];
    ops.forEach((op, i) => {
      if (op.kind !== 'kv') {
        errors.push({ OpIndex: i, What: op.what });
        return;
      }
      try {
        for (const e of applyKv(overlay, kv, op.kv)) results.push({ KV: kvJson(e) });
      } catch (err) {
        if (!(err instanceof TxnOpError)) throw err;
        errors.push({ OpIndex: i, What: err.message });
      }
    });
    if (errors.length > 0) return conflict();
    if (overlay.changes.size > 0) kv.commit(overlay.changes, state.ix.next());
    return json({ Results: results, Errors: null }, headers);
  };
  return [{ pattern: '/v1/txn', methods: ['PUT'], handler }];
}
