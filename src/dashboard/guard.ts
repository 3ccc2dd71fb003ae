// Request guard of the dashboard: Host and Origin checks against DNS rebinding and cross-site reads, and optional
// HTTP Basic credentials (required off loopback). The admin API has its own guard; the two follow the same rules.
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';

export interface GuardOptions {
  /** Host names (no port) accepted besides IP literals and `localhost`. */
  readonly allowedHosts: readonly string[];
  /** user:password for HTTP Basic; undefined means no credentials (loopback only, enforced by the options). */
  readonly basicAuth: { readonly user: string; readonly password: string } | undefined;
}

/** `localhost`, 127.0.0.0/8 and ::1: the addresses only this machine reaches. */
export function isLoopbackHost(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** The host name of a Host header value (without the port, IPv6 brackets removed), lower-cased. */
export function hostName(header: string): string {
  const v = header.trim().toLowerCase();
  if (v.startsWith('[')) {
    const end = v.indexOf(']');
    return end < 0 ? v : v.slice(1, end);
  }
  const colon = v.indexOf(':');
  return colon < 0 ? v : v.slice(0, colon);
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export function buildGuard(o: GuardOptions): (req: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const allowed = new Set(o.allowedHosts.map((h) => h.toLowerCase()));
  const expected = o.basicAuth === undefined ? undefined : digest(`${o.basicAuth.user}:${o.basicAuth.password}`);
  return async (req, reply) => {
    const host = req.headers.host;
    // A DNS name an attacker controls can point at this address (rebinding); an IP literal cannot.
    const name = host === undefined ? '' : hostName(host);
    if (name === '' || !(isIP(name) !== 0 || name === 'localhost' || allowed.has(name))) {
      await reply.code(403).send({ error: 'forbidden', reason: 'Host header not allowed' });
      return;
    }
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${host ?? ''}` && origin !== `https://${host ?? ''}`) {
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
