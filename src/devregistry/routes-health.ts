// /v1/health/*: service instances with their checks (passing, tag, filter, node-meta), checks by service,
// by node and by state. All blocking.
import type { RegistryState } from './context.ts';
import { blockingRead, jsonWithMeta, readMeta } from './context.ts';
import { applyFilter, compileFilter } from './filter.ts';
import { badRequest } from './http-error.ts';
import { json, type Endpoint, type RequestCtx } from './http.ts';
import { parseGoBool } from './query.ts';
import { checkJson, nodeJson, nodeServiceJson } from './render.ts';
import { CATALOG_TOPIC } from './catalog.ts';
import type { CheckRec, NodeRec, ServiceRec } from './types.ts';

const GET = ['GET'] as const;

const byCheckId = (a: CheckRec, b: CheckRec): number => (a.CheckID < b.CheckID ? -1 : a.CheckID > b.CheckID ? 1 : 0);

/** Services carrying every requested tag (case-insensitive). */
export function withTags(services: ServiceRec[], tags: readonly string[]): ServiceRec[] {
  if (tags.length === 0) return services;
  const want = tags.map((t) => t.toLowerCase());
  return services.filter((s) => {
    const have = new Set(s.Tags.map((t) => t.toLowerCase()));
    return want.every((t) => have.has(t));
  });
}

/** ?node-meta=key:value (repeatable): every pair must match the node's meta. */
export function nodeMetaMatches(node: NodeRec, ctx: RequestCtx): boolean {
  for (const pair of ctx.query.getAll('node-meta')) {
    const i = pair.indexOf(':');
    const k = i === -1 ? pair : pair.slice(0, i);
    const v = i === -1 ? '' : pair.slice(i + 1);
    if (node.Meta[k] !== v) return false;
  }
  return true;
}

/** Consul's filterNonPassing, including its swap-with-last ordering. */
function filterNonPassing<T extends { Checks: Record<string, unknown>[] }>(nodes: T[]): T[] {
  let n = nodes.length;
  for (let i = 0; i < n; i++) {
    const node = nodes[i];
    if (node !== undefined && node.Checks.some((c) => c.Status !== 'passing')) {
      const last = nodes[n - 1];
      if (last !== undefined) nodes[i] = last;
      nodes[n - 1] = node;
      n--;
      i--;
    }
  }
  return nodes.slice(0, n);
}

export function healthRoutes(state: RegistryState): Endpoint[] {
  const { catalog } = state;
  /**
   * A blocking read of catalog checks (keyed on the checks table), narrowed by the predicate `selector()` builds
   * at each read (the catalog may change while a query blocks), sorted, `?filter`ed.
   */
  const checksRead = (ctx: RequestCtx, selector: () => (c: CheckRec) => boolean) => {
    const meta = readMeta(state, ctx);
    const filterExpr = ctx.query.get('filter');
    if (filterExpr !== '') compileFilter(filterExpr);
    return blockingRead(
      state,
      ctx,
      {
        source: { index: () => state.ix.table('checks'), topics: () => [CATALOG_TOPIC] },
        build: (idx, headers) => {
          const checks = catalog.checks().filter(selector()).sort(byCheckId).map(checkJson);
          return jsonWithMeta(applyFilter(filterExpr, checks))(idx, headers);
        },
      },
      meta,
    );
  };

  return [
    {
      pattern: '/v1/health/service/',
      methods: GET,
      handler: (ctx) => {
        const name = ctx.rest;
        if (name === '') throw badRequest('Missing service name');
        let passing = false;
        if (ctx.query.has('passing')) {
          const raw = ctx.query.get('passing');
          const v = raw === '' ? true : parseGoBool(raw);
          if (v === undefined) throw badRequest('Invalid value for ?passing');
          passing = v;
        }
        const meta = readMeta(state, ctx);
        const filterExpr = ctx.query.get('filter');
        const filter = filterExpr === '' ? undefined : compileFilter(filterExpr);
        return blockingRead(
          state,
          ctx,
          {
            source: { index: () => catalog.serviceIndex(name, true), topics: () => catalog.serviceTopics(name) },
            build: (_idx, headers) => {
              const node = catalog.node;
              const services = nodeMetaMatches(node, ctx)
                ? withTags(catalog.instances(name), ctx.query.getAll('tag'))
                : [];
              const nodeChecks = catalog.nodeChecks().sort(byCheckId);
              let out = services.map((s) => ({
                Node: nodeJson(node),
                Service: nodeServiceJson(s),
                Checks: [...nodeChecks, ...catalog.serviceChecks(s.ID).sort(byCheckId)].map(checkJson),
              }));
              if (filter !== undefined) out = out.filter((e) => filter(e));
              if (passing) out = filterNonPassing(out);
              return json(out, { ...headers, 'X-Consul-Query-Backend': 'blocking-query' });
            },
          },
          meta,
        );
      },
    },
    {
      pattern: '/v1/health/checks/',
      methods: GET,
      handler: (ctx) => {
        const name = ctx.rest;
        if (name === '') throw badRequest('Missing service name');
        return checksRead(ctx, () => {
          const ids = new Set(catalog.instances(name).map((svc) => svc.ID));
          return (c) => ids.has(c.ServiceID);
        });
      },
    },
    {
      pattern: '/v1/health/node/',
      methods: GET,
      handler: (ctx) => {
        const node = ctx.rest;
        if (node === '') throw badRequest('Missing node name');
        return checksRead(ctx, () => () => node === catalog.node.Node);
      },
    },
    {
      pattern: '/v1/health/state/',
      methods: GET,
      handler: (ctx) => {
        const wanted = ctx.rest;
        if (wanted === '') throw badRequest('Missing check state');
        return checksRead(ctx, () => (c) => wanted === 'any' || c.Status === wanted);
      },
    },
  ];
}
