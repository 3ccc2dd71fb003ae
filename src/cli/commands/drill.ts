// `spear-mesh drill`: steady load, one fault in one spearlet, and a report.
import { writeFile } from 'node:fs/promises';
import { MeshClient } from '../../agent/mesh-client.ts';
import { ConfigError } from '../../errors.ts';
import { createConsulClient } from '../../registry/consul-client.ts';
import { resolveConsulOptions } from '../../registry/consul-options.ts';
import { createLogger } from '../../util/logger.ts';
import { LocalMesh } from '../local-mesh.ts';
import { collectStatus } from '../mesh-status.ts';
import { durationOption, intOption, parseCommandArgs } from '../options.ts';
import { AdminInjector, LocalInjector, ProcessInjector, localSpearletPid } from '../../drill/injectors.ts';
import { FAULTS, formatReport, type Fault } from '../../drill/report.ts';
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

Options:
  --fault FAULT          one of ${FAULTS.join(', ')} (required)
  --target ID            spearlet id to fault (default: the first one)
  --rate R               requests per second (default 200)
  --duration D           total load time, e.g. 10s (default 9s)
  --fault-at D           when to inject, after the load starts (default a third of --duration)
  --fault-for D          how long freeze, partition and registry-down last (default 2s)
  --spearlets N          local mesh size (default 3)
  --heartbeat-ms N       local spearlets' heartbeat interval (default 200)
  --consul URL           drill an existing mesh registered in this Consul
  --token T              JWT for an existing mesh (env SPEAR_TOKEN)
  --json                 print the report as JSON
  --report FILE          also write the JSON report to FILE
  --chart FILE           write an SVG chart of throughput and errors over time (default: FILE.svg next
                         to --report when given)
  -h, --help             show this help

JSON report fields: fault, target, ratePerSec, durationMs, faultAtMs, detectionMs, recoveryMs, sent,
succeeded, failed, retried, lost, duplicated, errors {CODE: n}, latency {before, during, after} each
{count, p50Ms, p90Ms, p99Ms, maxMs}, timeline [{tMs, ok, failed}], passed.

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
      consul: { type: 'string' },
      token: { type: 'string' },
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
  // Faults make the client log every reconnect attempt at warn; the report says what matters.
  const logger = createLogger({ name: 'spear-mesh-drill', level: process.env.SPEAR_LOG_LEVEL ?? 'error' });
  const progress = (p: { elapsedMs: number; sent: number; failed: number; phase: string }): void => {
    if (process.stderr.isTTY) {
      process.stderr.write(
        `\r${(p.elapsedMs / 1000).toFixed(1)}s / ${(durationMs / 1000).toFixed(1)}s  ${p.phase.padEnd(6)}  sent ${p.sent}  failed ${p.failed}   `,
      );
    }
  };

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
      injector = new LocalInjector(mesh, faultForMs);
      expected = count;
      client = await MeshClient.connect({
        consul: { addr: mesh.consulAddr },
        token: await mesh.mintToken('drill'),
        logger,
      });
    } else {
      const consulOptions = resolveConsulOptions({ addr: values.consul });
      const consul = createConsulClient(consulOptions);
      const spearlets = await collectStatus(consul).finally(() => {
        consul.close();
      });
      target = values.target ?? spearlets[0]?.id ?? '';
      const chosen = spearlets.find((s) => s.id === target);
      if (chosen === undefined)
        throw new ConfigError('--target', `no spearlet ${JSON.stringify(target)} registered in Consul`);
      expected = spearlets.filter((s) => s.health === 'passing').length;
      const admin = chosen.admin;
      if (admin === null) throw new ConfigError('--target', `spearlet ${target} advertises no admin port`);
      // A spearlet on this host (e.g. from `spear-mesh up`) gets real signals; others the admin fault endpoint.
      const pid = await localSpearletPid(admin);
      injector =
        pid !== undefined ? new ProcessInjector(pid, admin, faultForMs) : new AdminInjector(() => admin, faultForMs);
      const token = values.token ?? process.env.SPEAR_TOKEN;
      if (token === undefined) throw new ConfigError('--token', 'a token is required with --consul (or SPEAR_TOKEN)');
      client = await MeshClient.connect({ consul: consulOptions, token, logger });
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
      ...(faultAtMs !== undefined ? { faultAtMs } : {}),
      onProgress: progress,
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    if (values.json) process.stdout.write(JSON.stringify(report) + '\n');
    else process.stdout.write(formatReport(report));
    if (values.report !== undefined) await writeFile(values.report, JSON.stringify(report, null, 2) + '\n');
    const chart =
      values.chart ?? (values.report !== undefined ? values.report.replace(/(\.json)?$/, '.svg') : undefined);
    if (chart !== undefined) await writeFile(chart, renderDrillSvg(report));
    return report.passed ? 0 : 1;
  } finally {
    await client?.close();
    await mesh?.close();
  }
}

/** Waits until the client holds a READY connection to `count` spearlets, so the load starts balanced. */
async function waitForReady(client: MeshClient, count: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (client.stats().endpoints.filter((e) => e.state === 'READY').length < count) {
    if (Date.now() > until) throw new Error(`the client did not connect to ${count} spearlets within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
