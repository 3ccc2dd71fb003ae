// `spear-mesh up` (`npm start`): a local mesh — the dev registry, spearlet processes and a demo agent — with a live view.
import { LocalMesh, LOCAL_AUDIENCE, LOCAL_ISSUER } from '../../localmesh/local-mesh.ts';
import { LiveView } from '../live-view.ts';
import { collectStatus } from '../mesh-status.ts';
import { createConsulClient } from '../../registry/consul-client.ts';
import { MeshClient } from '../../agent/mesh-client.ts';
import { POLICY_NAMES, type PolicyName } from '../../balancer/policies.ts';
import { SteadyLoad } from '../../drill/steady-load.ts';
import { LatencyWindow } from '../../util/latency-window.ts';
import { createLogger } from '../../util/logger.ts';
import { hostPortOption, intOption, parseCommandArgs } from '../options.ts';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Registry } from 'prom-client';
import { startDashboard, type Dashboard } from '../../dashboard/dashboard.ts';

const HELP = `Usage: spear-mesh up [options]

Runs a local mesh in one terminal: the embedded Consul-compatible dev registry, N spearlet processes
registered in it, and a demo agent sending steady echo traffic through MeshClient. Shows a live view
(spearlets, their health in Consul, sessions, req/s, errors, p50, p99); without a TTY it prints one
plain line per interval. Ctrl-C (or SIGTERM) drains every spearlet and exits 0.

Options:
  --spearlets N        number of spearlets (default 3)
  --registry-port P    dev registry port (default 8500; 0 picks a free port)
  --base-port P        first spearlet port; spearlet i uses P+2i (mesh) and P+2i+1 (admin) (default 0: any free)
  --policy NAME        balancing policy of the demo agent: ${POLICY_NAMES.join(', ')} (default round-robin)
  --rate R             demo agent requests per second (default 50; 0 disables the demo agent)
  --heartbeat-ms N     spearlet heartbeat interval (default 1000)
  --interval-ms N      refresh interval of the view (default 1000)
  --duration SEC       stop by itself after SEC seconds (default: run until interrupted)
  --dashboard HOST:PORT  serve the web dashboard there (default 127.0.0.1:8600, or port 0 with --registry-port 0)
  --no-dashboard       do not serve the dashboard
  -h, --help           show this help
`;

