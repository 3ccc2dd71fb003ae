// `spear-mesh drill`: steady load, one fault in one spearlet, and a report.
import { writeFile } from 'node:fs/promises';
import { MeshClient } from '../../agent/mesh-client.ts';
import { ConfigError } from '../../errors.ts';
import { createConsulClient } from '../../registry/consul-client.ts';
import { resolveConsulOptions } from '../../registry/consul-options.ts';
import { createLogger } from '../../util/logger.ts';
import { LocalMesh } from '../../localmesh/local-mesh.ts';
import { resolveAdminToken } from '../../admin/admin-client.ts';
import { collectStatus } from '../mesh-status.ts';
import { durationOption, intOption, parseCommandArgs } from '../options.ts';
import { AdminInjector, LocalInjector, ProcessInjector, localSpearletPid } from '../../drill/injectors.ts';
import { FAULTS, GRAY, formatReport, type DrillReport, type Fault } from '../../drill/report.ts';
import { POLICY_NAMES, type PolicyName } from '../../balancer/policies.ts';
import { formatPolicyTable } from '../../drill/policy-table.ts';
import { runDrill, type FaultInjector } from '../../drill/run-drill.ts';
import { renderDrillSvg } from '../../drill/svg-chart.ts';

const HELP = `Usage: spear-mesh drill --fault FAULT [options]

Runs steady idempotent echo load through MeshClient, injects one fault into one spearlet, and reports
detection time, recovery time, requests sent/succeeded/failed/retried/lost/duplicated and latency
percentiles before, during and after the fault.

Without --consul it starts its own local mesh (dev registry + spearlet processes) and faults them with
signals. With --consul it drills an existing mesh (for example one started by 'spear-mesh up'): a target
on this host is signalled (pid from its admin API), a remote one gets the admin fault endpoint
(POST /v1/faults, only on spearlets run with --enable-drills) or POST /v1/drain.

Faults:
  kill           SIGKILL the spearlet
  freeze         SIGSTOP, then SIGCONT after --fault-for
  drain          planned drain (SIGTERM or POST /v1/drain): nothing may fail
  partition      the spearlet stops answering without closing connections, for --fault-for
  registry-down  the dev registry stops for --fault-for, then restarts empty (local mesh only)
  slow           every request to the spearlet takes --slow-ms longer, for --fault-for (admin API)
  error          the spearlet answers every request with HANDLER_ERROR, for --fault-for (admin API)
  flap           the spearlet's health in Consul flips critical/passing every second, for --fault-for
                 (Consul service maintenance through the agent at --consul, or the local dev registry)

Options:
  --fault FAULT          one of ${FAULTS.join(', ')} (required)
  --target ID            spearlet id to fault (default: the first one)
  --rate R               requests per second (default 200)
  --duration D           total load time, e.g. 10s (default 9s)
  --fault-at D           when to inject, after the load starts (default a third of --duration)
  --fault-for D          how long freeze, partition and registry-down last (default 2s)
  --spearlets N          local mesh size (default 3)
  --heartbeat-ms N       local spearlets' heartbeat interval (default 200)
  --slow-ms N            latency the slow fault adds (default 2000)
  --deadline-ms N        the caller's deadline for each request (default 5000)
  --hedge-after-ms N     the drill's client hedges: a request not answered after N ms is also sent to
                         another spearlet (charged to the retry budget; the loser is cancelled); default off
  --policy NAME|all      balancing policy of the drill's client: ${POLICY_NAMES.join(', ')} (default
                         least-outstanding); 'all' runs the drill once per policy (round-robin,
                         least-outstanding, peak-ewma), each on a fresh local mesh, and prints one table
  --consul URL           drill an existing mesh registered in this Consul
  --token T              JWT for an existing mesh (env SPEAR_TOKEN)
  --admin-token-file F   admin API token of an existing mesh's spearlets (env SPEAR_ADMIN_TOKEN: the token)
  --json                 print the report as JSON
  --report FILE          also write the JSON report to FILE
  --chart FILE           write an SVG chart of throughput and errors over time (default: FILE.svg next
                         to --report when given)
  -h, --help             show this help

JSON report fields: fault, target, ratePerSec, durationMs, faultAtMs, detectionMs, recoveryMs, sent,
succeeded, failed, retried, lost, duplicated, errors {CODE: n}, latency {before, during, after} each
{count, p50Ms, p90Ms, p99Ms, maxMs}, timeline [{tMs, ok, failed}], passed, policy, deadlineMs,
withinDeadline (requests that succeeded within the deadline), throughput {healthyPerSec, faultPerSec, ratio}
(successes per second before and during the fault), hedgeAfterMs. With --policy all: an array, one per policy.

Exit status: 0 when the drill passed (nothing lost or duplicated; for drain also nothing failed),
1 when it did not, 2 on bad options.
`;

