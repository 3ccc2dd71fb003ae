// Serves a spearlet's admin API on its own port: the composition the CLI uses (the spearlet itself knows no HTTP).
import type { AddressInfo } from 'node:net';
import type { FastifyPluginAsync } from 'fastify';
import type { HostPort } from '../util/host-port.ts';
import type { Logger } from '../util/logger.ts';
import { buildAdminApp, type AdminTarget, type FaultInjector } from './app.ts';
import { checkAdminBind, type AdminSecurityOptions } from './admin-security.ts';

/** A spearlet as the admin server sees it: the API's target, and its lifecycle. */
export interface ServedSpearlet extends AdminTarget {
  on(event: 'state', listener: (state: string) => void): unknown;
  off(event: 'state', listener: (state: string) => void): unknown;
  /** Called before start() so the Consul registration advertises the admin port. */
  advertiseAdmin(address: HostPort): void;
}

export interface AdminServerOptions {
  readonly listen: HostPort;
  readonly logger?: Logger | undefined;
  /** Adds POST /v1/faults (drills only; see src/drill/spearlet-faults.ts). */
  readonly faults?: FaultInjector | undefined;
  /** More routes (e.g. the task runtime's /v1/tasks). */
  readonly plugins?: readonly FastifyPluginAsync[] | undefined;
  /** Credentials, mTLS, public metrics and extra Host names (docs/security.md); without credentials the API must
   * listen on a loopback address (a ConfigError naming --admin otherwise). */
  readonly security?: AdminSecurityOptions | undefined;
}

export interface AdminServer {
  readonly address: HostPort;
  /** Idempotent; also runs once the spearlet reaches 'closed'. */
  close(): Promise<void>;
}

/** Listens, tells the spearlet its address, and closes with the spearlet. */
export async function serveAdmin(spearlet: ServedSpearlet, options: AdminServerOptions): Promise<AdminServer> {
  checkAdminBind(options.listen.host, options.security);
  const app = buildAdminApp(spearlet, {
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.security === undefined ? {} : { security: options.security }),
    ...(options.faults === undefined ? {} : { faults: options.faults }),
    plugins: options.plugins ?? [],
  });
  await app.listen({ host: options.listen.host, port: options.listen.port });
  const a = app.server.address() as AddressInfo;
  const address = { host: a.address, port: a.port };
  spearlet.advertiseAdmin(address);
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    spearlet.off('state', onState);
    closed ??= app.close();
    return closed;
  };
  const onState = (state: string): void => {
    if (state === 'closed') void close();
  };
  spearlet.on('state', onState);
  return { address, close };
}