export async function run(argv: readonly string[]): Promise<number> {
  const values = parseCommandArgs(
    argv,
    {
      spearlets: { type: 'string', default: '3' },
      'registry-port': { type: 'string', default: '8500' },
      'base-port': { type: 'string', default: '0' },
      policy: { type: 'string', default: 'round-robin' },
      rate: { type: 'string', default: '50' },
      'heartbeat-ms': { type: 'string', default: '1000' },
      'interval-ms': { type: 'string', default: '1000' },
      duration: { type: 'string' },
      dashboard: { type: 'string' },
      'no-dashboard': { type: 'boolean', default: false },
    },
    HELP,
  );
  if (values === null) return 0;
  const count = intOption('--spearlets', values.spearlets, 1, 64);
  const registryPort = intOption('--registry-port', values['registry-port'], 0, 65535);
  const basePort = intOption('--base-port', values['base-port'], 0, 65535);
  const rate = intOption('--rate', values.rate, 0, 100_000);
  const heartbeatMs = intOption('--heartbeat-ms', values['heartbeat-ms'], 50, 60_000);
  const intervalMs = intOption('--interval-ms', values['interval-ms'], 100, 60_000);
  const durationSec = values.duration === undefined ? undefined : intOption('--duration', values.duration, 1, 86_400);
  if (!(POLICY_NAMES as readonly string[]).includes(values.policy)) {
    process.stderr.write(`spear-mesh up: --policy must be one of ${POLICY_NAMES.join(', ')}\n`);
    return 2;
  }
  const policy = values.policy as PolicyName;
  const dashboardAt = values['no-dashboard']
    ? undefined
    : hostPortOption('--dashboard', values.dashboard ?? (registryPort === 0 ? '127.0.0.1:0' : '127.0.0.1:8600'));
  // Logs only with --verbose (or SPEAR_LOG_LEVEL): the live view shows what goes wrong, and log lines written into it
  // would break it up (a killed spearlet made the demo agent log a warning per reconnect attempt).
  const logger = createLogger({ name: 'spear-mesh-up', level: process.env.SPEAR_LOG_LEVEL ?? 'silent' });

  process.stdout.write(`starting the dev registry and ${count} spearlets...\n`);
  // Drills enabled: this is a local development mesh, and `spear-mesh drill --consul` may partition its spearlets.
  const mesh = await LocalMesh.start({
    spearlets: count,
    registryPort,
    basePort,
    heartbeatMs,
    spearletArgs: ['--enable-drills', '--enable-tasks'],
    logger,
  });
  const consul = createConsulClient({ addr: mesh.consulAddr });
  const token = await mesh.mintToken('demo-agent');
  const joinToken = await mesh.mintToken('local-user', 24 * 3600);
  const agentMetrics = new Registry();
  let dashboard: Dashboard | undefined;
  const drillDir = join(dirname(mesh.secretFile), 'drills');
  if (dashboardAt !== undefined) {
    await mkdir(drillDir, { recursive: true });
    try {
      dashboard = await startDashboard({
        consul: { addr: mesh.consulAddr },
        listen: dashboardAt,
        drillDir,
        adminToken: mesh.adminToken,
        agents: rate > 0 ? [{ name: 'demo-agent', registry: agentMetrics }] : [],
        logger,
      });
    } catch (err) {
      await mesh.close();
      const why = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
      process.stderr.write(
        `spear-mesh up: cannot serve the dashboard on ${dashboardAt.host}:${dashboardAt.port}: ${why} (use --dashboard 127.0.0.1:0 or --no-dashboard)\n`,
      );
      return 1;
    }
  }
  process.stdout.write(
    [
      '',
      `local mesh ready: ${count} spearlets registered in the dev registry`,
      'to join from another terminal:',
      `  export CONSUL_HTTP_ADDR=${mesh.consulAddr}`,
      `  export SPEAR_TOKEN=${joinToken}`,
      '  npx spear-mesh status',
      '  npx spear-mesh call --method echo --data hello',
      `  export SPEAR_ADMIN_TOKEN=$(cat ${mesh.adminTokenFile})`,
      ...(dashboard !== undefined
        ? [
            `dashboard: ${dashboard.url}`,
            `  drills show up there: npx spear-mesh drill --consul ${mesh.consulAddr} --fault kill --report ${drillDir}/kill.json`,
          ]
        : []),
      `  (tokens: HS256, iss ${LOCAL_ISSUER}, aud ${LOCAL_AUDIENCE}; secret file ${mesh.secretFile})`,
      `  (admin API token file: ${mesh.adminTokenFile}; status, task and drill read it with --admin-token-file)`,
      '',
    ].join('\n'),
  );

  let client: MeshClient | undefined;
  let load: SteadyLoad | undefined;
  const window = new LatencyWindow();
  let sent = 0;
  let failed = 0;
  if (rate > 0) {
    client = await MeshClient.connect({
      consul: { addr: mesh.consulAddr },
      token,
      policy,
      logger,
      metricsRegistry: agentMetrics,
    });
    const body = Buffer.from('hello from the demo agent');
    const agent = client;
    load = new SteadyLoad({
      ratePerSec: rate,
      maxInFlight: 256,
      send: async () => {
        await agent.request('echo', body, { idempotent: true, deadlineMs: 5000 });
      },
      onOutcome: (o) => {
        sent++;
        if (o.ok) window.record(o.endMs - o.startMs);
        else {
          failed++;
          window.recordError();
        }
      },
    });
    load.start();
  }

  const view = new LiveView(process.stdout);
  const startedAt = Date.now();
  let lastDraw = performance.now();
  const refresh = async (): Promise<void> => {
    const spearlets = await collectStatus(consul, 'spearlet', { adminToken: mesh.adminToken }).catch(() => []);
    const now = performance.now();
    const snap = window.take();
    const ratePerSec = (snap.count + snap.errors) / ((now - lastDraw) / 1000);
    lastDraw = now;
    view.draw({
      uptimeSec: Math.round((Date.now() - startedAt) / 1000),
      consul: mesh.consulAddr,
      spearlets,
      agent: { ...snap, ratePerSec, totalSent: sent, totalFailed: failed },
    });
  };
  let refreshing = Promise.resolve();
  const ticker = setInterval(() => {
    refreshing = refreshing.then(refresh);
  }, intervalMs);

  const stopped = new Promise<string>((resolve) => {
    process.once('SIGINT', () => {
      resolve('SIGINT');
    });
    process.once('SIGTERM', () => {
      resolve('SIGTERM');
    });
    if (durationSec !== undefined)
      setTimeout(() => {
        resolve('duration');
      }, durationSec * 1000).unref();
  });
  const reason = await stopped;
  process.once('SIGINT', () => process.exit(130));
  process.stdout.write(`\n${reason}: draining...\n`);
  clearInterval(ticker);
  await refreshing;
  await load?.stop();
  await client?.close();
  await dashboard?.close();
  consul.close();
  await mesh.close();
  process.stdout.write(`stopped cleanly: demo agent sent ${sent} requests, ${failed} failed\n`);
  return 0;
}
