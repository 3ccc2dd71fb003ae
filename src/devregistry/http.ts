// The HTTP front of the dev registry: fastify carries the bytes, Consul's rules decide the answers
// (prefix routing like Go's ServeMux, 405 with Allow, plain-text errors, ACL token resolution, Go JSON).
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ClientGone } from './blocking.ts';
import { HttpError } from './http-error.ts';
import { GoQuery } from './query.ts';
import { encodeJson } from './render.ts';

/** Largest request body read at all; KV enforces its own 512 KiB value limit below this. */
export const BODY_LIMIT = 8 * 1024 * 1024;

export interface RequestCtx {
  readonly method: string;
  /** The percent-decoded path. */
  readonly path: string;
  /** The part of the path after a prefix pattern (e.g. the key after /v1/kv/). */
  readonly rest: string;
  readonly query: GoQuery;
  readonly body: Buffer | undefined;
  readonly headers: IncomingHttpHeaders;
  /** Aborted when the client goes away (close releases waiters through the watch hub). */
  readonly signal: ClientGone;
}

export type Reply =
  | {
      readonly kind: 'json';
      readonly value: unknown;
      readonly status?: number;
      readonly headers?: Record<string, string>;
    }
  | {
      readonly kind: 'text';
      readonly text: string | Buffer;
      readonly status: number;
      readonly contentType?: string;
      readonly headers?: Record<string, string>;
    }
  | { readonly kind: 'empty'; readonly status?: number; readonly headers?: Record<string, string> };

export interface Endpoint {
  /** A pattern ending in '/' matches every path under it; otherwise the path must be equal. */
  readonly pattern: string;
  readonly methods: readonly string[];
  readonly handler: (ctx: RequestCtx) => Reply | Promise<Reply>;
  /** Endpoints Consul serves without an ACL check (status, datacenters). */
  readonly public?: boolean;
}

export const json = (value: unknown, headers?: Record<string, string>): Reply => ({ kind: 'json', value, headers });
export const empty = (): Reply => ({ kind: 'empty' });

export interface HttpOptions {
  endpoints: readonly Endpoint[];
  aclToken: string | undefined;
  logger: Logger;
}

// Consul's index handler writes these with Fprintln, hence the newline.
const INVALID_PATH = 'Invalid URL path: not a recognized HTTP API endpoint\n';
const NOT_V1_PATH = "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'\n";
/** unicode.IsPrint is false: controls, format and unassigned code points, and every space but U+0020. */
const UNPRINTABLE = /(?! )[\p{C}\p{Z}]/u;

