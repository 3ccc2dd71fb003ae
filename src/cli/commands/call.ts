// `spear-mesh call`: discovers spearlets through Consul and sends requests through MeshClient.
import { MeshClient } from '../../agent/mesh-client.ts';
import { mintToken } from '../../auth/mint.ts';
import { readSecretFile } from '../../auth/secret.ts';
import { POLICY_NAMES, type PolicyName } from '../../balancer/policies.ts';
import { resolveConsulOptions } from '../../registry/consul-options.ts';
import { ConfigError, MeshError } from '../../errors.ts';
import { percentile } from '../../util/latency-window.ts';
import { createLogger } from '../../util/logger.ts';
import { formatError } from '../error-output.ts';
import { intOption, parseCommandArgs } from '../options.ts';
import { serveMetrics, type MetricsEndpoint } from '../metrics-endpoint.ts';
import { Registry } from 'prom-client';

const HELP = `Usage: spear-mesh call --method M [options]

Discovers spearlets through Consul (blocking health queries), connects with a JWT and sends requests.
With --count 1 (the default) it prints the response body; with more it prints a latency summary and
shows a progress bar on a terminal.

Options:
  --method M             method to call (required), e.g. echo, sleep, info
  --data D               request body as UTF-8 text (default empty)
  --count N              number of requests (default 1)
  --concurrency C        requests in flight at once (default 1)
  --idempotent           flag requests idempotent (MeshClient may retry them on another spearlet)
  --deadline-ms N        per-request deadline (default 10000)
  --policy NAME          ${POLICY_NAMES.join(', ')} (default round-robin)
  --consul URL           Consul HTTP address (env CONSUL_HTTP_ADDR; default http://127.0.0.1:8500)
  --service NAME         Consul service name (default spearlet)
  --token T              JWT to present (env SPEAR_TOKEN)
  --token-secret-file F  mint an HS256 token from this secret instead (with --issuer, --audience)
  --issuer ISS           issuer for a minted token (default spear-local)
  --audience AUD         audience for a minted token (default spear-mesh)
  --json                 print JSON: one response {ok, body, latencyMs, error?} or a summary
                         {method, count, succeeded, failed, errors: {CODE: n}, durationMs, ratePerSec,
                         latencyMs: {p50, p90, p99, max}}
  --metrics-port N       serve this client's metrics (spear_mesh_client_*) at http://127.0.0.1:N/metrics
                         while it runs (0 picks a free port; the URL is printed on stderr)
  -h, --help             show this help

Exit status: 0 when every request succeeded, 1 when any failed, 2 on bad options.
`;

export async function run(argv: readonly string[]): Promise<number> {
  const values = parseCommandArgs(
    argv,
    {
      method: { type: 'string' },
      data: { type: 'string', default: '' },
      count: { type: 'string', default: '1' },
      concurrency: { type: 'string', default: '1' },
      idempotent: { type: 'boolean', default: false },
      'deadline-ms': { type: 'string', default: '10000' },
      policy: { type: 'string', default: 'round-robin' },
      consul: { type: 'string' },
      service: { type: 'string', default: 'spearlet' },
      token: { type: 'string' },
      'token-secret-file': { type: 'string' },
      issuer: { type: 'string', default: 'spear-local' },
      audience: { type: 'string', default: 'spear-mesh' },
      json: { type: 'boolean', default: false },
      'metrics-port': { type: 'string' },
    },
    HELP,
  );
  if (values === null) return 0;
  if (values.method === undefined || values.method === '') throw new ConfigError('--method', 'is required');
  const count = intOption('--count', values.count, 1, 100_000_000);
  const concurrency = intOption('--concurrency', values.concurrency, 1, 10_000);
  const deadlineMs = intOption('--deadline-ms', values['deadline-ms'], 1, 3_600_000);
  const metricsPort =
    values['metrics-port'] === undefined ? undefined : intOption('--metrics-port', values['metrics-port'], 0, 65535);
  if (!(POLICY_NAMES as readonly string[]).includes(values.policy)) {
    throw new ConfigError('--policy', `must be one of ${POLICY_NAMES.join(', ')}`);
  }
  let token = values.token ?? process.env.SPEAR_TOKEN;
  if (values['token-secret-file'] !== undefined) {
    // The same reading as the spearlet's --token-secret-file (a trailing newline is not part of the secret).
    const secret = await readSecretFile(values['token-secret-file'], '--token-secret-file');
    token = await mintToken({
      secret,
      sub: 'spear-mesh-call',
      iss: values.issuer,
      aud: values.audience,
      expiresInSec: 3600,
    });
  }
  if (token === undefined || token === '') {
    throw new ConfigError('--token', 'a token is required: --token, SPEAR_TOKEN or --token-secret-file');
  }
  const consul = resolveConsulOptions(values.consul !== undefined ? { addr: values.consul } : {});
  // Logs only with --verbose (which sets SPEAR_LOG_LEVEL=debug) or an explicit SPEAR_LOG_LEVEL: a failure is reported
  // as one line at the end.
  const logger = createLogger({ name: 'spear-mesh-call', level: process.env.SPEAR_LOG_LEVEL ?? 'silent' });
  const registry = metricsPort === undefined ? undefined : new Registry();
  const client = await MeshClient.connect({
    consul,
    service: values.service,
    token,
    policy: values.policy as PolicyName,
    logger,
    ...(registry !== undefined ? { metricsRegistry: registry } : {}),
  });
  let metrics: MetricsEndpoint | undefined;
  if (registry !== undefined && metricsPort !== undefined) {
    try {
      metrics = await serveMetrics(registry, metricsPort);
    } catch (err) {
      await client.close();
      const why = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
      process.stderr.write(`spear-mesh call: cannot serve metrics on 127.0.0.1:${metricsPort}: ${why}\n`);
      return 1;
    }
    process.stderr.write(`metrics: ${metrics.url}\n`);
  }
  const body = Buffer.from(values.data, 'utf8');
  const options = { idempotent: values.idempotent, deadlineMs };
  try {
    if (count === 1) return await single(client, values.method, body, options, values.json);
    return await many(client, values.method, body, options, count, concurrency, values.json);
  } finally {
    await metrics?.close();
    await client.close();
  }
}

