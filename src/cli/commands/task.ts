// `spear-mesh task`: start, list, stop and invoke tasks through a spearlet's admin API (thin HTTP wrappers).
import { parseArgs } from 'node:util';
import { ConfigError } from '../../errors.ts';
import { intOption } from '../options.ts';
import { adminHeaders, resolveAdminToken } from '../../admin/admin-client.ts';

const HELP = `Usage: spear-mesh task <subcommand> --admin URL [options]

Manages the agent processes (tasks) of one spearlet through its admin API.

Subcommands:
  start [options] -- COMMAND [ARGS...]   start COMMAND as a task; prints its id
      --restart POLICY     never (default) or on-failure
      --max-restarts N     upper bound on automatic restarts (default 10)
      --id ID              choose the task id (default: a random UUID)
      --env K=V            extra environment variable for the task (repeatable)
      --cwd DIR            working directory of the task
  list                                   list the spearlet's tasks
  stop ID [--grace-ms N]                 stop a task: Terminate to its connected agent at once, SIGTERM to its
                                         process group at half the grace (at once when no agent is connected),
                                         SIGKILL at the end of the grace (default 5000 ms)
  invoke ID --method M [--params P]      invoke a method of the task's agent and print its answer
      --timeout-ms N       how long to wait for the answer (default 30000)

Common options:
  --admin URL          the spearlet's admin API, e.g. http://127.0.0.1:9100 (env SPEAR_ADMIN_URL)
  --admin-token-file FILE  the admin API token (env SPEAR_ADMIN_TOKEN: the token itself)
  --json               print the API's JSON answer
  -h, --help           show this help

Exit status: 0 on success, 1 when the spearlet refused or failed (the error code is printed), 2 on bad options.
`;

/** Where output goes; tests pass their own. */
export interface TaskCommandIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
}

const processIo: TaskCommandIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
};

