// The benchmark suites `npm run bench` knows: each runs one measurement and turns its result into report figures.
import { cliStartupSuite } from './cli-startup.ts';
import { runCodecBench } from './codec.ts';
import { runDiscoveryBench } from './discovery-bench.ts';
import { runMeshVsRawBench, runPeerBench, type CpuPerRequest, type EchoBenchOptions } from './echo-bench.ts';
import { runEchoSuiteProcess } from './echo/suite-process.ts';
import { runFailoverBench } from './failover-bench.ts';
import { runHandshakeBench } from './handshake-bench.ts';
import { runIdleBench } from './idle-bench.ts';
import { figure, type Figure } from './lib/report.ts';
import { runRegistryBench } from './registry-watchers.ts';
import { runVerifyBench } from './verify-bench.ts';

export interface SuiteContext {
  /** Small counts and short windows: a smoke run, not figures to quote. */
  readonly quick: boolean;
  /** Echo servers (mesh, peers suites) in this process instead of child processes. */
  readonly inProcess: boolean;
}

export interface SuiteOutcome {
  readonly detail: unknown;
  readonly figures: readonly Figure[];
}

export interface Suite {
  readonly name: string;
  readonly about: string;
  run(ctx: SuiteContext): Promise<SuiteOutcome>;
}

const kb = (n: number): string => (n >= 1024 ? `${n / 1024}KiB` : `${n}B`);