type RequestOptions = { idempotent: boolean; deadlineMs: number };

async function single(
  client: MeshClient,
  method: string,
  body: Buffer,
  options: RequestOptions,
  json: boolean,
): Promise<number> {
  const started = performance.now();
  try {
    const response = await client.request(method, body, options);
    const latencyMs = performance.now() - started;
    if (json) process.stdout.write(JSON.stringify({ ok: true, body: response.toString('utf8'), latencyMs }) + '\n');
    else process.stdout.write(response.toString('utf8') + '\n');
    return 0;
  } catch (err) {
    const latencyMs = performance.now() - started;
    const error = err instanceof MeshError ? err.toJSON() : { code: 'UNKNOWN', message: String(err), retryable: false };
    if (json) process.stdout.write(JSON.stringify({ ok: false, error, latencyMs }) + '\n');
    else process.stderr.write(formatError(err, { command: 'call', json: false, verbose: isVerbose() }));
    return 1;
  }
}

async function many(
  client: MeshClient,
  method: string,
  body: Buffer,
  options: RequestOptions,
  count: number,
  concurrency: number,
  json: boolean,
): Promise<number> {
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  /** The first error of each code, reported as one line each at the end. */
  const firstErrors = new Map<string, unknown>();
  let next = 0;
  let done = 0;
  const progress = process.stderr.isTTY
    ? setInterval(() => {
        drawProgress(done, count);
      }, 200)
    : undefined;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      const t0 = performance.now();
      try {
        await client.request(method, body, options);
        latencies.push(performance.now() - t0);
      } catch (err) {
        const code = err instanceof MeshError ? err.code : 'UNKNOWN';
        errors[code] = (errors[code] ?? 0) + 1;
        if (!firstErrors.has(code)) firstErrors.set(code, err);
      }
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const durationMs = performance.now() - started;
  clearInterval(progress);
  if (progress !== undefined) {
    drawProgress(done, count);
    process.stderr.write('\n');
  }
  latencies.sort((a, b) => a - b);
  const failed = count - latencies.length;
  const summary = {
    method,
    count,
    succeeded: latencies.length,
    failed,
    errors,
    durationMs,
    ratePerSec: count / (durationMs / 1000),
    latencyMs: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? null,
    },
  };
  if (json) process.stdout.write(JSON.stringify(summary) + '\n');
  else {
    const f = (v: number | null): string => (v === null ? '-' : `${v.toFixed(2)}ms`);
    process.stdout.write(
      `${count} requests in ${(durationMs / 1000).toFixed(2)}s (${summary.ratePerSec.toFixed(0)} req/s): ` +
        `${summary.succeeded} ok, ${failed} failed${failed > 0 ? ` ${JSON.stringify(errors)}` : ''}\n` +
        `latency p50 ${f(summary.latencyMs.p50)}  p90 ${f(summary.latencyMs.p90)}  p99 ${f(summary.latencyMs.p99)}  max ${f(summary.latencyMs.max)}\n`,
    );
    for (const err of firstErrors.values())
      process.stderr.write(formatError(err, { command: 'call', json: false, verbose: isVerbose() }));
  }
  return failed === 0 ? 0 : 1;
}

function drawProgress(done: number, total: number): void {
  const width = 30;
  const filled = Math.round((done / total) * width);
  process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
}

/** main.ts turns --verbose into SPEAR_LOG_LEVEL=debug before the command runs. */
function isVerbose(): boolean {
  return process.env.SPEAR_LOG_LEVEL === 'debug' || process.env.SPEAR_LOG_LEVEL === 'trace';
}