export async function run(argv: readonly string[]): Promise<number> {
  const values = parseCommandArgs(
    argv,
    {
      fault: { type: 'string' },
      target: { type: 'string' },
      rate: { type: 'string', default: '200' },
      duration: { type: 'string', default: '9s' },
      'fault-at': { type: 'string' },
      'fault-for': { type: 'string', default: '2s' },
      spearlets: { type: 'string', default: '3' },
      'heartbeat-ms': { type: 'string', default: '200' },
      'slow-ms': { type: 'string', default: '2000' },
      'deadline-ms': { type: 'string', default: '5000' },
      'hedge-after-ms': { type: 'string' },
      policy: { type: 'string', default: 'least-outstanding' },
      consul: { type: 'string' },
      token: { type: 'string' },
      'admin-token-file': { type: 'string' },
      json: { type: 'boolean', default: false },
      report: { type: 'string' },
      chart: { type: 'string' },
    },
    HELP,
  );
  if (values === null) return 0;
  const fault = values.fault;
  if (fault === undefined || !(FAULTS as readonly string[]).includes(fault)) {
    throw new ConfigError('--fault', `must be one of ${FAULTS.join(', ')}`);
  }
  const rate = intOption('--rate', values.rate, 1, 100_000);
  const durationMs = durationOption('--duration', values.duration);
  const faultForMs = durationOption('--fault-for', values['fault-for']);
  const faultAtMs = values['fault-at'] === undefined ? undefined : durationOption('--fault-at', values['fault-at']);
  const slowMs = intOption('--slow-ms', values['slow-ms'], 0, 600_000);
  const deadlineMs = intOption('--deadline-ms', values['deadline-ms'], 1, 600_000);
  const hedgeAfterMs =
    values['hedge-after-ms'] === undefined
      ? undefined
      : intOption('--hedge-after-ms', values['hedge-after-ms'], 1, 600_000);
  const hedge = hedgeAfterMs === undefined ? {} : { hedgeAfterMs };
  const policyArg = values.policy;
  if (policyArg !== 'all' && !(POLICY_NAMES as readonly string[]).includes(policyArg))
    throw new ConfigError('--policy', `must be all or one of ${POLICY_NAMES.join(', ')}`);
  const policies: readonly PolicyName[] =
    policyArg === 'all' ? ['round-robin', 'least-outstanding', 'peak-ewma'] : [policyArg as PolicyName];
  if (policies.length > 1 && values.consul !== undefined && !GRAY.has(fault as Fault))
    throw new ConfigError('--policy', 'all needs a local mesh (no --consul) for faults that end a spearlet');
  // Faults make the client log every reconnect attempt at warn; the report says what matters.
  const logger = createLogger({ name: 'spear-mesh-drill', level: process.env.SPEAR_LOG_LEVEL ?? 'error' });
  const progress = (p: { elapsedMs: number; sent: number; failed: number; phase: string }): void => {
    if (process.stderr.isTTY) {
      process.stderr.write(
        `\r${(p.elapsedMs / 1000).toFixed(1)}s / ${(durationMs / 1000).toFixed(1)}s  ${p.phase.padEnd(6)}  sent ${p.sent}  failed ${p.failed}   `,
      );
    }
  };

  const reports: (DrillReport & {
    policy: PolicyName;
    deadlineMs: number;
    withinDeadline: number;
    hedgeAfterMs: number | null;
  })[] = [];
  for (const policy of policies) {
    if (policies.length > 1 && !values.json) process.stderr.write(`policy ${policy}:\n`);
    let mesh: LocalMesh | undefined;
    let client: MeshClient | undefined;
    try {
      let injector: FaultInjector;
      let target: string;
      let expected: number;
      if (values.consul === undefined) {
        const count = intOption('--spearlets', values.spearlets, 2, 16);
        const heartbeatMs = intOption('--heartbeat-ms', values['heartbeat-ms'], 50, 60_000);
        if (!values.json) process.stderr.write(`starting a local mesh of ${count} spearlets...\n`);
        mesh = await LocalMesh.start({ spearlets: count, heartbeatMs, spearletArgs: ['--enable-drills'], logger });
        target = values.target ?? mesh.spearlets.map((s) => s.id).sort()[0] ?? '';
        if (mesh.find(target) === undefined)
          throw new ConfigError('--target', `no spearlet ${JSON.stringify(target)} in the local mesh`);
        injector = new LocalInjector(mesh, faultForMs, { slowMs });
        expected = count;
        client = await MeshClient.connect({
          consul: { addr: mesh.consulAddr },
          token: await mesh.mintToken('drill'),
          policy,
          logger,
          ...hedge,
        });
      } else {
        const consulOptions = resolveConsulOptions({ addr: values.consul });
        const consul = createConsulClient(consulOptions);
        const adminToken = resolveAdminToken(values['admin-token-file']);
        const spearlets = await collectStatus(
          consul,
          'spearlet',
          adminToken !== undefined ? { adminToken } : {},
        ).finally(() => {
          consul.close();
        });
        target = values.target ?? spearlets[0]?.id ?? '';
        const chosen = spearlets.find((s) => s.id === target);
        if (chosen === undefined)
          throw new ConfigError('--target', `no spearlet ${JSON.stringify(target)} registered in Consul`);
        expected = spearlets.filter((s) => s.health === 'passing').length;
        const admin = chosen.admin;
        if (admin === null)
          throw new ConfigError('--target', `spearlet ${target}: ${chosen.note ?? 'advertises no admin port'}`);
        // A spearlet on this host (e.g. from `spear-mesh up`) gets real signals; others the admin fault endpoint.
        const pid = await localSpearletPid(admin, adminToken);
        injector =
          pid !== undefined
            ? new ProcessInjector(pid, admin, faultForMs, consulOptions, { slowMs }, adminToken)
            : new AdminInjector(() => admin, faultForMs, consulOptions, { slowMs }, adminToken);
        const token = values.token ?? process.env.SPEAR_TOKEN;
        if (token === undefined) throw new ConfigError('--token', 'a token is required with --consul (or SPEAR_TOKEN)');
        client = await MeshClient.connect({ consul: consulOptions, token, policy, logger, ...hedge });
      }
      await waitForReady(client, expected, 10_000);
      const report = await runDrill({
        client,
        injector,
        fault: fault as Fault,
        target,
        ratePerSec: rate,
        durationMs,
        faultForMs,
        deadlineMs,
        ...(faultAtMs !== undefined ? { faultAtMs } : {}),
        onProgress: progress,
      });
      if (process.stderr.isTTY) process.stderr.write('\n');
      reports.push({
        ...report,
        policy,
        deadlineMs,
        withinDeadline: report.succeeded,
        hedgeAfterMs: hedgeAfterMs ?? null,
      });
    } finally {
      await client?.close();
      await mesh?.close();
    }
  }
  const one = reports[0];
  if (reports.length === 1 && one !== undefined) {
    if (values.json) process.stdout.write(JSON.stringify(one) + '\n');
    else process.stdout.write(formatReport(one));
  } else if (values.json) process.stdout.write(JSON.stringify(reports) + '\n');
  else process.stdout.write(reports.map((r) => formatReport(r)).join('\n') + '\n' + formatPolicyTable(reports));
  if (values.report !== undefined)
    await writeFile(values.report, JSON.stringify(reports.length === 1 ? one : reports, null, 2) + '\n');
  const chart = values.chart ?? (values.report !== undefined ? values.report.replace(/(\.json)?$/, '.svg') : undefined);
  if (chart !== undefined && one !== undefined) await writeFile(chart, renderDrillSvg(one));
  return reports.every((r) => r.passed) ? 0 : 1;
}

/** Waits until the client holds a READY connection to `count` spearlets, so the load starts balanced. */
async function waitForReady(client: MeshClient, count: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (client.stats().endpoints.filter((e) => e.state === 'READY').length < count) {
    if (Date.now() > until) throw new Error(`the client did not connect to ${count} spearlets within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
