// DNS-rebinding and cross-site defences for the admin API: the Host header must name this API (a loopback name or
// an allowed one), an Origin must be ours. The rules are src/util/host-origin.ts's, shared with the dashboard.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { checkHostOrigin, isLoopbackHost } from '../util/host-origin.ts';

export interface HostOriginGuard {
  /** Sends 403 and returns false when the request's Host or Origin is not acceptable. */
  check(req: FastifyRequest, reply: FastifyReply): boolean;
}

export function hostOriginGuard(allowed: () => ReadonlySet<string>, scheme: 'http' | 'https'): HostOriginGuard {
  const rule = { acceptHost: (name: string) => isLoopbackHost(name) || allowed().has(name), schemes: [scheme] };
  return {
    check(req, reply) {
      const { host, origin } = req.headers;
      const refusal = checkHostOrigin(req.headers, rule);
      if (refusal === 'host') {
        req.log.warn({ host }, 'admin request refused: Host header names another site');
        void reply.code(403).send({
          code: 'ADMIN_FORBIDDEN',
          message: `Host ${JSON.stringify(host ?? '')} is not this admin API (DNS rebinding defence)`,
        });
        return false;
      }
      if (refusal === 'origin') {
        req.log.warn({ origin }, 'admin request refused: foreign Origin');
        void reply.code(403).send({
          code: 'ADMIN_FORBIDDEN',
          message: `Origin ${JSON.stringify(origin)} may not call this admin API`,
        });
        return false;
      }
      return true;
    },
  };
}
