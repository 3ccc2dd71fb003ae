// A resolver over a fixed list, for setups without Consul (tests, single host, `--spearlet host:port`).
import { ConfigError } from '../errors.ts';
import { parseHostPort } from '../util/host-port.ts';
import { sortEndpoints, type Endpoint } from './endpoint.ts';
import { ResolverBase } from './resolver.ts';

/** Parses `host:port`, `[v6]:port` or `unix:/path/to.sock` into an endpoint whose id is the string itself. */
export function parseStaticEndpoint(spec: string): Endpoint {
  if (typeof spec !== 'string' || spec.trim() === '')
    throw new ConfigError('endpoints', 'an endpoint must be a non-empty string');
  const s = spec.trim();
  if (s.startsWith('unix:')) {
    const path = s.slice('unix:'.length).replace(/^\/\/(?=\/)/, '');
    if (!path.startsWith('/')) throw new ConfigError('endpoints', `unix endpoint needs an absolute path: "${s}"`);
    return freeze({ id: s, serviceId: s, address: '', port: 0, socketPath: path, tls: false, tags: [], meta: {} });
  }
  const hp = parseHostPort(s);
  const host = hp?.host;
  const port = hp?.port ?? 0;
  if (host === undefined || host === '' || port < 1) {
    throw new ConfigError('endpoints', `expected host:port, [v6]:port or unix:/path, got "${s}"`);
  }
  return freeze({ id: s, serviceId: s, address: host, port, tls: false, tags: [], meta: {} });
}

function freeze(e: Endpoint): Endpoint {
  return Object.freeze({ ...e, tags: Object.freeze([...e.tags]), meta: Object.freeze({ ...e.meta }) });
}

export class StaticResolver extends ResolverBase {
  readonly #endpoints: readonly Endpoint[];

  constructor(endpoints: readonly Endpoint[] | readonly string[]) {
    super();
    if (!Array.isArray(endpoints)) throw new TypeError('endpoints must be an array');
    const list = (endpoints as readonly (Endpoint | string)[]).map((e) =>
      typeof e === 'string' ? parseStaticEndpoint(e) : freeze(e),
    );
    this.#endpoints = Object.freeze(sortEndpoints(list));
  }

  /** Publishes the list synchronously: after start() returns, current() holds it and `update`/`state` have fired. */
  start(): void {
    if (this.state !== 'idle') return;
    this.publish(this.#endpoints);
    this.setState('ready');
  }

  close(): Promise<void> {
    this.setState('closed');
    return Promise.resolve();
  }
}
