// /v1/session/*: create, destroy, renew, info, node, list.
import { blockingRead, decodeRequest, readMeta, type RegistryState } from './context.ts';
import type { Decoded } from './decode.ts';
import { badRequest, notFound } from './http-error.ts';
import { json, type Endpoint, type RequestCtx } from './http.ts';
import { SESSION } from './schemas.ts';
import { SESSION_TOPIC, type SessionRec } from './sessions.ts';

const topics = (): readonly string[] => [SESSION_TOPIC];

export function sessionRoutes(state: RegistryState): Endpoint[] {
  const { sessions } = state;
  const list = (ctx: RequestCtx, pick: () => SessionRec[]) => {
    const meta = readMeta(state, ctx);
    return blockingRead(
      state,
      ctx,
      {
        source: { index: () => sessions.index(), topics },
        build: (_idx, headers) => json(pick(), headers),
      },
      meta,
    );
  };
  const missing = (ctx: RequestCtx): string => {
    if (ctx.rest === '') throw badRequest('Missing session');
    return ctx.rest;
  };
  return [
    {
      pattern: '/v1/session/create',
      methods: ['PUT'],
      handler: (ctx) => {
        const d: Decoded = ctx.body === undefined || ctx.body.length === 0 ? {} : decodeRequest(ctx, SESSION);
        readMeta(state, ctx);
        const rec = sessions.create(d, state.nodeName);
        return json({ ID: rec.ID });
      },
    },
    {
      pattern: '/v1/session/destroy/',
      methods: ['PUT'],
      handler: (ctx) => {
        sessions.destroy(missing(ctx));
        return json(true);
      },
    },
    {
      pattern: '/v1/session/renew/',
      methods: ['PUT'],
      handler: (ctx) => {
        const id = missing(ctx);
        const rec = sessions.renew(id);
        if (rec === undefined) throw notFound(`Session id '${id}' not found`);
        return json([rec]);
      },
    },
    {
      pattern: '/v1/session/info/',
      methods: ['GET'],
      handler: (ctx) => {
        const id = missing(ctx);
        return list(ctx, () => {
          const rec = sessions.get(id);
          return rec === undefined ? [] : [rec];
        });
      },
    },
    {
      pattern: '/v1/session/node/',
      methods: ['GET'],
      handler: (ctx) => {
        if (ctx.rest === '') throw badRequest('Missing node name');
        return list(ctx, () => sessions.list().filter((s) => s.Node === ctx.rest));
      },
    },
    { pattern: '/v1/session/list', methods: ['GET'], handler: (ctx) => list(ctx, () => sessions.list()) },
  ];
}
