// /v1/kv/<key>: GET (raw, recurse, keys+separator), PUT (flags, cas, acquire, release), DELETE (recurse, cas).
import { blockingRead, readMeta, type RegistryState } from './context.ts';
import { HttpError, badRequest, serverError } from './http-error.ts';
import { json, type Endpoint, type Reply, type RequestCtx } from './http.ts';
import { KV_TOPIC } from './kv.ts';
import { parseUint64 } from './query.ts';
import { kvJson } from './render.ts';

export const KV_MAX_VALUE_SIZE = 512 * 1024;

const topics = (): readonly string[] => [KV_TOPIC];

function uintParam(ctx: RequestCtx, name: string): bigint {
  const raw = ctx.query.get(name);
  const v = parseUint64(raw);
  if (v === undefined) {
    const why = /^\d+$/.test(raw) ? 'value out of range' : 'invalid syntax';
    throw serverError(`strconv.ParseUint: parsing ${JSON.stringify(raw)}: ${why}`);
  }
  return v;
}

function conflicting(ctx: RequestCtx, ...flags: string[]): void {
  if (flags.filter((f) => ctx.query.has(f)).length > 1) throw badRequest(`Conflicting flags: ${ctx.query.encode()}`);
}

export function kvRoutes(state: RegistryState): Endpoint[] {
  const { kv } = state;

  const get = (ctx: RequestCtx): Promise<Reply> => {
    const key = ctx.rest;
    const meta = readMeta(state, ctx);
    if (ctx.query.has('keys')) {
      const sep = ctx.query.has('separator') ? ctx.query.get('separator') : ctx.query.get('seperator');
      return blockingRead(
        state,
        ctx,
        {
          source: { index: () => kv.prefixIndex(key), topics },
          build: (_idx, headers) => {
            const keys: string[] = [];
            for (const e of kv.list(key)) {
              let k = e.Key;
              if (sep !== '') {
                const at = k.indexOf(sep, key.length);
                if (at !== -1) k = k.slice(0, at + sep.length);
              }
              if (keys[keys.length - 1] !== k) keys.push(k);
            }
            if (keys.length === 0 && key !== '') return { kind: 'empty', status: 404, headers };
            return json(keys, headers);
          },
        },
        meta,
      );
    }
    if (ctx.query.has('recurse')) {
      return blockingRead(
        state,
        ctx,
        {
          source: { index: () => kv.prefixIndex(key), topics },
          build: (_idx, headers) => {
            const list = kv.list(key);
            if (list.length === 0) return { kind: 'empty', status: 404, headers };
            return json(list.map(kvJson), headers);
          },
        },
        meta,
      );
    }
    if (key === '') throw badRequest('Missing key name');
    return blockingRead(
      state,
      ctx,
      {
        source: { index: () => kv.get(key)?.ModifyIndex ?? kv.tableIndex(), topics },
        build: (_idx, headers) => {
          const e = kv.get(key);
          if (e === undefined) return { kind: 'empty', status: 404, headers };
          if (ctx.query.has('raw')) {
            return {
              kind: 'text',
              status: 200,
              text: e.Value ?? Buffer.alloc(0),
              contentType: 'text/plain',
              headers: { ...headers, 'X-Content-Type-Options': 'nosniff', 'Content-Security-Policy': 'sandbox' },
            };
          }
          return json([kvJson(e)], headers);
        },
      },
      meta,
    );
  };

  const put = (ctx: RequestCtx): Reply => {
    const key = ctx.rest;
    if (key === '') throw badRequest('Missing key name');
    conflicting(ctx, 'cas', 'acquire', 'release');
    const flags = ctx.query.has('flags') ? uintParam(ctx, 'flags') : 0n;
    const cas = ctx.query.has('cas') ? uintParam(ctx, 'cas') : undefined;
    const size = ctx.body?.length ?? 0;
    if (size > KV_MAX_VALUE_SIZE) {
      throw new HttpError(
        413,
        `Request body(${size} bytes) too large, max size: ${KV_MAX_VALUE_SIZE} bytes. See https://www.consul.io/docs/agent/config/config-files#kv_max_value_size.`,
      );
    }
    const value = size === 0 ? null : Buffer.from(ctx.body ?? Buffer.alloc(0));
    if (cas !== undefined) return json(kv.cas(key, value, flags, cas));
    if (ctx.query.has('acquire')) return json(kv.acquire(key, value, flags, ctx.query.get('acquire')));
    if (ctx.query.has('release')) return json(kv.release(key, value, flags, ctx.query.get('release')));
    kv.set(key, value, flags);
    return json(true);
  };

  const del = (ctx: RequestCtx): Reply => {
    const key = ctx.rest;
    conflicting(ctx, 'recurse', 'cas');
    const recurse = ctx.query.has('recurse');
    if (!recurse && key === '') throw badRequest('Missing key name');
    if (ctx.query.has('cas')) return json(kv.deleteCas(key, uintParam(ctx, 'cas')));
    if (recurse) kv.deleteTree(key);
    else kv.delete(key);
    return json(true);
  };

  return [
    {
      pattern: '/v1/kv/',
      methods: ['GET', 'PUT', 'DELETE'],
      handler: (ctx) => (ctx.method === 'GET' ? get(ctx) : ctx.method === 'PUT' ? put(ctx) : del(ctx)),
    },
  ];
}
