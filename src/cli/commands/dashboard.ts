// `spear-mesh dashboard`: the live web dashboard of a mesh, read-only, on loopback unless given credentials.
import { readFile } from 'node:fs/promises';
import { startDashboard, type DashboardOptions } from '../../dashboard/dashboard.ts';
import type { AgentSource } from '../../dashboard/poller.ts';
import { ConfigError } from '../../errors.ts';
import { createLogger } from '../../util/logger.ts';
import { hostPortOption, intOption, parseCommandArgs } from '../options.ts';

const HELP = `Usage: spear-mesh dashboard [options]

Serves a live web view of a mesh: spearlets by zone (Consul health, readiness, sessions, in-flight, req/s,
p50/p99), tasks, Consul services, checks and KV, drill reports and agents' client-side metrics. Updates
reach the browser about once a second (server-sent events). Read-only: it never writes to Consul or to a
spearlet, and the admin token stays in this process.

Options:
  --consul URL               Consul HTTP address (env CONSUL_HTTP_ADDR; default http://127.0.0.1:8500;
                             CONSUL_HTTP_TOKEN, CONSUL_HTTP_SSL and CONSUL_CACERT are honoured)
  --listen HOST:PORT         where to serve (default 127.0.0.1:8600; port 0 picks a free one)
  --admin-token-file FILE    token for the spearlets' admin APIs (env SPEAR_ADMIN_TOKEN); a read-only token is enough
  --basic-auth-file FILE     "user:password" browsers must give (HTTP Basic); required off loopback
  --allowed-host NAMES       comma-separated DNS names the dashboard is reached by (IP literals and localhost
                             are always accepted; other Host headers get 403)
  --drill-dir DIR            show drill reports written there (spear-mesh drill --report DIR/NAME.json)
  --agent NAME=URL,...       agents' client metrics to show (URL of spear-mesh call --metrics-port)
  --service NAME             Consul service name of spearlets (default spearlet)
  --interval-ms N            poll interval (default 1000)
  -h, --help                 show this help

Prints 'dashboard: http://HOST:PORT/' once serving. Exit status 2 on bad options, including a
non-loopback --listen without --basic-auth-file.
`;

async function readSecret(option: string, file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(option, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const value = text.trim();
  if (value === '') throw new ConfigError(option, `${file} is empty`);
  return value;
}

function parseAgents(raw: string): AgentSource[] {
  return raw
    .split(',')
    .filter((s) => s !== '')
    .map((item) => {
      const eq = item.indexOf('=');
      if (eq <= 0) throw new ConfigError('--agent', `expected NAME=URL, got ${JSON.stringify(item)}`);
      return { name: item.slice(0, eq), url: item.slice(eq + 1) };
    });
}

export async function run(argv: readonly string[]): Promise<number> {
  const values = parseCommandArgs(
    argv,
    {
      consul: { type: 'string' },
      listen: { type: 'string', default: '127.0.0.1:8600' },
      'admin-token-file': { type: 'string' },
      'basic-auth-file': { type: 'string' },
      'allowed-host': { type: 'string' },
      'drill-dir': { type: 'string' },
      agent: { type: 'string' },
      service: { type: 'string', default: 'spearlet' },
      'interval-ms': { type: 'string', default: '1000' },
    },
    HELP,
  );
  if (values === null) return 0;
  const listen = hostPortOption('--listen', values.listen);
  const intervalMs = intOption('--interval-ms', values['interval-ms'], 100, 60_000);
  const envToken = process.env.SPEAR_ADMIN_TOKEN;
  const adminToken =
    values['admin-token-file'] !== undefined
      ? await readSecret('--admin-token-file', values['admin-token-file'])
      : envToken !== undefined && envToken !== ''
        ? envToken
        : undefined;
  let basicAuth: DashboardOptions['basicAuth'];
  if (values['basic-auth-file'] !== undefined) {
    const pair = await readSecret('--basic-auth-file', values['basic-auth-file']);
    const colon = pair.indexOf(':');
    if (colon <= 0) throw new ConfigError('--basic-auth-file', 'expected one line "user:password"');
    basicAuth = { user: pair.slice(0, colon), password: pair.slice(colon + 1) };
  }
  const logger = createLogger({ name: 'spear-mesh-dashboard', level: process.env.SPEAR_LOG_LEVEL ?? 'warn' });
  let dashboard;
  try {
    dashboard = await startDashboard({
      consul: values.consul !== undefined ? { addr: values.consul } : {},
      listen,
      service: values.service,
      intervalMs,
      logger,
      ...(adminToken !== undefined ? { adminToken } : {}),
      ...(basicAuth !== undefined ? { basicAuth } : {}),
      ...(values['allowed-host'] !== undefined
        ? { allowedHosts: values['allowed-host'].split(',').filter((s) => s !== '') }
        : {}),
      ...(values['drill-dir'] !== undefined ? { drillDir: values['drill-dir'] } : {}),
      ...(values.agent !== undefined ? { agents: parseAgents(values.agent) } : {}),
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      // Name the flag the user typed rather than the library option.
      const flag = err.option === 'listen' ? '--listen' : err.option === 'basicAuth' ? '--basic-auth-file' : err.option;
      if (flag === err.option) throw err;
      const hint = flag === '--listen' ? '; give --basic-auth-file or listen on a loopback address' : '';
      throw new ConfigError(flag, err.message.slice(err.option.length + 2) + hint);
    }
    const code = (err as NodeJS.ErrnoException).code;
    process.stderr.write(
      `spear-mesh dashboard: cannot listen on ${values.listen}: ${code ?? (err instanceof Error ? err.message : String(err))}\n`,
    );
    return 1;
  }
  process.stdout.write(`dashboard: ${dashboard.url}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await dashboard.close();
  return 0;
}
