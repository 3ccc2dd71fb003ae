// `spear-mesh spearlet`: runs one spearlet in this process until SIGTERM/SIGINT (drain) or POST /v1/drain.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ConfigError, MeshError } from '../../errors.ts';
import { addressInUse } from '../../util/listen-errors.ts';
import { createLogger, type Logger } from '../../util/logger.ts';
import { readSecretFile, secretFromBytes } from '../../auth/secret.ts';
import { openFileJwks, type JwksSource } from '../../auth/jwks.ts';
import { createRemoteJwks } from '../../auth/remote-jwks.ts';
import { openConsulJwks } from '../../auth/consul-jwks.ts';
import type { TokenVerifierOptions } from '../../auth/verify.ts';
import { createConsulClient } from '../../registry/consul-client.ts';
import type { ConsulOptions } from '../../registry/consul-options.ts';
import { Spearlet } from '../../spearlet/spearlet.ts';
import { enableSpearletTasks, type SpearletTasks } from '../../spearlet/runtime/spearlet-tasks.ts';
import { tasksRoutes } from '../../admin/tasks-routes.ts';
import { TASK_INVOKE_METHOD } from '../../spearlet/runtime/attach-runtime.ts';
import { serveAdmin, type AdminServer } from '../../admin/serve.ts';
import { SpearletFaults } from '../../drill/spearlet-faults.ts';
import { parseHostPort as parseHostPortString } from '../../util/host-port.ts';
import type { HostPort, SpearletOptions } from '../../spearlet/options.ts';
import {
  buildSecuritySettings,
  SECURITY_FLAGS,
  SECURITY_USAGE,
  type SecuritySettings,
} from '../spearlet-security-flags.ts';
import { watchParentPipe } from '../../localmesh/parent-link.ts';
import { GrayFaults } from '../../drill/gray-faults.ts';

const USAGE = `Usage: spear-mesh spearlet --id ID --issuer ISS --audience AUD
         (--token-secret-file FILE | --jwks FILE|URL|consul:KEY) [options]

Runs a spearlet: accepts agent connections (mesh protocol, JWT in HELLO), registers in Consul, serves the admin API.
SIGTERM or SIGINT drains (GOAWAY, in-flight requests finish, deregister) and exits 0; a second signal exits at once.

Options (each also as an environment variable SPEARLET_<NAME>, e.g. SPEARLET_ID, SPEARLET_TOKEN_SECRET_FILE):
  --id ID                      spearlet id (required)
  --zone Z                     zone, advertised in Consul tags and meta
  --listen HOST:PORT           mesh TCP listener (default 127.0.0.1:0)
  --socket PATH                also listen on a Unix socket
  --admin HOST:PORT            admin API: /health /ready /metrics /v1/sessions /v1/drain (default 127.0.0.1:0)
  --consul URL                 Consul HTTP address (default CONSUL_HTTP_ADDR, else http://127.0.0.1:8500)
  --no-consul                  do not register anywhere
  --service-name NAME          Consul service name (default spearlet)
  --tags A,B                   extra Consul tags
  --advertise HOST             address registered in Consul (default: the listen host, or a routable one for 0.0.0.0)
  --token-secret-file FILE     HS256 shared secret (SPEARLET_TOKEN_SECRET may hold the secret itself)
  --jwks SOURCE                public keys: a JWKS file, an https:// URL, or consul:KEY (followed for rotation)
  --issuer ISS                 required token issuer
  --audience AUD               required token audience
  --tls-cert FILE              PEM certificate: serve TLS on the TCP listener
  --tls-key FILE               PEM private key for --tls-cert
  --tls-client-ca FILE         require client certificates signed by this CA (mTLS)
  --heartbeat-ms N             PING interval when idle (default 1000)
  --heartbeat-timeout-ms N     close a peer silent this long (default 3 x heartbeat, at least 3000)
  --handshake-timeout-ms N     HELLO deadline (default 5000)
  --max-connections N          total connection limit (default 10000)
  --max-connections-per-agent N  sessions per token subject (default 64)
  --max-in-flight N            requests in flight per session (default 1024)
  --max-frame-size BYTES       largest accepted frame (default 16777216)
  --drain-timeout-ms N         bound for in-flight work during a drain (default 30000)
  --enable-drills              expose POST /v1/faults on the admin API (drills only)
${SECURITY_USAGE}  --exit-on-stdin-close        drain and exit when stdin reaches its end (a supervisor holding the pipe is gone)
  -h, --help                   show this help

Prints one line on stdout once listening:
  spearlet ID listening tcp=HOST:PORT admin=HOST:PORT [socket=PATH]
`;

