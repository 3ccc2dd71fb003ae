// Bounded read-only HTTP GETs for the dashboard's poller: Consul (HTTP, HTTPS with a CA file, Unix socket) and
// spearlet admin APIs. Bodies are capped so a misbehaving peer cannot fill the dashboard's memory.
import { request as httpRequest, type IncomingHttpHeaders, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';

export const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface GetResult {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

export interface GetOptions {
  readonly timeoutMs: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** PEM bytes of the CA for https:// URLs. */
  readonly ca?: Buffer;
  /** Send the request over this Unix socket (the URL's host is then only the Host header). */
  readonly socketPath?: string;
}

/** GET `url`; rejects with an Error whose `code` is the socket error (ECONNREFUSED...) or 'ETIMEDOUT' / 'EBODYTOOLARGE'. */
export function httpGet(url: URL, o: GetOptions): Promise<GetResult> {
  return new Promise((resolve, reject) => {
    const options: RequestOptions & { ca?: Buffer } = {
      method: 'GET',
      headers: { accept: 'application/json, text/plain', ...o.headers },
      timeout: o.timeoutMs,
      ...(o.socketPath !== undefined ? { socketPath: o.socketPath, path: url.pathname + url.search } : {}),
      ...(o.ca !== undefined ? { ca: o.ca } : {}),
    };
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      o.socketPath !== undefined ? `http://localhost${url.pathname}${url.search}` : url,
      options,
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY_BYTES) {
            req.destroy(
              Object.assign(new Error(`response larger than ${MAX_BODY_BYTES} bytes`), { code: 'EBODYTOOLARGE' }),
            );
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => {
      req.destroy(Object.assign(new Error(`no answer within ${o.timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A short reason for a failed GET, for the UI: the socket error code, or the message. */
export function describeGetError(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return err instanceof Error ? err.message : String(err);
}
