// DNS-rebinding and cross-site defences for the admin API: the Host header must name this API, an Origin must be ours.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isLoopbackHost } from './admin-security.ts';

/** `host[:port]` or `[v6][:port]` => lower-case host without brackets; undefined when malformed. */
export function hostOf(header: string): string | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]/@\s]+))(?::(\d{1,5}))?$/.exec(header);
  if (m === null) return undefined;
  return (m[1] ?? m[2] ?? '').toLowerCase();
}

export interface HostOriginGuard {
  /** Sends 403 and returns false when the request's Host or Origin is not acceptable. */
  check(req: FastifyRequest, reply: FastifyReply): boolean;
}

export function hostOriginGuard(allowed: () => ReadonlySet<string>, scheme: 'http' | 'https'): HostOriginGuard {
  return {
    check(req, reply) {
      const host = req.headers.host;
      const name = host === undefined ? undefined : hostOf(host);
      if (name === undefined || !(isLoopbackHost(name) || allowed().has(name))) {
        req.log.warn({ host }, 'admin request refused: Host header names another site');
        void reply.code(403).send({
          code: 'ADMIN_FORBIDDEN',
          message: `Host ${JSON.stringify(host ?? '')} is not this admin API (DNS rebinding defence)`,
        });
        return false;
      }
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `${scheme}://${host ?? ''}`) {
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