export const SUITES: readonly Suite[] = [
  {
    name: 'codec',
    about: 'wire codec against a naive Buffer.concat codec (encode+decode of REQUEST frames)',
    async run({ quick }) {
      const r = await runCodecBench({ rounds: quick ? 1 : 3 });
      const figures = ['64B', '4KiB'].map((size) =>
        figure(
          'codec',
          `${size} encode+decode mesh/naive`,
          r[`codec_${size}_both_ratio`] ?? NaN,
          'x',
          size === '64B' ? { op: '>=', value: 2 } : undefined,
        ),
      );
      return { detail: r, figures };
    },
  },
  {
    name: 'mesh',
    about:
      'MeshClient + spearlet against a raw framed echo (writes coalesced per tick): TCP and Unix socket, 1/16/128 in flight, 64 B and 4 KiB, CPU per request',
    async run({ quick, inProcess }) {
      const separateProcesses = !inProcess;
      const o: EchoBenchOptions = quick
        ? { durationMs: 200, warmupMs: 50, serialRequests: 200, rounds: 1, separateProcesses }
        : { separateProcesses };
      // Separate processes: clients and servers all run compiled JavaScript (suite-process.ts).
      const r = separateProcesses ? await runEchoSuiteProcess('mesh', o) : await runMeshVsRawBench(o);
      const figures: Figure[] = [];
      for (const row of r.throughput) {
        const cell = `${row.transport} ${kb(row.payloadBytes)} x${row.inFlight}`;
        const cpu = row.cpuPerRequest;
        figures.push(
          figure(
            'mesh',
            `${cell} req/s mesh/raw (${row.opsPerSec.mesh ?? 0} / ${row.opsPerSec.raw ?? 0})`,
            row.ratio,
            'x',
            row.inFlight === 16 ? { op: '>=', value: 0.8 } : undefined,
          ),
          figure(
            'mesh',
            `${cell} CPU/req mesh/raw (${cpu.mesh?.totalUs ?? 0} / ${cpu.raw?.totalUs ?? 0} us, client+server; ` +
              `mesh ${cpuSplit(cpu.mesh)}; raw ${cpuSplit(cpu.raw)})`,
            row.cpuRatio,
            'x',
            row.inFlight === 16 && row.payloadBytes === 64 ? { op: '<=', value: 1.5 } : undefined,
          ),
        );
      }
      for (const row of r.latency) {
        const cell = `${row.transport} ${kb(row.payloadBytes)} serial`;
        figures.push(
          figure(
            'mesh',
            `${cell} p50 mesh/raw (${row.p50Us.mesh ?? 0} / ${row.p50Us.raw ?? 0} us)`,
            row.p50Ratio,
            'x',
            { op: '<=', value: 1.1 },
          ),
          figure(
            'mesh',
            `${cell} p99 mesh/raw (${row.p99Us.mesh ?? 0} / ${row.p99Us.raw ?? 0} us)`,
            row.p99Ratio,
            'x',
            { op: '<=', value: 1.3 },
          ),
        );
      }
      return { detail: r, figures };
    },
  },
  {
    name: 'peers',
    about:
      'mesh against @grpc/grpc-js unary and Moleculer (TCP transporter) on the same echo, TCP, 1 and 16 in flight, CPU per request',
    async run({ quick, inProcess }) {
      const separateProcesses = !inProcess;
      const o: EchoBenchOptions = quick
        ? { durationMs: 300, warmupMs: 100, serialRequests: 100, rounds: 1, separateProcesses }
        : { durationMs: 1000, rounds: 3, separateProcesses };
      const r = separateProcesses ? await runEchoSuiteProcess('peers', o) : await runPeerBench(o);
      const figures: Figure[] = [];
      for (const row of r.throughput) {
        const cell = `${kb(row.payloadBytes)} x${row.inFlight}`;
        const o = row.opsPerSec;
        for (const side of ['raw', 'mesh', 'moleculer', 'grpc']) {
          figures.push(
            figure(
              'peers',
              `${cell} ${side} (CPU/req ${row.cpuPerRequest[side]?.totalUs ?? NaN} us: ${cpuSplit(row.cpuPerRequest[side])})`,
              o[side] ?? NaN,
              'req/s',
            ),
          );
        }
        const gated = row.inFlight === 16 && row.payloadBytes === 64;
        figures.push(
          figure(
            'peers',
            `${cell} mesh/Moleculer`,
            row.meshVsMoleculer,
            'x',
            gated ? { op: '>=', value: 4 } : undefined,
          ),
          figure('peers', `${cell} mesh/grpc-js`, row.meshVsGrpc, 'x', gated ? { op: '>=', value: 30 } : undefined),
        );
      }
      return { detail: r, figures };
    },
  },
  {
    name: 'verify',
    about: 'token verification per call: node:crypto fast path against jose, HS256 secret and EdDSA key set (mitata)',
    async run() {
      const rows = await runVerifyBench();
      return {
        detail: rows,
        figures: rows.flatMap((r) => [
          figure('verify', `${r.alg} verify, fast path (jose ${r.joseUs} us)`, r.fastUs, 'us'),
          figure('verify', `${r.alg} verify, jose / fast path`, r.speedup, 'x'),
        ]),
      };
    },
  },
  {
    name: 'handshake',
    about:
      'handshakes/s (connect, preface, HELLO, WELCOME, close) with HS256 and EdDSA tokens, spearlet in a child process',
    async run({ quick }) {
      const r = await runHandshakeBench(quick ? { durationMs: 500, warmupMs: 100 } : {});
      const figures = r.rows.flatMap((row) => [
        figure('handshake', `${row.alg} handshakes/s (${r.concurrency} in flight)`, row.handshakesPerSec, '/s', {
          op: '>=',
          value: row.alg === 'HS256' ? 2000 : 1500,
        }),
        figure('handshake', `${row.alg} handshake p50`, row.p50Ms, 'ms'),
        figure(
          'handshake',
          `${row.alg} spearlet CPU per handshake (${row.perSpearletCoreSec}/s per spearlet core)`,
          row.spearletCpuUsPerHandshake,
          'us',
        ),
        figure('handshake', `${row.alg} refused or failed handshakes`, row.failures, 'count', { op: '<=', value: 0 }),
      ]);
      return { detail: r, figures };
    },
  },
  {
    name: 'idle',
    about:
      'one spearlet child process holding 10,000 idle authenticated connections heartbeating every second; the same traffic against a minimal hand-written server (the floor)',
    async run({ quick }) {
      const opts = quick ? { connections: 500, settleMs: 500, sampleMs: 1000 } : {};
      const r = await runIdleBench(opts);
      const floor = await runIdleBench({ ...opts, server: 'floor' });
      const floorNote = floor.dropped > 0 ? `, ${floor.dropped} dropped` : '';
      return {
        detail: { ...r, floor },
        figures: [
          figure('idle', `connections dropped (of ${r.connections})`, r.dropped, 'conns', { op: '<=', value: 0 }),
          figure('idle', 'spearlet RSS', r.rssMb, 'MiB', { op: '<=', value: 150 }),
          figure('idle', 'spearlet CPU', r.cpuCores, 'cores', { op: '<=', value: 0.15 }),
          figure('idle', 'spearlet CPU per PONG', r.cpuUsPerFrame, 'us'),
          figure('idle', `floor CPU (hand-written server, same traffic${floorNote})`, floor.cpuCores, 'cores'),
          figure('idle', 'floor CPU per PONG', floor.cpuUsPerFrame, 'us'),
          figure('idle', 'floor RSS', floor.rssMb, 'MiB'),
          figure('idle', 'RSS per connection', r.rssPerConnKb, 'KiB'),
        ],
      };
    },
  },
  {
    name: 'discovery',
    about: 'time for a newly registered spearlet to be seen by 100 ConsulResolver watchers (dev registry)',
    async run({ quick }) {
      const r = await runDiscoveryBench(quick ? { watchers: 20, rounds: 2 } : {});
      return {
        detail: r,
        figures: [
          figure('discovery', `seen by ${r.watchers} watchers p50`, r.p50Ms, 'ms'),
          figure('discovery', `seen by ${r.watchers} watchers p99`, r.p99Ms, 'ms', { op: '<', value: 200 }),
          figure('discovery', 'watchers that missed it', r.missed, 'count', { op: '<=', value: 0 }),
        ],
      };
    },
  },
  {
    name: 'failover',
    about: 'detection of a SIGKILLed / SIGSTOPped spearlet child process by a MeshClient',
    async run({ quick }) {
      const r = await runFailoverBench(quick ? { killRounds: 1, stopRounds: 1, heartbeatMs: 200 } : {});
      return {
        detail: r,
        figures: r.rows.map((row) =>
          figure(
            'failover',
            `${row.signal} detection, worst of ${row.rounds} (median ${row.medianMs} ms)`,
            row.maxMs,
            'ms',
            { op: '<', value: row.limitMs },
          ),
        ),
      };
    },
  },
  {
    name: 'registry',
    about: 'dev registry: blocking watchers (raw HTTP, in a worker thread) all seeing one change',
    async run({ quick }) {
      const r = await runRegistryBench(quick ? { watchers: 100, rounds: 1 } : {});
      const worst = Math.max(...r.rounds.map((x) => x.allSeenMs));
      return {
        detail: r,
        figures: [figure('registry', `${r.watchers} raw watchers, all seen (worst round)`, worst, 'ms')],
      };
    },
  },
  cliStartupSuite,
];

/**
 * `client U+S, server U+S us user+sys; C/S requests per write`: user and system CPU per request of each process, and the
 * requests each write system call of the client and of the server carried (child-process runs only).
 */
function cpuSplit(c: CpuPerRequest | undefined): string {
  if (c === undefined) return 'no CPU figures';
  const perWrite =
    c.requestsPerClientWrite === null || c.requestsPerServerWrite === null
      ? ''
      : `; ${c.requestsPerClientWrite}/${c.requestsPerServerWrite} requests per write`;
  return `client ${c.clientUserUs}+${c.clientSystemUs}, server ${c.serverUserUs}+${c.serverSystemUs} us user+sys${perWrite}`;
}