const OPTIONS = {
  id: { type: 'string' },
  zone: { type: 'string' },
  listen: { type: 'string' },
  socket: { type: 'string' },
  admin: { type: 'string' },
  consul: { type: 'string' },
  'no-consul': { type: 'boolean' },
  'service-name': { type: 'string' },
  tags: { type: 'string' },
  advertise: { type: 'string' },
  'token-secret-file': { type: 'string' },
  jwks: { type: 'string' },
  issuer: { type: 'string' },
  audience: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-client-ca': { type: 'string' },
  'heartbeat-ms': { type: 'string' },
  'heartbeat-timeout-ms': { type: 'string' },
  'handshake-timeout-ms': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-connections-per-agent': { type: 'string' },
  'max-in-flight': { type: 'string' },
  'max-frame-size': { type: 'string' },
  'drain-timeout-ms': { type: 'string' },
  'enable-drills': { type: 'boolean' },
  ...SECURITY_FLAGS,
  'exit-on-stdin-close': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type OptionName = keyof typeof OPTIONS;
type Values = Partial<Record<OptionName, string | boolean>>;

/** `SPEARLET_<NAME>` for a flag, e.g. --token-secret-file => SPEARLET_TOKEN_SECRET_FILE. */
export function envName(flag: string): string {
  return `SPEARLET_${flag.replace(/-/g, '_').toUpperCase()}`;
}

/** Flags win over SPEARLET_* variables; booleans accept 1/true/yes and 0/false/no. */
export function mergeEnv(values: Values, env: NodeJS.ProcessEnv): Values {
  const out: Values = { ...values };
  for (const [name, spec] of Object.entries(OPTIONS) as [OptionName, { type: string }][]) {
    if (name === 'help' || out[name] !== undefined) continue;
    const raw = env[envName(name)];
    if (raw === undefined || raw === '') continue;
    if (spec.type === 'boolean') {
      if (/^(1|true|yes)$/i.test(raw)) out[name] = true;
      else if (/^(0|false|no)$/i.test(raw)) out[name] = false;
      else throw new ConfigError(`--${name}`, `${envName(name)} must be true or false, got '${raw}'`);
    } else {
      out[name] = raw;
    }
  }
  return out;
}

export function parseHostPort(option: string, value: string): HostPort {
  const hp = parseHostPortString(value);
  if (hp === undefined) throw new ConfigError(option, `must be HOST:PORT, got '${value}'`);
  return { host: hp.host === '' ? '127.0.0.1' : hp.host, port: hp.port };
}

function intFlag(option: string, value: string | boolean | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d+$/.test(value))
    throw new ConfigError(option, `must be a non-negative integer, got '${String(value)}'`);
  return Number(value);
}

function str(values: Values, name: OptionName): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

