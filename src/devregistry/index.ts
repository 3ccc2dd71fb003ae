// The embedded Consul-compatible dev registry: a single-node, in-memory server speaking Consul's HTTP API.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { silentLogger, type Logger } from '../util/logger.ts';
import { LocalAgent } from './local-agent.ts';
import { Catalog } from './catalog.ts';
import { systemClock, type Clock } from './clock.ts';
import { CONSUL_VERSION, ReadCache, type RegistryState } from './context.ts';
import { eventRoutes } from './events.ts';
import { buildHttpServer } from './http.ts';
import { Indexes } from './indexes.ts';
import { KvStore } from './kv.ts';
import { agentRoutes } from './routes-agent.ts';
import { catalogRoutes } from './routes-catalog.ts';
import { catalogWriteRoutes } from './catalog-write.ts';
import { healthRoutes } from './routes-health.ts';
import { kvRoutes } from './routes-kv.ts';
import { sessionRoutes } from './routes-session.ts';
import { statusRoutes } from './routes-status.ts';
import { SessionStore } from './sessions.ts';
import { txnRoutes } from './txn.ts';

export type { Clock, TimerHandle } from './clock.ts';
export { ManualClock, systemClock } from './clock.ts';
export type { Logger };

export interface DevRegistryOptions {
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /** Listen port; default 8500, 0 picks an ephemeral port. */
  port?: number;
  /** Node name; default 'spear-dev'. */
  node?: string;
  datacenter?: string;
  /** When set, ACL mode: every request except status/* and catalog/datacenters must carry this token. */
  aclToken?: string;
  /**
   * Consul's enable_script_checks: checks with `Args` registered through the API run (default false; without it
   * they are refused with Consul's 500).
   */
  enableScriptChecks?: boolean;
  /**
   * Consul's enable_local_script_checks: script checks only from the agent's own configuration. The dev registry
   * reads no service or check definitions from configuration, so this alone enables nothing; it is accepted so a
   * Consul config that sets it loads.
   */
  enableLocalScriptChecks?: boolean;
  clock?: Clock;
  logger?: Logger;
}

export interface DevRegistry {
  /** e.g. http://127.0.0.1:8500 */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The http.Server's keepAliveTimeout (0: idle keep-alive connections are never timed out, as in Go). */
  readonly keepAliveTimeout: number;
  /** Blocked readers right now (for tests and the benchmark). */
  readonly waiting: number;
  /** One DeregisterCriticalServiceAfter reaper pass now (the reaper also runs every 30 s on the clock). */
  reap(): void;
  /** Stops listening, releases blocked watchers, closes every connection. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startDevRegistry(options: DevRegistryOptions = {}): Promise<DevRegistry> {
  const host = options.host ?? '127.0.0.1';
  const nodeName = options.node ?? 'spear-dev';
  const datacenter = options.datacenter ?? 'dc1';
  const clock = options.clock ?? systemClock;
  const logger = (options.logger ?? silentLogger()).child({ component: 'devregistry' });
  const address = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;

  const ix = new Indexes();
  const catalog = new Catalog(ix, {
    ID: randomUUID(),
    Node: nodeName,
    Address: address,
    Datacenter: datacenter,
    TaggedAddresses: { lan: address, lan_ipv4: address, wan: address, wan_ipv4: address },
    Meta: { 'consul-network-segment': '', 'consul-version': CONSUL_VERSION },
  });
  catalog.ensureService({
    Kind: '',
    ID: 'consul',
    Service: 'consul',
    Tags: [],
    Address: '',
    TaggedAddresses: {},
    Meta: {
      non_voter: 'false',
      raft_version: '3',
      read_replica: 'false',
      serf_protocol_current: '2',
      serf_protocol_max: '5',
      serf_protocol_min: '1',
      version: CONSUL_VERSION,
    },
    Port: 8300,
    Weights: { Passing: 1, Warning: 1 },
    EnableTagOverride: false,
    Proxy: { Mode: '', MeshGateway: {}, Expose: {} },
    Connect: {},
  });
  catalog.ensureCheck({
    Node: nodeName,
    CheckID: 'serfHealth',
    Name: 'Serf Health Status',
    Status: 'passing',
    Notes: '',
    Output: 'Agent alive and reachable',
    ServiceID: '',
    ServiceName: '',
    ServiceTags: [],
    Type: '',
    Interval: '',
    Timeout: '',
    ExposedPort: 0,
    Definition: {},
  });
  const agent = new LocalAgent({
    catalog,
    clock,
    logger,
    nodeName,
    datacenter,
    enableScriptChecks: options.enableScriptChecks ?? false,
  });
  const kv = new KvStore(ix, clock);
  const sessions = new SessionStore(ix, clock, catalog, kv);
  const state: RegistryState = {
    ix,
    catalog,
    agent,
    kv,
    sessions,
    clock,
    nodeName,
    datacenter,
    address,
    cache: new ReadCache(),
  };

  const app = buildHttpServer({
    endpoints: [
      ...agentRoutes(state),
      ...healthRoutes(state),
      ...catalogRoutes(state),
      ...catalogWriteRoutes(state),
      ...kvRoutes(state),
      ...sessionRoutes(state),
      ...statusRoutes(state),
      ...txnRoutes(state),
      ...eventRoutes(state),
    ],
    aclToken: options.aclToken,
    logger,
  });
  try {
    await app.listen({ host, port: options.port ?? 8500 });
  } catch (err) {
    agent.close();
    sessions.close();
    kv.close();
    await app.close();
    throw err;
  }
  const addr = app.server.address() as AddressInfo;
  const port = addr.port;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${urlHost}:${port}`;
  logger.info(
    {
      url,
      node: nodeName,
      datacenter,
      acl: options.aclToken !== undefined,
      scriptChecks: options.enableScriptChecks === true,
    },
    'dev registry listening',
  );

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      agent.close();
      sessions.close();
      kv.close();
      ix.hub.close();
      // Let released watchers write their answers before the sockets go.
      await new Promise((r) => setImmediate(r));
      await app.close();
      app.server.closeAllConnections();
      logger.info('dev registry closed');
    })();
    return closed;
  };

  return {
    url,
    host: addr.address,
    port,
    get keepAliveTimeout() {
      return app.server.keepAliveTimeout;
    },
    get waiting() {
      return ix.hub.waiting;
    },
    reap: () => {
      agent.reap();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
