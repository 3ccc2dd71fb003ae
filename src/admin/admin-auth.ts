// Admin API access control (a fastify onRequest hook): open probes, bearer tokens (admin, read-only), client
// certificates, Host/Origin checks and JSON-only mutating routes.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasAdminCredentials, type AdminSecurityOptions } from './admin-security.ts';
import { hostOriginGuard } from './host-origin-guard.ts';

/** Routes every caller may use: liveness and readiness probes. */
const OPEN_ROUTES = new Set(['/health', '/ready']);
const READ_METHODS = new Set(['GET', 'HEAD']);

export type AdminAccess = 'none' | 'read' | 'admin';

/** A token compared in constant time: both sides hashed first, so neither length nor content leaks. */
function tokenMatcher(token: string | undefined): (candidate: string) => boolean {
  if (token === undefined) return () => false;
  const expected = createHash('sha256').update(token).digest();
  return (candidate) => timingSafeEqual(createHash('sha256').update(candidate).digest(), expected);
}

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (h === undefined) return undefined;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(h);
  return m?.[1];
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function isJson(req: FastifyRequest): boolean {
  const ct = req.headers['content-type'];
  return ct !== undefined && /^application\/json\s*(;|$)/i.test(ct);
}

export interface AdminAuthOptions {
  readonly security: AdminSecurityOptions | undefined;
  /** Host names allowed in the Host header besides loopback (read when the first request arrives). */
  readonly allowedHosts: () => ReadonlySet<string>;
}

/** Installs the hook on the root instance, so every route (plugins included, and 404s) passes through it. */
export function installAdminAuth(app: FastifyInstance, o: AdminAuthOptions): void {
  const s = o.security;
  const credentials = hasAdminCredentials(s);
  const isAdmin = tokenMatcher(s?.token);
  const isReader = tokenMatcher(s?.readToken);
  const guard = hostOriginGuard(o.allowedHosts, s?.tls !== undefined ? 'https' : 'http');
  const publicMetrics = s?.publicMetrics === true;

  const access = (req: FastifyRequest): AdminAccess => {
    if (!credentials) return 'admin';
    const socket = req.raw.socket as Partial<TLSSocket>;
    if (s?.tls !== undefined && socket.authorized === true) return 'admin';
    const token = bearer(req);
    if (token === undefined) return 'none';
    if (isAdmin(token)) return 'admin';
    if (isReader(token)) return 'read';
    return 'none';
  };

  app.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    if (!guard.check(req, reply)) return;
    const path = pathOf(req.url);
    const reading = READ_METHODS.has(req.method);
    if (reading && (OPEN_ROUTES.has(path) || (publicMetrics && path === '/metrics'))) {
      done();
      return;
    }
    const granted = access(req);
    if (granted === 'none') {
      void reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="spearlet-admin"')
        .send({ code: 'ADMIN_UNAUTHORIZED', message: 'this admin API needs the admin or read-only token' });
      return;
    }
    if (!reading && granted !== 'admin') {
      req.log.warn({ method: req.method, path }, 'admin request refused: read-only token');
      void reply
        .code(403)
        .send({ code: 'ADMIN_FORBIDDEN', message: `the read-only token may not ${req.method} ${path}` });
      return;
    }
    if (!reading && !isJson(req)) {
      void reply.code(415).send({
        code: 'ADMIN_CONTENT_TYPE',
        message: `${req.method} ${path} takes Content-Type: application/json only`,
      });
      return;
    }
    done();
  });
}
