// Request guard of the dashboard: Host and Origin checks against DNS rebinding and cross-site reads (the rules of
// src/util/host-origin.ts, shared with the admin API), and optional HTTP Basic credentials (required off loopback).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { checkHostOrigin, isAddressLiteral } from '../util/host-origin.ts';

export interface GuardOptions {
  /** Host names (no port) accepted besides IP literals and loopback names (`localhost`). */
  readonly allowedHosts: readonly string[];
  /** user:password for HTTP Basic; undefined means no credentials (loopback only, enforced by the options). */
  readonly basicAuth: { readonly user: string; readonly password: string } | undefined;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export function buildGuard(o: GuardOptions): (req: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const allowed = new Set(o.allowedHosts.map((h) => h.toLowerCase()));
  const expected = o.basicAuth === undefined ? undefined : digest(`${o.basicAuth.user}:${o.basicAuth.password}`);
  // A DNS name an attacker controls can point at this address (rebinding); an IP literal cannot. An Origin may be
  // https too: off loopback the dashboard is meant to sit behind a TLS-terminating proxy.
  const rule = {
    acceptHost: (name: string) => isAddressLiteral(name) || allowed.has(name),
    schemes: ['http', 'https'] as const,
  };
  return async (req, reply) => {
    const refusal = checkHostOrigin(req.headers, rule);
    if (refusal === 'host') {
      await reply.code(403).send({ error: 'forbidden', reason: 'Host header not allowed' });
      return;
    }
    if (refusal === 'origin') {
      await reply.code(403).send({ error: 'forbidden', reason: 'cross-origin request' });
      return;
    }
    if (expected !== undefined && req.url !== '/health') {
      const auth = req.headers.authorization ?? '';
      const given = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString('utf8') : '';
      if (!timingSafeEqual(digest(given), expected)) {
        await reply
          .code(401)
          .header('www-authenticate', 'Basic realm="spear-mesh dashboard", charset="UTF-8"')
          .send({ error: 'unauthorized' });
        return;
      }
    }
  };
}
