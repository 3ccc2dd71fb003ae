// /v1/agent/*: local services and checks, TTL updates, maintenance, self and members.
import { createHash } from 'node:crypto';
import { NODE_MAINT_CHECK_ID, unknownService, sortKeys } from './local-agent.ts';
import { queryTimeoutMs } from './blocking.ts';
import { CATALOG_TOPIC } from './catalog.ts';
import { CHECK_DEFINITION, CHECK_UPDATE, SERVICE_DEFINITION } from './schemas.ts';
import { CONSUL_VERSION, decodeRequest, type RegistryState } from './context.ts';
import { str } from './decode.ts';
import { applyFilter } from './filter.ts';
import { badRequest, notFound } from './http-error.ts';
import { empty, json, type Endpoint, type Reply, type RequestCtx } from './http.ts';
import { parseGoBool, parseQueryMeta } from './query.ts';
import { agentServiceJson, checkJson } from './render.ts';
import { isHealthStatus, type HealthStatus } from './types.ts';

const PUT = ['PUT'] as const;
const GET = ['GET'] as const;

function parseEnable(ctx: RequestCtx): boolean {
  if (!ctx.query.has('enable')) throw badRequest('Missing value for enable');
  const raw = ctx.query.get('enable');
  const v = parseGoBool(raw);
  if (v === undefined) throw badRequest(`Invalid value for enable: ${JSON.stringify(raw)}`);
  return v;
}

export function agentRoutes(state: RegistryState): Endpoint[] {
  const { agent } = state;
  const ttl = (status: HealthStatus) => (ctx: RequestCtx) => {
    agent.updateTtl(ctx.rest, status, ctx.query.get('note'));
    return empty();
  };
  return [
    {
      pattern: '/v1/agent/service/register',
      methods: PUT,
      handler: (ctx) => {
        const d = decodeRequest(ctx, SERVICE_DEFINITION);
        const replace =
          ctx.query.has('replace-existing-checks') && ['', 'true'].includes(ctx.query.get('replace-existing-checks'));
        agent.registerService(d, replace);
        return empty();
      },
    },
    {
      pattern: '/v1/agent/service/deregister/',
      methods: PUT,
      handler: (ctx) => {
        agent.deregisterService(ctx.rest);
        return empty();
      },
    },
    {
      pattern: '/v1/agent/service/maintenance/',
      methods: PUT,
      handler: (ctx) => {
        if (ctx.rest === '') throw badRequest('Missing service ID');
        const enable = parseEnable(ctx);
        if (agent.service(ctx.rest) === undefined) throw unknownService(ctx.rest);
        agent.serviceMaintenance(ctx.rest, enable, ctx.query.get('reason'));
        return empty();
      },
    },
    {
      pattern: '/v1/agent/maintenance',
      methods: PUT,
      handler: (ctx) => {
        agent.nodeMaintenance(parseEnable(ctx), ctx.query.get('reason'));
        return empty();
      },
    },
    {
      pattern: '/v1/agent/services',
      methods: GET,
      handler: (ctx) => {
        const list = applyFilter(
          ctx.query.get('filter'),
          agent.services().map((s) => agentServiceJson(s, state.datacenter)),
        );
        const out: Record<string, unknown> = {};
        for (const s of list) out[String(s.ID)] = s;
        return json(sortKeys(out));
      },
    },
    {
      pattern: '/v1/agent/service/',
      methods: GET,
      handler: async (ctx) => {
        // Hash-based blocking (agent.LocalBlockingQuery): with ?hash, wait until the content hash differs.
        const meta = parseQueryMeta(ctx.query);
        const wanted = ctx.query.get('hash');
        const view = (): { body: Record<string, unknown>; hash: string } => {
          const svc = agent.service(ctx.rest);
          if (svc === undefined) throw notFound(`unknown service ID: ${ctx.rest}`);
          const body = agentServiceJson(svc, state.datacenter);
          return { body, hash: createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16) };
        };
        let current = view();
        if (wanted !== '') {
          const deadline = state.clock.now() + queryTimeoutMs(meta.waitMs);
          while (current.hash === wanted && !ctx.signal.aborted && !state.ix.hub.closed) {
            const left = deadline - state.clock.now();
            if (left <= 0) break;
            await state.ix.hub.wait([CATALOG_TOPIC], left, state.clock, ctx.signal);
            current = view();
          }
        }
        const { Datacenter, ...rest } = current.body;
        return json({ ...rest, ContentHash: current.hash, Datacenter }, { 'X-Consul-Contenthash': current.hash });
      },
    },
    {
      pattern: '/v1/agent/health/service/id/',
      methods: GET,
      handler: (ctx) => {
        if (ctx.rest === '') throw badRequest('Missing serviceID');
        const svc = agent.service(ctx.rest);
        if (svc === undefined) {
          const reason = `ServiceId ${ctx.rest} not found`;
          return healthReply(ctx, 404, reason, { AggregatedStatus: 'critical', Service: null, Checks: null });
        }
        const h = serviceHealth(state, svc.ID);
        return healthReply(ctx, h.code, h.status, {
          AggregatedStatus: h.status,
          Service: agentServiceJson(svc, state.datacenter),
          Checks: h.checks,
        });
      },
    },
    {
      pattern: '/v1/agent/health/service/name/',
      methods: GET,
      handler: (ctx) => {
        if (ctx.rest === '') throw badRequest('Missing service Name');
        let code = 404;
        let status = `ServiceName ${ctx.rest} Not Found`;
        const result: unknown[] = [];
        for (const svc of agent.services().filter((s) => s.Service === ctx.rest)) {
          const h = serviceHealth(state, svc.ID);
          result.push({
            AggregatedStatus: h.status,
            Service: agentServiceJson(svc, state.datacenter),
            Checks: h.checks,
          });
          if (code === 404 || code < h.code) {
            code = h.code;
            status = h.status;
          }
        }
        return healthReply(ctx, code, status, result);
      },
    },
    {
      pattern: '/v1/agent/checks',
      methods: GET,
      handler: (ctx) => {
        const list = applyFilter(
          ctx.query.get('filter'),
          agent.checks().map((c) => checkJson(c)),
        );
        const out: Record<string, unknown> = {};
        for (const c of list) out[String(c.CheckID)] = c;
        return json(sortKeys(out));
      },
    },
    {
      pattern: '/v1/agent/check/register',
      methods: PUT,
      handler: (ctx) => {
        agent.registerCheck(decodeRequest(ctx, CHECK_DEFINITION));
        return empty();
      },
    },
    {
      pattern: '/v1/agent/check/deregister/',
      methods: PUT,
      handler: (ctx) => {
        agent.deregisterCheck(ctx.rest);
        return empty();
      },
    },
    { pattern: '/v1/agent/check/pass/', methods: PUT, handler: ttl('passing') },
    { pattern: '/v1/agent/check/warn/', methods: PUT, handler: ttl('warning') },
    { pattern: '/v1/agent/check/fail/', methods: PUT, handler: ttl('critical') },
    {
      pattern: '/v1/agent/check/update/',
      methods: PUT,
      handler: (ctx) => {
        const d = decodeRequest(ctx, CHECK_UPDATE);
        const status = str(d, 'Status');
        if (!isHealthStatus(status)) throw badRequest(`Invalid check status: '${status}'`);
        agent.updateTtl(ctx.rest, status, str(d, 'Output'));
        return empty();
      },
    },
    {
      pattern: '/v1/agent/self',
      methods: GET,
      handler: () =>
        json({
          Config: {
            Datacenter: state.datacenter,
            PrimaryDatacenter: state.datacenter,
            NodeName: state.nodeName,
            NodeID: state.catalog.node.ID,
            Partition: '',
            Revision: 'spear-mesh-dev',
            Server: true,
            Version: CONSUL_VERSION,
            BuildDate: '',
          },
          DebugConfig: {},
          Coord: { Vec: [0, 0, 0, 0, 0, 0, 0, 0], Error: 1.5, Adjustment: 0, Height: 0.00001 },
          Member: memberJson(state),
          Stats: {},
          Meta: { 'consul-network-segment': '', 'consul-version': CONSUL_VERSION },
          xDS: { SupportedProxies: {}, Port: -1, Ports: { Plaintext: -1, TLS: -1 } },
        }),
    },
    { pattern: '/v1/agent/members', methods: GET, handler: () => json([memberJson(state)]) },
  ];
}

