// What CLI commands need to call a spearlet's admin API: the token (--admin-token-file or SPEAR_ADMIN_TOKEN), the
// headers, and refusals (401/403) turned into one line with the code.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.ts';

/** The environment variable holding the admin (or read-only) token itself. */
export const ADMIN_TOKEN_ENV = 'SPEAR_ADMIN_TOKEN';

/** The token from `--admin-token-file FILE`, else from SPEAR_ADMIN_TOKEN, else undefined (an open loopback API). */
export function resolveAdminToken(file: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(
        '--admin-token-file',
        `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
    const token = text.replace(/\r?\n$/, '');
    if (token === '') throw new ConfigError('--admin-token-file', `${file} is empty`);
    return token;
  }
  const fromEnv = env[ADMIN_TOKEN_ENV];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

/** Headers for an admin API call: the bearer token when there is one, JSON content type for a body. */
export function adminHeaders(token: string | undefined, json = false): Record<string, string> {
  return {
    ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
    ...(json ? { 'content-type': 'application/json' } : {}),
  };
}

/** The admin API refused the credential (401) or the action (403). */
export class AdminRefusedError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(url: string, status: number, code: string, message: string) {
    super(
      `${code}: ${url} answered ${status}: ${message}` +
        (status === 401 ? ' (give --admin-token-file FILE or set SPEAR_ADMIN_TOKEN)' : ''),
    );
    this.status = status;
    this.code = code;
  }
}

/** Throws AdminRefusedError for a 401 or 403 answer; other answers are the caller's business. */
export async function checkAdminAuth(url: string, res: Response): Promise<void> {
  if (res.status !== 401 && res.status !== 403) return;
  let code = res.status === 401 ? 'ADMIN_UNAUTHORIZED' : 'ADMIN_FORBIDDEN';
  let message = res.statusText;
  try {
    const body = (await res.clone().json()) as { code?: unknown; message?: unknown };
    if (typeof body.code === 'string') code = body.code;
    if (typeof body.message === 'string') message = body.message;
  } catch {
    // not JSON: keep the defaults
  }
  throw new AdminRefusedError(url, res.status, code, message);
}