async function readPem(option: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new ConfigError(option, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

interface Built {
  options: SpearletOptions;
  jwks: JwksSource | undefined;
  security: SecuritySettings;
  /** Where the admin API listens (composed outside the Spearlet). */
  admin: HostPort;
  enableDrills: boolean;
}

/** Turns flags and environment into Spearlet options; ConfigError names the offending option. */
export async function buildSpearletOptions(values: Values, env: NodeJS.ProcessEnv, logger: Logger): Promise<Built> {
  const id = str(values, 'id');
  if (id === undefined) throw new ConfigError('--id', 'is required');
  const issuer = str(values, 'issuer');
  if (issuer === undefined) throw new ConfigError('--issuer', 'is required');
  const audience = str(values, 'audience');
  if (audience === undefined) throw new ConfigError('--audience', 'is required');

  const noConsul = values['no-consul'] === true;
  const consulAddr = str(values, 'consul');
  if (noConsul && consulAddr !== undefined) throw new ConfigError('--consul', 'cannot be combined with --no-consul');
  const consul: ConsulOptions | null = noConsul ? null : consulAddr !== undefined ? { addr: consulAddr } : {};

  const security = await buildSecuritySettings(values);
  const secretFile = str(values, 'token-secret-file');
  const secretEnv = env.SPEARLET_TOKEN_SECRET;
  const jwksSpec = str(values, 'jwks');
  const given = [secretFile, secretEnv !== undefined && secretEnv !== '' ? 'env' : undefined, jwksSpec].filter(
    (x) => x !== undefined,
  );
  if (given.length !== 1) {
    throw new ConfigError(
      '--token-secret-file',
      'give exactly one of --token-secret-file, SPEARLET_TOKEN_SECRET and --jwks',
    );
  }
  let auth: TokenVerifierOptions;
  let jwks: JwksSource | undefined;
  const readinessChecks: (() => string | undefined)[] = [];
  if (secretFile !== undefined) {
    auth = { secret: await readSecretFile(secretFile, '--token-secret-file'), issuer, audience };
  } else if (jwksSpec === undefined) {
    auth = { secret: secretFromBytes(Buffer.from(secretEnv ?? '', 'utf8'), 'SPEARLET_TOKEN_SECRET'), issuer, audience };
  } else {
    if (jwksSpec.startsWith('consul:')) {
      if (consul === null) throw new ConfigError('--jwks', 'consul: key sets need Consul (drop --no-consul)');
      const key = jwksSpec.slice('consul:'.length);
      if (key === '') throw new ConfigError('--jwks', 'consul: needs a key, e.g. consul:spear/jwks');
      jwks = await openConsulJwks(createConsulClient(consul, env), key, { logger });
    } else if (/^https?:\/\//.test(jwksSpec)) {
      if (jwksSpec.startsWith('http:') && !security.jwksAllowInsecureHttp)
        throw new ConfigError(
          '--jwks',
          'an http:// key set can be forged on the way: use https:// (or --jwks-allow-insecure-http)',
        );
      const remote = createRemoteJwks(jwksSpec, { logger });
      jwks = remote;
      // Not ready until a valid key set has arrived: no agent could be verified before that.
      readinessChecks.push(() => (remote.loaded ? undefined : 'jwks: no valid key set yet'));
    } else {
      jwks = await openFileJwks(jwksSpec);
    }
    auth = { jwks, issuer, audience };
  }

  const certFile = str(values, 'tls-cert');
  const keyFile = str(values, 'tls-key');
  const caFile = str(values, 'tls-client-ca');
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new ConfigError('--tls-cert', 'needs --tls-key too (and the other way round)');
  if (caFile !== undefined && certFile === undefined)
    throw new ConfigError('--tls-client-ca', 'needs --tls-cert and --tls-key');
  const tls =
    certFile !== undefined && keyFile !== undefined
      ? {
          cert: await readPem('--tls-cert', certFile),
          key: await readPem('--tls-key', keyFile),
          ...(caFile !== undefined ? { clientCa: await readPem('--tls-client-ca', caFile) } : {}),
        }
      : undefined;

  const tags = str(values, 'tags')
    ?.split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  const numbers = {
    heartbeatMs: intFlag('--heartbeat-ms', values['heartbeat-ms']),
    heartbeatTimeoutMs: intFlag('--heartbeat-timeout-ms', values['heartbeat-timeout-ms']),
    handshakeTimeoutMs: intFlag('--handshake-timeout-ms', values['handshake-timeout-ms']),
    maxConnections: intFlag('--max-connections', values['max-connections']),
    maxConnectionsPerAgent: intFlag('--max-connections-per-agent', values['max-connections-per-agent']),
    maxInFlightPerSession: intFlag('--max-in-flight', values['max-in-flight']),
    maxFrameSize: intFlag('--max-frame-size', values['max-frame-size']),
    drainTimeoutMs: intFlag('--drain-timeout-ms', values['drain-timeout-ms']),
  };
  const defined = Object.fromEntries(Object.entries(numbers).filter(([, v]) => v !== undefined)) as Partial<
    typeof numbers
  >;
  const zone = str(values, 'zone');
  const socketPath = str(values, 'socket');
  const serviceName = str(values, 'service-name');
  const advertiseHost = str(values, 'advertise');
  const options: SpearletOptions = {
    id,
    listen: parseHostPort('--listen', str(values, 'listen') ?? '127.0.0.1:0'),
    auth,
    consul,
    logger,
    ...security.limits,
    readinessChecks,
    ...(zone !== undefined ? { zone } : {}),
    ...(socketPath !== undefined ? { socketPath } : {}),
    ...(serviceName !== undefined ? { serviceName } : {}),
    ...(advertiseHost !== undefined ? { advertiseHost } : {}),
    ...(tags !== undefined ? { tags } : {}),
    ...(tls !== undefined ? { tls } : {}),
    ...defined,
  };
  return {
    options,
    jwks,
    security,
    admin: parseHostPort('--admin', str(values, 'admin') ?? '127.0.0.1:0'),
    enableDrills: values['enable-drills'] === true,
  };
}

export async function run(argv: readonly string[]): Promise<number> {
  let values: Values;
  try {
    ({ values } = parseArgs({ args: [...argv], strict: true, allowPositionals: false, options: OPTIONS }));
  } catch (err) {
    process.stderr.write(`spear-mesh spearlet: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  const logger = createLogger({ name: 'spear-mesh' });
  let built: Built | undefined;
  let spearlet: Spearlet;
  let tasks: SpearletTasks | undefined;
  let spearletTasks: SpearletTasks | undefined;
  let adminServer: AdminServer | undefined;
  try {
    built = await buildSpearletOptions(mergeEnv(values, process.env), process.env, logger);
    // The process runtime: tasks get SERVICE_ADDR and SECRET (legacy agents), and SPEAR_TOKEN when the spearlet
    // holds the HS256 secret its verifier uses; /v1/tasks on the admin API starts and stops them.
    const auth = built.options.auth;
    const secret = 'secret' in auth ? auth.secret : undefined;
    // Drill-enabled spearlets also take the gray faults (slow, error) of src/drill, installed from here only.
    const gray = built.enableDrills ? new GrayFaults() : undefined;
    spearlet = new Spearlet(built.options);
    if (built.security.enableTasks) {
      tasks = enableSpearletTasks(spearlet, {
        ...(secret !== undefined && 'issuer' in auth
          ? { tokens: { secret, issuer: auth.issuer, audience: auth.audience } }
          : {}),
        ...(built.options.consul !== null && built.options.consul !== undefined
          ? { consul: built.options.consul }
          : {}),
        policy: built.security.taskPolicy,
        logger,
      });
      spearletTasks = tasks;
    } else {
      // Tasks are off (no /v1/tasks routes): a task.invoke finds no task here, as on any spearlet without it.
      spearlet.handle(TASK_INVOKE_METHOD, () => {
        throw new MeshError('TASK_NOT_FOUND', `tasks are not enabled on spearlet ${spearlet.id} (--enable-tasks)`);
      });
    }
    // The admin API is composed here from the spearlet, its runtime and (for drills only) the fault injectors.
    const advertise = built.options.advertiseHost;
    const security = built.security.adminSecurity;
    adminServer = await serveAdmin(spearlet, {
      listen: built.admin,
      logger,
      faults: built.enableDrills ? new SpearletFaults(spearlet, logger, gray) : undefined,
      plugins: [
        ...(tasks !== undefined ? [tasksRoutes(tasks.runtime)] : []),
        ...(gray !== undefined ? [gray.routes()] : []),
      ],
      ...(security !== undefined || advertise !== undefined
        ? {
            security: {
              ...security,
              hosts: [...(security?.hosts ?? []), ...(advertise !== undefined ? [advertise] : [])],
            },
          }
        : {}),
    });
    await spearlet.start();
  } catch (err) {
    await tasks?.close();
    await adminServer?.close();
    logger.flush();
    // Reported by main as one line, exit status 2 for a MeshError; a port in use names its flag.
    const flags = [
      { option: '--listen', ...(built?.options.listen ?? { host: '', port: 0 }) },
      { option: '--admin', ...(built?.admin ?? { host: '', port: 0 }) },
    ];
    throw addressInUse(err, flags, 'choose another port, or 0 for any free one') ?? err;
  }
  const tcp = spearlet.tcpAddress;
  const admin = spearlet.adminAddress;
  const fmt = (a: HostPort | undefined): string =>
    a === undefined ? '-:0' : `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
  const socket = spearlet.socketPath;
  process.stdout.write(
    `spearlet ${spearlet.id} listening tcp=${fmt(tcp)} admin=${fmt(admin)}${socket !== undefined ? ` socket=${socket}` : ''}\n`,
  );

  // A supervisor (spear-mesh up, drill) holds our stdin: its end closing means it is gone, so drain and exit.
  const unwatch =
    mergeEnv(values, process.env)['exit-on-stdin-close'] === true
      ? watchParentPipe(process.stdin, (why) => {
          logger.warn({ why }, 'parent gone: draining');
          void spearlet.drain();
        })
      : undefined;
  // Another live instance holds this id in Consul: say so in one line and leave (its registration stays untouched).
  let exitCode = 0;
  spearlet.registration?.on('state', (state, _previous, err) => {
    if (state !== 'conflict') return;
    exitCode = 1;
    process.stderr.write(`spear-mesh spearlet: ${err?.message ?? 'spearlet id in use'} (SPEARLET_ID_IN_USE)\n`);
    void spearlet.drain();
  });
  const code = await new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      signals++;
      if (signals === 1) {
        logger.info({ signal }, 'draining on signal');
        void spearlet.drain();
      } else {
        logger.warn({ signal }, 'second signal: exiting now');
        logger.flush();
        process.exit(1);
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    spearlet.once('state', function onState(state) {
      if (state !== 'closed') {
        spearlet.once('state', onState);
        return;
      }
      // closed by a drain (signal or POST /v1/drain) or by close()
      void spearlet
        .drain()
        .then(() => spearletTasks?.close())
        .then(() => adminServer.close())
        .then(() => {
          resolve(exitCode);
        });
    });
  });
  unwatch?.();
  await built.jwks?.close();
  logger.flush();
  return code;
}
