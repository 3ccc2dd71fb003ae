// The dashboard's HTTP app (fastify): static page, JSON snapshot, server-sent events, read-only KV and drill reports.
// Every route is a GET; the admin token used by the poller never appears in a response.
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../util/logger.ts';
import type { ConsulReader } from './consul-reader.ts';
import type { DrillRuns } from './drill-runs.ts';
import { buildGuard, type GuardOptions } from './guard.ts';
import type { MeshPoller, MeshSnapshot } from './poller.ts';

/** Browsers keep one SSE stream per tab; this bounds what a misbehaving client can hold open. */
export const MAX_EVENT_STREAMS = 64;
const SSE_KEEPALIVE_MS = 15_000;

// The page's files stay in src/ (the package ships src/): the same path from src/dashboard/app.ts and from the compiled
// dist/dashboard/app.js, which tsc does not copy them next to.
const PUBLIC_DIR = new URL('../../src/dashboard/public/', import.meta.url);
const ASSETS: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

export interface DashboardAppOptions extends GuardOptions {
  readonly poller: MeshPoller;
  readonly consul: ConsulReader;
  readonly drills: DrillRuns | undefined;
  readonly logger?: Logger;
}

function loadAssets(): Map<string, { body: Buffer; type: string }> {
  const out = new Map<string, { body: Buffer; type: string }>();
  for (const [name, type] of Object.entries(ASSETS))
    out.set(name, { body: readFileSync(new URL(name, PUBLIC_DIR)), type });
  return out;
}

export function buildDashboardApp(o: DashboardAppOptions): FastifyInstance {
  const app: FastifyInstance =
    o.logger !== undefined
      ? (Fastify({
          loggerInstance: o.logger.child({ component: 'dashboard' }, { level: 'warn' }),
        }) as unknown as FastifyInstance)
      : Fastify({ logger: false });
  const assets = loadAssets();
  const streams = new Set<(s: MeshSnapshot) => void>();

  app.addHook('onRequest', buildGuard(o));
  app.addHook('onSend', async (_req, reply, payload) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
    return payload;
  });

  app.get('/health', () => ({ status: 'ok' }));

  const sendAsset = (name: string) => async (_req: unknown, reply: import('fastify').FastifyReply) => {
    const a = assets.get(name);
    if (a === undefined) return reply.code(404).send();
    return reply.header('content-type', a.type).send(a.body);
  };
  app.get('/', sendAsset('index.html'));
  for (const name of Object.keys(ASSETS)) app.get(`/${name}`, sendAsset(name));

  app.get('/api/snapshot', () => o.poller.snapshot);

  app.get('/api/events', async (req, reply) => {
    if (streams.size >= MAX_EVENT_STREAMS) return reply.code(503).send({ error: 'too many event streams' });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const send = (s: MeshSnapshot): void => {
      res.write(`event: snapshot\ndata: ${JSON.stringify(s)}\n\n`);
    };
    // retry: how soon the browser reconnects after the stream drops (a restarted dashboard).
    res.write('retry: 1000\n\n');
    send(o.poller.snapshot);
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), SSE_KEEPALIVE_MS);
    keepalive.unref();
    streams.add(send);
    o.poller.on('update', send);
    const done = (): void => {
      clearInterval(keepalive);
      streams.delete(send);
      o.poller.off('update', send);
    };
    req.raw.once('close', done);
    res.once('close', done);
    return reply;
  });

  app.get<{ Querystring: { prefix?: string } }>(
    '/api/kv',
    { schema: { querystring: { type: 'object', properties: { prefix: { type: 'string', maxLength: 1024 } } } } },
    async (req, reply) => {
      try {
        return await o.consul.kvList(req.query.prefix ?? '');
      } catch (err) {
        return reply.code(502).send({ error: 'consul', message: err instanceof Error ? err.message : String(err) });
      }
    },
  );

  app.get<{ Querystring: { key: string } }>(
    '/api/kv/value',
    {
      schema: {
        querystring: {
          type: 'object',
          required: ['key'],
          properties: { key: { type: 'string', minLength: 1, maxLength: 1024 } },
        },
      },
    },
    async (req, reply) => {
      try {
        const v = await o.consul.kvGet(req.query.key);
        if (v === null) return await reply.code(404).send({ error: 'no such key' });
        return v;
      } catch (err) {
        return reply.code(502).send({ error: 'consul', message: err instanceof Error ? err.message : String(err) });
      }
    },
  );

  const NAME_PARAMS = {
    type: 'object',
    required: ['name'],
    properties: { name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$' } },
  } as const;

  app.get('/api/drills', async () => ({ dir: o.drills?.dir ?? null, runs: (await o.drills?.list()) ?? [] }));

  app.get<{ Params: { name: string } }>(
    '/api/drills/:name',
    { schema: { params: NAME_PARAMS } },
    async (req, reply) => {
      const report = await o.drills?.get(req.params.name);
      return report === undefined || report === null ? reply.code(404).send({ error: 'no such drill report' }) : report;
    },
  );

  app.get<{ Params: { name: string } }>(
    '/api/drills/:name/chart.svg',
    { schema: { params: NAME_PARAMS } },
    async (req, reply) => {
      const svg = await o.drills?.chart(req.params.name);
      if (svg === undefined || svg === null) return reply.code(404).send({ error: 'no such drill report' });
      return reply.header('content-type', 'image/svg+xml; charset=utf-8').send(svg);
    },
  );

  return app;
}
