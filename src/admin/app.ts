// The admin HTTP API of a spearlet (fastify): liveness, readiness, Prometheus metrics, sessions and drain.
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../util/logger.ts';
import { installAdminAuth } from './admin-auth.ts';
import { allowedHostNames, validateAdminSecurity, type AdminSecurityOptions } from './admin-security.ts';

export interface AdminReadiness {
  readonly ready: boolean;
  /** Why not ready, e.g. ['draining'] or ['registration: unreachable']. */
  readonly reasons: readonly string[];
}

/** What the admin API needs from a spearlet; the Spearlet class implements it. */
export interface AdminTarget {
  readonly id: string;
  readiness(): AdminReadiness;
  info(): Record<string, unknown>;
  sessions(): readonly unknown[];
  metricsText(): Promise<string>;
  readonly metricsContentType: string;
  /** Starts a drain; the promise settles when it is over. */
  drain(options?: { timeoutMs?: number }): Promise<unknown>;
}

/** Drill faults (`partition`, `freeze`, `kill`), installed by drill code (src/drill/spearlet-faults.ts). */
export interface FaultInjector {
  inject(fault: string, durationMs: number): void;
}

export interface AdminAppOptions {
  logger?: Logger;
  /** Adds POST /v1/faults {fault, durationMs} for drills. Never on a production spearlet. */
  faults?: FaultInjector;
  /** More routes (e.g. the task runtime's /v1/tasks), registered before the app listens. */
  plugins?: readonly FastifyPluginAsync[];
  /** Credentials, mTLS, public metrics and extra Host names (docs/security.md); absent = open, loopback only. */
  security?: AdminSecurityOptions;
}

export function buildAdminApp(target: AdminTarget, options: AdminAppOptions = {}): FastifyInstance {
  // Request logs would drown the spearlet's own; the admin API logs warnings and errors only.
  const security = options.security;
  validateAdminSecurity(security);
  const tls = security?.tls;
  const https =
    tls !== undefined
      ? // Certificates are requested, not required: probes reach /health and /ready without one; the hook checks.
        { https: { cert: tls.cert, key: tls.key, ca: tls.clientCa, requestCert: true, rejectUnauthorized: false } }
      : {};
  // The https variant is a different generic instance; every route here is indifferent to the server type.
  const app: FastifyInstance = (options.logger !== undefined
    ? Fastify({ ...https, loggerInstance: options.logger.child({ component: 'admin' }, { level: 'warn' }) })
    : Fastify({ ...https, logger: false })) as unknown as FastifyInstance;

  let hosts: ReadonlySet<string> | undefined;
  installAdminAuth(app, {
    security,
    allowedHosts: () => {
      hosts ??= allowedHostNames((app.server.address() as AddressInfo | null)?.address ?? '', security?.hosts);
      return hosts;
    },
  });

  app.get('/health', () => ({ status: 'ok', spearlet: target.id }));

  app.get('/ready', async (_req, reply) => {
    const r = target.readiness();
    return reply.code(r.ready ? 200 : 503).send({ ready: r.ready, reasons: r.reasons, spearlet: target.id });
  });

  app.get('/metrics', async (_req, reply) => {
    const text = await target.metricsText();
    return reply.header('content-type', target.metricsContentType).send(text);
  });

  app.get('/v1/info', () => target.info());

  app.get('/v1/sessions', () => ({ spearlet: target.id, sessions: target.sessions() }));

  app.post<{ Body: { timeoutMs?: number } | undefined }>(
    '/v1/drain',
    {
      schema: {
        body: {
          anyOf: [
            { type: 'null' },
            {
              type: 'object',
              properties: { timeoutMs: { type: 'integer', minimum: 0, maximum: 3_600_000 } },
              additionalProperties: false,
            },
          ],
        },
      },
    },
    async (req, reply) => {
      const timeoutMs = req.body?.timeoutMs;
      // Answer first: the drain closes this very server when it is over.
      target.drain(timeoutMs === undefined ? {} : { timeoutMs }).catch((err: unknown) => {
        req.log.error({ err }, 'drain failed');
      });
      return reply.code(202).send({ draining: true, spearlet: target.id });
    },
  );

  const faults = options.faults;
  if (faults !== undefined) {
    app.post<{ Body: { fault: string; durationMs: number } }>(
      '/v1/faults',
      {
        schema: {
          body: {
            type: 'object',
            required: ['fault', 'durationMs'],
            properties: {
              fault: { type: 'string', enum: ['partition', 'freeze', 'kill'] },
              durationMs: { type: 'integer', minimum: 0, maximum: 600_000 },
            },
          },
        },
      },
      async (req, reply) => {
        faults.inject(req.body.fault, req.body.durationMs);
        return reply.code(202).send({ fault: req.body.fault, durationMs: req.body.durationMs });
      },
    );
  }

  for (const plugin of options.plugins ?? []) void app.register(plugin);
  return app;
}