/** api.HealthChecks.AggregatedStatus and the HTTP code agentHealthService maps it to. */
function serviceHealth(state: RegistryState, serviceId: string): { code: number; status: string; checks: unknown[] } {
  const checks = state.agent.checks().filter((c) => c.ServiceID === serviceId || c.ServiceID === '');
  let maintenance = false;
  let critical = false;
  let warning = false;
  for (const c of checks) {
    if (c.CheckID === NODE_MAINT_CHECK_ID || c.CheckID.startsWith('_service_maintenance:')) maintenance = true;
    else if (c.Status === 'critical') critical = true;
    else if (c.Status === 'warning') warning = true;
  }
  const status = maintenance ? 'maintenance' : critical ? 'critical' : warning ? 'warning' : 'passing';
  const code = status === 'passing' ? 200 : status === 'warning' ? 429 : 503;
  const rendered = checks.map((c) => ({
    Node: c.Node,
    CheckID: c.CheckID,
    Name: c.Name,
    Status: c.Status,
    Notes: c.Notes,
    Output: c.Output,
    ServiceID: c.ServiceID,
    ServiceName: c.ServiceName,
    ServiceTags: c.ServiceTags,
    Type: '',
    ExposedPort: 0,
    Definition: {},
    CreateIndex: 0,
    ModifyIndex: 0,
  }));
  return { code, status, checks: rendered };
}

/** CodeWithPayloadError: the status as X-Consul-Reason, JSON or (format=text / Accept: text/plain) the bare status. */
function healthReply(ctx: RequestCtx, code: number, reason: string, value: unknown): Reply {
  const accept = ctx.headers.accept;
  const format = ctx.query.get('format');
  const text =
    (typeof accept === 'string' && accept.startsWith('text/plain')) || (format !== '' ? format === 'text' : false);
  if (text)
    return {
      kind: 'text',
      status: code,
      text: reason,
      contentType: 'text/plain',
      headers: { 'X-Consul-Reason': reason },
    };
  return { kind: 'json', status: code, value, headers: { 'X-Consul-Reason': reason } };
}

function memberJson(state: RegistryState): Record<string, unknown> {
  return {
    Name: state.nodeName,
    Addr: state.address,
    Port: 8301,
    Tags: {
      build: `${CONSUL_VERSION}:spear-mesh-dev`,
      dc: state.datacenter,
      id: state.catalog.node.ID,
      port: '8300',
      raft_vsn: '3',
      role: 'consul',
      segment: '',
      vsn: '2',
      vsn_max: '3',
      vsn_min: '2',
    },
    Status: 1,
    ProtocolMin: 1,
    ProtocolMax: 5,
    ProtocolCur: 2,
    DelegateMin: 2,
    DelegateMax: 5,
    DelegateCur: 4,
  };
}
