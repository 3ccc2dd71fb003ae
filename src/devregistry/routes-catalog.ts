// /v1/catalog/*: services (name → tags), service instances (health ignored), nodes, one node, datacenters.
import { sortKeys } from './local-agent.ts';
import { CATALOG_TOPIC } from './catalog.ts';
import { blockingRead, readMeta, type RegistryState } from './context.ts';
import { compileFilter } from './filter.ts';
import { badRequest } from './http-error.ts';
import { json, type Endpoint, type Reply, type RequestCtx } from './http.ts';
import type { BlockingSource } from './blocking.ts';
import { nodeJson, nodeServiceJson, serviceNodeJson } from './render.ts';
import { nodeMetaMatches, withTags } from './routes-health.ts';

const GET = ['GET'] as const;

export function catalogRoutes(state: RegistryState): Endpoint[] {
  const { catalog } = state;
  const filterOf = (expr: string): ((o: unknown) => boolean) => (expr === '' ? () => true : compileFilter(expr));
  /** Query metadata and `?filter` validated up front, then a blocking read whose answer `build` makes. */
  const filteredRead = (
    ctx: RequestCtx,
    source: BlockingSource,
    build: (filter: (o: unknown) => boolean, headers: Record<string, string>) => Reply,
  ): Promise<Reply> => {
    const meta = readMeta(state, ctx);
    const filter = filterOf(ctx.query.get('filter'));
    return blockingRead(state, ctx, { source, build: (_idx, headers) => build(filter, headers) }, meta);
  };
  return [
    {
      pattern: '/v1/catalog/services',
      methods: GET,
      handler: (ctx) => {
        return filteredRead(
          ctx,
          { index: () => state.ix.table('services'), topics: () => [CATALOG_TOPIC] },
          (filter, headers) => {
            const out: Record<string, string[]> = {};
            if (nodeMetaMatches(catalog.node, ctx)) {
              for (const s of catalog.services()) {
                if (!filter(serviceNodeJson(catalog.node, s))) continue;
                const tags = (out[s.Service] ??= []);
                for (const t of s.Tags) if (!tags.includes(t)) tags.push(t);
              }
            }
            return json(sortKeys(out), headers);
          },
        );
      },
    },
    {
      pattern: '/v1/catalog/service/',
      methods: GET,
      handler: (ctx) => {
        const name = ctx.rest;
        if (name === '') throw badRequest('Missing service name');
        return filteredRead(
          ctx,
          { index: () => catalog.serviceIndex(name, false), topics: () => catalog.serviceTopics(name) },
          (filter, headers) => {
            const node = catalog.node;
            const list = nodeMetaMatches(node, ctx) ? withTags(catalog.instances(name), ctx.query.getAll('tag')) : [];
            return json(list.map((s) => serviceNodeJson(node, s)).filter(filter), headers);
          },
        );
      },
    },
    {
      pattern: '/v1/catalog/nodes',
      methods: GET,
      handler: (ctx) => {
        return filteredRead(
          ctx,
          { index: () => state.ix.table('nodes'), topics: () => [CATALOG_TOPIC] },
          (filter, headers) => {
            const nodes = nodeMetaMatches(catalog.node, ctx) ? [nodeJson(catalog.node)] : [];
            return json(nodes.filter(filter), headers);
          },
        );
      },
    },
    {
      pattern: '/v1/catalog/node/',
      methods: GET,
      handler: (ctx) => {
        const name = ctx.rest;
        if (name === '') throw badRequest('Missing node name');
        return filteredRead(
          ctx,
          { index: () => state.ix.max('nodes', 'services'), topics: () => [CATALOG_TOPIC] },
          (filter, headers) => {
            if (name !== catalog.node.Node) return json(null, headers);
            const services: Record<string, unknown> = {};
            for (const s of catalog.services()) {
              const j = nodeServiceJson(s);
              if (filter(j)) services[s.ID] = j;
            }
            return json({ Node: nodeJson(catalog.node), Services: sortKeys(services) }, headers);
          },
        );
      },
    },
    { pattern: '/v1/catalog/datacenters', methods: GET, public: true, handler: () => json([state.datacenter]) },
  ];
}
