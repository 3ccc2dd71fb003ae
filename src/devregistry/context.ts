// What the route modules share: the stores, and the blocking-read helper that sets Consul's metadata headers.
import type { Agent } from './agent.ts';
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

export interface RegistryState {
  readonly ix: Indexes;
  readonly catalog: Catalog;
  readonly agent: Agent;
  readonly kv: KvStore;
  readonly sessions: SessionStore;
  readonly clock: Clock;
  readonly nodeName: string;
  readonly datacenter: string;
  readonly address: string;
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
export async function blockingRead(state: RegistryState, ctx: RequestCtx, read: BlockingRead, meta = readMeta(state, ctx)): Promise<Reply> {
  const index = await blockUntilChanged(state.ix.hub, state.clock, meta, read.source, ctx.signal);
  return read.build(index, metaHeaders(index, meta));
}

export const jsonWithMeta = (value: unknown) => (_index: number, headers: Record<string, string>): Reply => json(value, headers);

/** Body decoding with Consul's 400 "Request decode failed: …". */
export function decodeRequest(ctx: RequestCtx, schema: Schema): Decoded {
  try {
    return decodeBody(ctx.body, schema);
  } catch (err) {
    if (err instanceof DecodeError) throw badRequest(`Request decode failed: ${err.message}`);
    throw err;
  }
}