/** Go's url.PathUnescape of a request path; undefined on a malformed escape (Go answers 400 Bad Request). */
function decodePath(raw: string): string | undefined {
  if (/%(?![0-9a-fA-F]{2})/.test(raw)) return undefined;
  if (!raw.includes('%')) return raw;
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const ch = raw.charCodeAt(i);
    if (raw[i] === '%') {
      bytes.push(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (ch < 0x80) {
      bytes.push(ch);
    } else {
      bytes.push(...Buffer.from(raw[i] ?? '', 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Token resolution, first match wins: ?token=, X-Consul-Token, Authorization: Bearer. */
export function requestToken(query: GoQuery, headers: IncomingHttpHeaders): string {
  const q = query.get('token');
  if (q !== '') return q;
  const h = headers['x-consul-token'];
  if (typeof h === 'string' && h !== '') return h;
  const auth = headers.authorization;
  if (typeof auth === 'string' && auth !== '') {
    const parts = auth.split(' ');
    if (parts.length === 2 && parts[0]?.toLowerCase() === 'bearer') return (parts[1] ?? '').trim();
  }
  return '';
}

function match(endpoints: readonly Endpoint[], path: string): { ep: Endpoint; rest: string } | undefined {
  let best: Endpoint | undefined;
  for (const ep of endpoints) {
    const ok = ep.pattern.endsWith('/') ? path.startsWith(ep.pattern) : path === ep.pattern;
    if (ok && (best === undefined || ep.pattern.length > best.pattern.length)) best = ep;
  }
  if (best === undefined) return undefined;
  return { ep: best, rest: best.pattern.endsWith('/') ? path.slice(best.pattern.length) : '' };
}

/** Go's net/http answer to a request it cannot parse. */
const GO_BAD_REQUEST =
  'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request';

export function buildHttpServer(options: HttpOptions): FastifyInstance {
  // Connections already answered with "Connection: close": bytes still arriving on them are not another request.
  const closing = new WeakSet<Socket>();
  const badRequest = (reply: FastifyReply): FastifyReply => {
    closing.add(reply.raw.socket as Socket);
    return reply.code(400).header('Connection', 'close').type('text/plain; charset=utf-8').send('400 Bad Request');
  };
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    // Go's net/http never times idle keep-alive connections out; the consul client keeps them for long.
    keepAliveTimeout: 0,
    forceCloseConnections: true,
    return503OnClosing: false,
    exposeHeadRoutes: false,
    routerOptions: { maxParamLength: 65_535 },
    clientErrorHandler: (_err, socket) => {
      if (!closing.has(socket) && socket.writable) socket.end(GO_BAD_REQUEST);
      else socket.destroy();
    },
    frameworkErrors: (err, _req, rawReply) => {
      // fastify types this reply with an empty route generic; it is an ordinary reply.
      const reply = rawReply as unknown as FastifyReply;
      if (err.code === 'FST_ERR_BAD_URL') {
        void badRequest(reply);
        return;
      }
      void reply.code(500).type('text/plain; charset=utf-8').send(err.message);
    },
  });
  // fastify reads 0 as "use the default" (72 s); 0 on the http.Server itself disables the idle timeout.
  app.server.keepAliveTimeout = 0;
  const policy = options.aclToken === undefined ? 'allow' : 'deny';

  // Consul ignores Content-Type; fastify would refuse a malformed one with 415 before any handler runs.
  app.addHook('onRequest', (req, _reply, done) => {
    const ct = req.headers['content-type'];
    if (ct !== undefined && !/^[\w!#$&^.+-]+\/[\w!#$&^.+-]+\s*(;.*)?$/.test(ct))
      req.headers['content-type'] = 'application/octet-stream';
    done();
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => {
    done(null, body);
  });

  app.setErrorHandler((err: Error & { code?: string; statusCode?: number }, _req, reply) => {
    reply.header('X-Consul-Default-Acl-Policy', policy);
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply
        .code(413)
        .type('text/plain; charset=utf-8')
        .send(`Request body too large, max size: ${BODY_LIMIT} bytes`);
    }
    const status =
      typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    options.logger.warn({ err }, 'request failed');
    return reply.code(status).type('text/plain; charset=utf-8').send(err.message);
  });

  const dispatch = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const url = req.raw.url ?? '/';
    const qpos = url.indexOf('?');
    const rawPath = qpos === -1 ? url : url.slice(0, qpos);
    const path = decodePath(rawPath);
    if (path === undefined) return badRequest(reply);
    // Consul wraps its mux in go-cleanhttp's PrintablePathCheckHandler: 400 with no body.
    if (UNPRINTABLE.test(path)) return reply.code(400).send();
    const found = match(options.endpoints, path);
    if (found === undefined) {
      // The index handler is not wrapped, so no ACL-policy header here.
      return reply
        .code(404)
        .type('text/plain; charset=utf-8')
        .send(path.includes('/v1/') ? INVALID_PATH : NOT_V1_PATH);
    }
    const { ep, rest } = found;
    reply.header('X-Consul-Default-Acl-Policy', policy);
    const query = new GoQuery(qpos === -1 ? '' : url.slice(qpos + 1));
    // Consul's wrapper parses the query first and answers a malformed one with an empty 500.
    if (!query.valid) return reply.code(500).send();
    const method = req.method;
    if (method === 'OPTIONS') {
      return reply
        .code(200)
        .header('Allow', ['OPTIONS', ...ep.methods].join(','))
        .send();
    }
    if (!ep.methods.includes(method)) {
      return reply
        .code(405)
        .header('Allow', ['OPTIONS', ...ep.methods].join(','))
        .type('text/plain; charset=utf-8')
        .send(`method ${method} not allowed`);
    }
    if (options.aclToken !== undefined && ep.public !== true) {
      const token = requestToken(query, req.headers);
      if (token !== options.aclToken) return reply.code(403).type('text/plain; charset=utf-8').send('ACL not found');
    }
    // 'close' also fires after every complete response: abort only when the client left first.
    const gone = new ClientGone();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) gone.abort();
    });
    let result: Reply;
    try {
      const body = Buffer.isBuffer(req.body) ? req.body : undefined;
      result = await ep.handler({ method, path, rest, query, body, headers: req.headers, signal: gone });
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      result = { kind: 'text', status: err.status, text: err.message, headers: err.headers };
    }
    return send(reply, result, query.has('pretty'));
  };

  app.route({ method: ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS'], url: '/*', handler: dispatch });
  app.setNotFoundHandler(dispatch);
  return app;
}

/** Compact encodings of JSON replies, shared when many watchers receive the same cached reply. */
const encoded = new WeakMap<Reply, { text: string; length: number }>();

function send(reply: FastifyReply, r: Reply, pretty: boolean): FastifyReply {
  for (const [k, v] of Object.entries(r.headers ?? {})) reply.header(k, v);
  switch (r.kind) {
    case 'json': {
      let body = pretty ? undefined : encoded.get(r);
      if (body === undefined) {
        const text = encodeJson(r.value, pretty);
        body = { text, length: Buffer.byteLength(text) };
        if (!pretty) encoded.set(r, body);
      }
      // The hot path of every blocking read, past fastify's reply pipeline (which would also append a charset
      // Consul does not send): status line, headers and body leave in one corked socket write.
      const headers: Record<string, string | number | string[]> = {};
      for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) headers[k] = v;
      headers['content-type'] = 'application/json';
      headers['content-length'] = body.length;
      reply.hijack();
      reply.raw.writeHead(r.status ?? 200, headers);
      reply.raw.end(body.text);
      return reply;
    }
    case 'text':
      return reply
        .code(r.status)
        .header('Content-Type', r.contentType ?? 'text/plain; charset=utf-8')
        .send(r.text);
    case 'empty':
      return reply.code(r.status ?? 200).send();
  }
}