const SUBCOMMANDS = ['start', 'list', 'stop', 'invoke'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

interface TaskInfoLike {
  id: string;
  state: string;
  protocol: string | null;
  pid?: number;
  restarts: number;
  exitCode: number | null;
  signal: string | null;
  command: string;
  args: string[];
}

function adminBase(raw: string | undefined): string {
  if (raw === undefined || raw === '') throw new ConfigError('--admin', 'is required (or set SPEAR_ADMIN_URL)');
  const withScheme = /^[a-z]+:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ConfigError('--admin', `not a URL: ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError('--admin', 'must be http(s)');
  return url.href.replace(/\/+$/, '');
}

function parseEnv(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ConfigError('--env', `expected K=V, got ${JSON.stringify(pair)}`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(
  base: string,
  token: string | undefined,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: adminHeaders(token, method === 'POST'),
      ...(body !== undefined ? { body: JSON.stringify(body) } : method === 'POST' ? { body: '{}' } : {}),
    });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    throw new ApiError(0, 'ADMIN_UNREACHABLE', `cannot reach ${base}${cause}`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const o = (typeof json === 'object' && json !== null ? json : {}) as { code?: unknown; message?: unknown };
    throw new ApiError(
      res.status,
      typeof o.code === 'string' ? o.code : `HTTP_${res.status}`,
      typeof o.message === 'string' ? o.message : text.slice(0, 500),
    );
  }
  return json;
}

function describe(info: TaskInfoLike): string {
  const end = info.state === 'exited' ? ` code=${String(info.exitCode)} signal=${String(info.signal)}` : '';
  return `${info.id} ${info.state}${end}`;
}

function table(tasks: readonly TaskInfoLike[]): string {
  const rows = [
    ['ID', 'STATE', 'PROTOCOL', 'PID', 'RESTARTS', 'COMMAND'],
    ...tasks.map((x) => [
      x.id,
      x.state,
      x.protocol ?? '-',
      x.pid === undefined ? '-' : String(x.pid),
      String(x.restarts),
      [x.command, ...x.args].join(' '),
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return (
    rows
      .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '))
      .join('\n') + '\n'
  );
}

export async function run(argv: readonly string[], io: TaskCommandIo = processIo): Promise<number> {
  let parsed;
  try {
    parsed = parseTaskArgs(argv);
  } catch (err) {
    // As the other subcommands do: a bad flag is a ConfigError naming it (exit status 2).
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError(/'(-{1,2}[^'\s]+)/.exec(message)?.[1] ?? 'arguments', message);
  }
  const { values, positionals } = parsed;
  const [sub, ...rest] = positionals;
  if (values.help || sub === undefined) {
    io.stdout(HELP);
    return values.help ? 0 : 2;
  }
  if (!(SUBCOMMANDS as readonly string[]).includes(sub)) {
    throw new ConfigError('subcommand', `unknown task subcommand '${sub}' (known: ${SUBCOMMANDS.join(', ')})`);
  }
  const base = adminBase(values.admin ?? io.env.SPEAR_ADMIN_URL);
  const token = resolveAdminToken(values['admin-token-file'], io.env);
  const out = (value: unknown, text: string): void => {
    io.stdout(values.json ? `${JSON.stringify(value)}\n` : text);
  };
  try {
    switch (sub as Subcommand) {
      case 'start': {
        const [command, ...args] = rest;
        if (command === undefined) throw new ConfigError('COMMAND', 'give the command after --');
        if (values.restart !== 'never' && values.restart !== 'on-failure') {
          throw new ConfigError('--restart', 'must be never or on-failure');
        }
        const env = parseEnv(values.env);
        const info = (await call(base, token, 'POST', '/v1/tasks', {
          command,
          args,
          restart: values.restart,
          ...(Object.keys(env).length > 0 ? { env } : {}),
          ...(values.cwd !== undefined ? { cwd: values.cwd } : {}),
          ...(values.id !== undefined ? { id: values.id } : {}),
          ...(values['max-restarts'] !== undefined
            ? { maxRestarts: intOption('--max-restarts', values['max-restarts'], 0, 10_000) }
            : {}),
        })) as TaskInfoLike;
        out(info, `${info.id}\n`);
        return 0;
      }
      case 'list': {
        const body = (await call(base, token, 'GET', '/v1/tasks')) as { tasks: TaskInfoLike[] };
        out(body, table(body.tasks));
        return 0;
      }
      case 'stop': {
        const id = onlyId(rest);
        const graceMs = values['grace-ms'];
        const info = (await call(
          base,
          token,
          'POST',
          `/v1/tasks/${encodeURIComponent(id)}/stop`,
          graceMs !== undefined ? { graceMs: intOption('--grace-ms', graceMs, 0, 600_000) } : undefined,
        )) as TaskInfoLike;
        out(info, `${describe(info)}\n`);
        return 0;
      }
      case 'invoke': {
        const id = onlyId(rest);
        if (values.method === undefined || values.method === '') throw new ConfigError('--method', 'is required');
        const answer = (await call(base, token, 'POST', `/v1/tasks/${encodeURIComponent(id)}/invoke`, {
          method: values.method,
          params: values.params,
          timeoutMs: intOption('--timeout-ms', values['timeout-ms'], 1, 3_600_000),
        })) as { result: string; encoding: string };
        out(answer, `${answer.result}\n`);
        return 0;
      }
    }
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (values.json)
      io.stdout(`${JSON.stringify({ error: { status: err.status, code: err.code, message: err.message } })}\n`);
    io.stderr(`spear-mesh task ${sub}: ${err.code}: ${err.message}\n`);
    return 1;
  }
}

function onlyId(rest: readonly string[]): string {
  if (rest.length !== 1 || rest[0] === undefined || rest[0] === '')
    throw new ConfigError('ID', 'give exactly one task id');
  return rest[0];
}

function parseTaskArgs(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      admin: { type: 'string' },
      'admin-token-file': { type: 'string' },
      json: { type: 'boolean', default: false },
      restart: { type: 'string', default: 'never' },
      'max-restarts': { type: 'string' },
      id: { type: 'string' },
      env: { type: 'string', multiple: true, default: [] },
      cwd: { type: 'string' },
      'grace-ms': { type: 'string' },
      method: { type: 'string' },
      params: { type: 'string', default: '' },
      'timeout-ms': { type: 'string', default: '30000' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: true,
  });
}
