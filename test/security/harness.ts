// Shared pieces of the security tests: raw HTTP requests (any Host, Origin or body), token files, a temp directory.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The body's `code` when it is JSON with one. */
  readonly code: string | undefined;
}

export interface RawRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  tls?: { ca: string; cert?: string; key?: string };
}

/** One HTTP request with exactly the headers given (fetch would not let a test set Host). */
export function raw(base: { host: string; port: number }, r: RawRequest): Promise<RawResponse> {
  const send = r.tls !== undefined ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      {
        host: base.host,
        port: base.port,
        method: r.method ?? 'GET',
        path: r.path,
        headers: r.headers ?? {},
        ...(r.tls !== undefined ? { ca: r.tls.ca, cert: r.tls.cert, key: r.tls.key, servername: 'localhost' } : {}),
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          let code: string | undefined;
          try {
            const j = JSON.parse(body) as { code?: unknown };
            code = typeof j.code === 'string' ? j.code : undefined;
          } catch {
            code = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, code });
        });
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error(`${r.path}: no answer`)));
    req.on('error', reject);
    req.end(r.body);
  });
}

export interface Secrets {
  readonly dir: string;
  readonly secretFile: string;
  readonly adminToken: string;
  readonly adminTokenFile: string;
  readonly readToken: string;
  readonly readTokenFile: string;
  cleanup(): Promise<void>;
}

export async function makeSecrets(): Promise<Secrets> {
  const dir = await mkdtemp(join(tmpdir(), 'spear-sec-'));
  const adminToken = randomBytes(24).toString('base64url');
  const readToken = randomBytes(24).toString('base64url');
  const secretFile = join(dir, 'token-secret');
  const adminTokenFile = join(dir, 'admin-token');
  const readTokenFile = join(dir, 'read-token');
  await writeFile(secretFile, randomBytes(32), { mode: 0o600 });
  await writeFile(adminTokenFile, `${adminToken}\n`, { mode: 0o600 });
  await writeFile(readTokenFile, `${readToken}\n`, { mode: 0o600 });
  return {
    dir,
    secretFile,
    adminToken,
    adminTokenFile,
    readToken,
    readTokenFile,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
export const json = { 'content-type': 'application/json' };
