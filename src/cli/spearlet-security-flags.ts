// The spearlet's hardening flags (docs/security.md): admin API credentials, task runtime policy, pre-auth limits.
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.ts';
import type { AdminSecurityOptions } from '../admin/admin-security.ts';
import { parseCommandAllow, parseEnvAllow, parseTaskUser, type TaskPolicy } from '../spearlet/runtime/task-policy.ts';

export const SECURITY_FLAGS = {
  'admin-token-file': { type: 'string' },
  'admin-read-token-file': { type: 'string' },
  'admin-tls-cert': { type: 'string' },
  'admin-tls-key': { type: 'string' },
  'admin-tls-client-ca': { type: 'string' },
  'admin-public-metrics': { type: 'boolean' },
  'enable-tasks': { type: 'boolean' },
  'task-command-allow': { type: 'string' },
  'task-env-allow': { type: 'string' },
  'task-user': { type: 'string' },
  'max-hello-size': { type: 'string' },
  'max-pending-handshakes': { type: 'string' },
  'max-pending-handshakes-per-source': { type: 'string' },
  'jwks-allow-insecure-http': { type: 'boolean' },
} as const;

export const SECURITY_USAGE = `  --admin-token-file FILE      admin API bearer token (every route but /health and /ready needs it)
  --admin-read-token-file FILE read-only token: /metrics, /v1/info, /v1/sessions, GET /v1/tasks
  --admin-tls-cert FILE        serve the admin API over HTTPS with this certificate ...
  --admin-tls-key FILE         ... and key ...
  --admin-tls-client-ca FILE   ... and accept client certificates this CA signed as admin credentials (mTLS)
  --admin-public-metrics       serve /metrics without a credential (scrapers that cannot send one)
                               (without credentials --admin must be a loopback address)
  --enable-tasks               turn on the process runtime (/v1/tasks, task.invoke); off by default
  --task-command-allow LIST    commands tasks may run: absolute paths or globs, comma-separated
  --task-env-allow LIST        more variables tasks inherit besides PATH,HOME,LANG,TZ (NAME or PREFIX_*)
  --task-user USER[:GROUP]     run tasks as this user (the spearlet must be root)
  --max-hello-size BYTES       largest frame accepted before WELCOME (default 65536)
  --max-pending-handshakes N   connections still in their handshake (default 1024)
  --max-pending-handshakes-per-source N  the same, per source address (default 64)
  --jwks-allow-insecure-http   accept an http:// --jwks URL (keys could be forged on the way)
`;

type Flag = keyof typeof SECURITY_FLAGS;
type Values = Partial<Record<Flag, string | boolean>>;

export interface SecuritySettings {
  readonly adminSecurity: AdminSecurityOptions | undefined;
  readonly enableTasks: boolean;
  readonly taskPolicy: TaskPolicy;
  readonly limits: { maxHelloSize?: number; maxPendingHandshakes?: number; maxPendingHandshakesPerSource?: number };
  readonly jwksAllowInsecureHttp: boolean;
}

async function readText(option: string, path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  } catch (err) {
    throw new ConfigError(option, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

function str(values: Values, name: Flag): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

function count(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new ConfigError(option, `must be a non-negative integer, got '${value}'`);
  return Number(value);
}

/** Reads the token and certificate files and validates the flags; ConfigError names the flag. */
export async function buildSecuritySettings(values: Values): Promise<SecuritySettings> {
  const tokenFile = str(values, 'admin-token-file');
  const readTokenFile = str(values, 'admin-read-token-file');
  const cert = str(values, 'admin-tls-cert');
  const key = str(values, 'admin-tls-key');
  const ca = str(values, 'admin-tls-client-ca');
  const tlsGiven = [cert, key, ca].filter((x) => x !== undefined).length;
  if (tlsGiven !== 0 && tlsGiven !== 3)
    throw new ConfigError(
      '--admin-tls-cert',
      'give --admin-tls-cert, --admin-tls-key and --admin-tls-client-ca together',
    );
  const publicMetrics = values['admin-public-metrics'] === true;
  const adminSecurity: AdminSecurityOptions | undefined =
    tokenFile === undefined && readTokenFile === undefined && tlsGiven === 0 && !publicMetrics
      ? undefined
      : {
          ...(tokenFile !== undefined ? { token: await readText('--admin-token-file', tokenFile) } : {}),
          ...(readTokenFile !== undefined
            ? { readToken: await readText('--admin-read-token-file', readTokenFile) }
            : {}),
          ...(cert !== undefined && key !== undefined && ca !== undefined
            ? {
                tls: {
                  cert: await readText('--admin-tls-cert', cert),
                  key: await readText('--admin-tls-key', key),
                  clientCa: await readText('--admin-tls-client-ca', ca),
                },
              }
            : {}),
          ...(publicMetrics ? { publicMetrics } : {}),
        };
  const enableTasks = values['enable-tasks'] === true;
  const allow = str(values, 'task-command-allow');
  const envAllow = str(values, 'task-env-allow');
  const user = str(values, 'task-user');
  for (const [flag, given] of [
    ['--task-command-allow', allow],
    ['--task-env-allow', envAllow],
    ['--task-user', user],
  ] as const) {
    if (given !== undefined && !enableTasks) throw new ConfigError(flag, 'needs --enable-tasks');
  }
  const taskPolicy: TaskPolicy = {
    ...(allow !== undefined ? { commandAllow: parseCommandAllow(allow) } : {}),
    ...(envAllow !== undefined ? { envAllow: parseEnvAllow(envAllow) } : {}),
    ...(user !== undefined ? { user: parseTaskUser(user) } : {}),
  };
  const limits = Object.fromEntries(
    Object.entries({
      maxHelloSize: count('--max-hello-size', str(values, 'max-hello-size')),
      maxPendingHandshakes: count('--max-pending-handshakes', str(values, 'max-pending-handshakes')),
      maxPendingHandshakesPerSource: count(
        '--max-pending-handshakes-per-source',
        str(values, 'max-pending-handshakes-per-source'),
      ),
    }).filter(([, v]) => v !== undefined),
  ) as SecuritySettings['limits'];
  return {
    adminSecurity,
    enableTasks,
    taskPolicy,
    limits,
    jwksAllowInsecureHttp: values['jwks-allow-insecure-http'] === true,
  };
}
