// `spear-mesh registry`: runs the embedded Consul-compatible dev registry in this process until SIGINT/SIGTERM.
import { parseArgs } from 'node:util';
import { loadAgentConfig, type AgentConfig } from '../../devregistry/agent-config.ts';
import { startDevRegistry } from '../../devregistry/index.ts';
import { ConfigError } from '../../errors.ts';
import { createLogger } from '../../util/logger.ts';

const USAGE = `Usage: spear-mesh registry [options]

Runs a single-node, in-memory server that speaks Consul's HTTP API (like 'consul agent -dev').

Options:
  --listen HOST:PORT   address to listen on (default 127.0.0.1:8500; port 0 picks a free one)
  --node NAME          node name (default spear-dev)
  --datacenter NAME    datacenter name (default dc1)
  --acl-token TOKEN    ACL mode: every request must carry this token
  --enable-script-checks
                       run checks with Args registered through the API (off by default, as in Consul)
  --enable-local-script-checks
                       accepted for Consul compatibility; the registry reads no local check definitions
  --config-file FILE   a Consul JSON agent config: node_name, datacenter, client_addr, addresses.http,
                       ports.http, enable_script_checks, enable_local_script_checks, acl.enabled with
                       acl.tokens.initial_management; other keys are warned about and ignored.
                       Flags given on the command line win over the file.
  -h, --help           show this help

Prints 'registry listening on http://HOST:PORT' on stdout once it accepts requests.
`;

/** Splits "host:port" or "[v6]:port"; undefined when malformed. */
export function parseListen(value: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port > 65_535) return undefined;
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '127.0.0.1' : host, port };
}

export async function run(argv: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        listen: { type: 'string' },
        node: { type: 'string' },
        datacenter: { type: 'string' },
        'acl-token': { type: 'string' },
        'enable-script-checks': { type: 'boolean' },
        'enable-local-script-checks': { type: 'boolean' },
        'config-file': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`spear-mesh registry: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  let config: AgentConfig = { options: {}, warnings: [] };
  if (values['config-file'] !== undefined) {
    try {
      config = loadAgentConfig(values['config-file']);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(`spear-mesh registry: ${err.code}: ${err.message}\n`);
      return 2;
    }
  }
  const fromFile = config.options;
  const fileHost = fromFile.host ?? '127.0.0.1';
  const listen = parseListen(
    values.listen ?? `${fileHost.includes(':') ? `[${fileHost}]` : fileHost}:${String(fromFile.port ?? 8500)}`,
  );
  if (listen === undefined) {
    process.stderr.write(`spear-mesh registry: --listen must be HOST:PORT, got '${values.listen ?? ''}'\n`);
    return 2;
  }
  const logger = createLogger({ name: 'spear-mesh' });
  for (const w of config.warnings) logger.warn({ configFile: values['config-file'] }, w);
  let registry;
  try {
    registry = await startDevRegistry({
      host: listen.host,
      port: listen.port,
      node: values.node ?? fromFile.node,
      datacenter: values.datacenter ?? fromFile.datacenter,
      aclToken: values['acl-token'] ?? fromFile.aclToken,
      enableScriptChecks: values['enable-script-checks'] ?? fromFile.enableScriptChecks,
      enableLocalScriptChecks: values['enable-local-script-checks'] ?? fromFile.enableLocalScriptChecks,
      logger,
    });
  } catch (err) {
    // Typically EADDRINUSE or EACCES from listen().
    process.stderr.write(
      `spear-mesh registry: cannot listen on ${listen.host}:${listen.port}: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    logger.flush();
    return 1;
  }
  // Handlers go in before the URL is printed: a launcher may signal as soon as it reads the line.
  const stopped = new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  process.stdout.write(`registry listening on ${registry.url}\n`);
  await stopped;
  await registry.close();
  logger.flush();
  return 0;
}
