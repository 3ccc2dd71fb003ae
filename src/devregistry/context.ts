// What the route modules share: the stores, and the blocking-read helper that sets Consul's metadata headers.
import type { LocalAgent } from './local-agent.ts';
import { blockUntilChanged, type BlockingSource } from './blocking.ts';
import type { Catalog } from './catalog.ts';
import type { Clock } from './clock.ts';
import { DecodeError, decodeBody, type Decoded, type Schema } from './decode.ts';
import { badRequest, serverError } from './http-error.ts';
import { json, type Reply, type RequestCtx } from './http.ts';
import type { Indexes } from './indexes.ts';
import type { KvStore } from './kv.ts';
import { parseQueryMeta, type QueryMeta } from './query.ts';
import type { SessionStore } from './sessions.ts';

export const CONSUL_VERSION = '1.20.0';

/**
 * Built replies of blocking reads, shared by every reader of the same path and query at the same index. Any write
 * moves the raft index and empties the cache, so a hit is always what a fresh build would give.
 */
export class ReadCache {
  #raft = -1;
  readonly #map = new Map<string, Reply>();

  get(key: string, raft: number): Reply | undefined {
    if (raft !== this.#raft) {
      this.#raft = raft;
      this.#map.clear();
      return undefined;
    }
    return this.#map.get(key);
  }

  set(key: string, reply: Reply): void {
    if (this.#map.size >= 1024) this.#map.clear();
    this.#map.set(key, reply);
  }
}

export interface RegistryState {
  readonly ix: Indexes;
  readonly catalog: Catalog;
  readonly agent: LocalAgent;
  readonly kv: KvStore;
  readonly sessions: SessionStore;
  readonly clock: Clock;
  readonly nodeName: string;
  readonly datacenter: string;
  readonly address: string;
  readonly cache: ReadCache;
}

/** Consul's metadata headers for RPC-backed reads. */
export function metaHeaders(index: number, meta: QueryMeta): Record<string, string> {
  return {
    'X-Consul-Index': String(Math.max(1, index)),
    'X-Consul-Knownleader': 'true',
    'X-Consul-Lastcontact': '0',
    'X-Consul-Effective-Consistency': meta.consistency,
  };
}

/** Parses ?dc/?stale/?consistent/?wait/?index, rejecting other datacenters as Consul does. */
export function readMeta(state: RegistryState, ctx: RequestCtx): QueryMeta {
  const meta = parseQueryMeta(ctx.query);
  if (meta.dc !== '' && meta.dc !== state.datacenter) throw serverError('No path to datacenter');
  return meta;
}

export interface BlockingRead {
  readonly source: BlockingSource;
  /** Builds the answer once the wait is over; may return a ready Reply (e.g. KV's 404). */
  readonly build: (index: number, headers: Record<string, string>) => Reply;
}

/** Runs a blocking query and answers with the built value and the metadata headers. */
export async function blockingRead(
  state: RegistryState,
  ctx: RequestCtx,
  read: BlockingRead,
  meta = readMeta(state, ctx),
): Promise<Reply> {
  // Built before the wait, so a wake-up storm only appends the index.
  const keyBase = `${ctx.method} ${ctx.path}?${ctx.query.encode('index', 'wait', 'token', 'pretty')}#`;
  const index = await blockUntilChanged(state.ix.hub, state.clock, meta, read.source, ctx.signal);
  const key = `${keyBase}${index}`;
  const raft = state.ix.current;
  const hit = state.cache.get(key, raft);
  if (hit !== undefined) return hit;
  const reply = read.build(index, metaHeaders(index, meta));
  state.cache.set(key, reply);
  return reply;
}

export const jsonWithMeta =
  (value: unknown) =>
  (_index: number, headers: Record<string, string>): Reply =>
    json(value, headers);

/** Body decoding with Consul's 400 "Request decode failed: …". */
export function decodeRequest(ctx: RequestCtx, schema: Schema): Decoded {
  try {
    return decodeBody(ctx.body, schema);
  } catch (err) {
    if (err instanceof DecodeError) throw badRequest(`Request decode failed: ${err.message}`);
    throw err;
  }
}
