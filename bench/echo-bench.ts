// Echo workloads measured side by side in one run: MeshClient + spearlet against a raw framed echo (TCP and Unix
// socket, 1/16/128 in flight, 64 B and 4 KiB), and against grpc-js and Moleculer on the same payloads and in-flight
// counts. Servers run in child processes by default; every throughput cell also reports CPU per request.
import { mkdtemp, rm } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { procCpuSplit, selfCpuSplit, writeCalls, type CpuSplit } from './lib/cpu.ts';
import { closedLoop, median, quantile, ratio, round, serialLatencies, throughput } from './lib/measure.ts';
import {
  connectEchoClient,
  startEchoServer,
  startEchoServerProcess,
  type EchoClient,
  type EchoKind,
  type EchoServer,
  type EchoServerConfig,
  type EchoTransport,
} from './echo/servers.ts';

export interface EchoBenchOptions {
  readonly payloads?: readonly number[];
  readonly inFlight?: readonly number[];
  readonly transports?: readonly EchoTransport[];
  /** Length of one throughput measurement. */
  readonly durationMs?: number;
  /** Warm-up before each throughput measurement (same in-flight count). */
  readonly warmupMs?: number;
  /** Sequential requests per latency measurement. */
  readonly serialRequests?: number;
  /**
   * Rounds of interleaved slices: each round is 10 slices of durationMs/10, and each slice runs every side once in
   * rotating order. Throughput is the median slice rate; ratios are medians of slice-by-slice ratios.
   */
  readonly rounds?: number;
  /** Servers in child processes (default true; false: servers and clients share this process). */
  readonly separateProcesses?: boolean;
}

export interface ThroughputRow {
  readonly transport: EchoTransport;
  readonly payloadBytes: number;
  readonly inFlight: number;
  /** Requests per second per side (median over rounds). */
  readonly opsPerSec: Readonly<Record<string, number>>;
  /** CPU microseconds per request per side, summed over all of the side's slices. */
  readonly cpuPerRequest: Readonly<Record<string, CpuPerRequest>>;
}

/**
 * CPU time per completed request: the client from process.cpuUsage() of this process, the server from
 * /proc/<pid>/stat (utime, stime) of its child process (in process, the server's figures are 0 and the client's
 * hold both). `clientUs` = `clientUserUs` + `clientSystemUs`, the same for the server (each rounded on its own).
 */
export interface CpuPerRequest {
  readonly totalUs: number;
  readonly clientUs: number;
  readonly serverUs: number;
  readonly clientUserUs: number;
  readonly clientSystemUs: number;
  readonly serverUserUs: number;
  readonly serverSystemUs: number;
  /**
   * Requests completed per write system call of the client process and of the server's child process (from `syscw`
   * in /proc/<pid>/io): how many frames one write carries at this in-flight count. Null in process (the server's writes
   * are the client process's).
   */
  readonly requestsPerClientWrite: number | null;
  readonly requestsPerServerWrite: number | null;
}

export interface LatencyRow {
  readonly transport: EchoTransport;
  readonly payloadBytes: number;
  /** Serial (1 in flight) latency percentiles per side in microseconds (median over rounds). */
  readonly p50Us: Readonly<Record<string, number>>;
  readonly p99Us: Readonly<Record<string, number>>;
}

export interface MeshVsRawResult {
  readonly arrangement: 'in-process' | 'child-process';
  readonly rounds: number;
  /** `ratio`: mesh/raw requests/s (median of slice ratios); `cpuRatio`: mesh/raw CPU per request. */
  readonly throughput: readonly (ThroughputRow & { readonly ratio: number; readonly cpuRatio: number })[];
  readonly latency: readonly (LatencyRow & { readonly p50Ratio: number; readonly p99Ratio: number })[];
}

export interface PeerResult {
  readonly arrangement: 'in-process' | 'child-process';
  readonly rounds: number;
  readonly throughput: readonly (ThroughputRow & {
    readonly bestPeer: string;
    readonly meshVsBestPeer: number;
    readonly meshVsMoleculer: number;
    readonly meshVsGrpc: number;
  })[];
  readonly latency: readonly LatencyRow[];
}

interface ResolvedOptions {
  readonly payloads: readonly number[];
  readonly inFlight: readonly number[];
  readonly transports: readonly EchoTransport[];
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly serialRequests: number;
  readonly rounds: number;
  readonly separateProcesses: boolean;
}

function resolve(o: EchoBenchOptions): ResolvedOptions {
  return {
    payloads: o.payloads ?? [64, 4096],
    inFlight: o.inFlight ?? [1, 16, 128],
    transports: o.transports ?? ['tcp', 'unix'],
    durationMs: o.durationMs ?? 1000,
    warmupMs: o.warmupMs ?? 250,
    serialRequests: o.serialRequests ?? 2000,
    rounds: o.rounds ?? 3,
    separateProcesses: o.separateProcesses ?? true,
  };
}

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const a = s.address();
  await new Promise((r) => s.close(r));
  if (a === null || typeof a === 'string') throw new Error('no port');
  return a.port;
}

interface Side {
  readonly name: string;
  readonly server: EchoServer;
  readonly client: EchoClient;
}

async function openSides(
  kinds: readonly EchoKind[],
  transport: EchoTransport,
  dir: string,
  o: ResolvedOptions,
): Promise<Side[]> {
  const secret = randomBytes(32).toString('hex');
  const sides: Side[] = [];
  try {
    for (const kind of kinds) {
      const cfg: EchoServerConfig = {
        kind,
        transport,
        secret,
        ...(transport === 'unix' ? { socketPath: join(dir, `${kind}.sock`) } : {}),
        ...(kind === 'moleculer' ? { moleculerPorts: { server: await freePort(), client: await freePort() } } : {}),
      };
      const server = o.separateProcesses ? await startEchoServerProcess(cfg) : await startEchoServer(cfg);
      try {
        sides.push({ name: kind, server, client: await connectEchoClient(server.endpoint, secret) });
      } catch (err) {
        await server.close();
        throw err;
      }
    }
    return sides;
  } catch (err) {
    await closeSides(sides);
    throw err;
  }
}

async function closeSides(sides: readonly Side[]): Promise<void> {
  for (const s of sides) {
    await s.client.close().catch(() => undefined);
    await s.server.close().catch(() => undefined);
  }
}

/** Slices per round: `durationMs` and `serialRequests` are spread over them. */
const SLICES_PER_ROUND = 10;

/** Rotates the order of sides each round so no side always runs first (or right after a heavy one). */
function rotated<T>(list: readonly T[], by: number): T[] {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

/** CPU spent by one side over its slices: this process (the client) and the server's child process. */
interface CpuTally {
  requests: number;
  clientUserUs: number;
  clientSystemUs: number;
  serverUserUs: number;
  serverSystemUs: number;
  clientWrites: number;
  serverWrites: number;
}

const NO_CPU: CpuSplit = { userUs: 0, systemUs: 0 };

/** Runs one closed-loop slice of a side and adds its requests and CPU time to `tally`; returns requests/s. */
async function cpuSlice(
  side: Side,
  send: () => Promise<unknown>,
  inFlight: number,
  ms: number,
  tally: CpuTally,
): Promise<number> {
  const pid = side.server.pid;
  const s0 = pid === undefined ? NO_CPU : procCpuSplit(pid);
  const sw0 = pid === undefined ? 0 : writeCalls(pid);
  const c0 = selfCpuSplit();
  const cw0 = writeCalls();
  const run = await closedLoop(send, inFlight, ms);
  const cw1 = writeCalls();
  const c1 = selfCpuSplit();
  const sw1 = pid === undefined ? 0 : writeCalls(pid);
  const s1 = pid === undefined ? NO_CPU : procCpuSplit(pid);
  tally.clientWrites += cw1 - cw0;
  tally.serverWrites += sw1 - sw0;
  tally.clientUserUs += c1.userUs - c0.userUs;
  tally.clientSystemUs += c1.systemUs - c0.systemUs;
  tally.serverUserUs += s1.userUs - s0.userUs;
  tally.serverSystemUs += s1.systemUs - s0.systemUs;
  tally.requests += run.done;
  return (run.done * 1000) / run.elapsedMs;
}

function cpuFigures(t: CpuTally): CpuPerRequest {
  const n = Math.max(1, t.requests);
  const clientUs = t.clientUserUs + t.clientSystemUs;
  const serverUs = t.serverUserUs + t.serverSystemUs;
  return {
    totalUs: round((clientUs + serverUs) / n, 2),
    clientUs: round(clientUs / n, 2),
    serverUs: round(serverUs / n, 2),
    clientUserUs: round(t.clientUserUs / n, 2),
    clientSystemUs: round(t.clientSystemUs / n, 2),
    serverUserUs: round(t.serverUserUs / n, 2),
    serverSystemUs: round(t.serverSystemUs / n, 2),
    requestsPerClientWrite: t.clientWrites > 0 && t.serverWrites > 0 ? round(t.requests / t.clientWrites, 1) : null,
    requestsPerServerWrite: t.serverWrites > 0 ? round(t.requests / t.serverWrites, 1) : null,
  };
}

/**
 * Sides are measured interleaved in short slices (each slice runs every side once, in rotating order), so a burst
 * of load from other processes hits all sides alike. Throughput per side is the median of its slice rates; CPU per
 * request sums each side's slices; serial latency percentiles pool every side's samples across slices.
 */
async function measureSides(
  sides: readonly Side[],
  transport: EchoTransport,
  inFlights: readonly number[],
  o: ResolvedOptions,
): Promise<{ throughput: ThroughputRow[]; latency: LatencyRow[]; sliceRatios: Map<string, number[]> }> {
  const slices = Math.max(1, o.rounds * SLICES_PER_ROUND);
  const sliceMs = Math.max(20, o.durationMs / SLICES_PER_ROUND);
  const serialPerSlice = Math.max(10, Math.ceil(o.serialRequests / SLICES_PER_ROUND));
  const throughputRows: ThroughputRow[] = [];
  const latencyRows: LatencyRow[] = [];
  const sliceRatios = new Map<string, number[]>();
  for (const size of o.payloads) {
    const payload = randomBytes(size);
    const sends = sides.map((side) => (): Promise<unknown> => side.client.request(payload));
    for (const inFlight of inFlights) {
      for (const send of sends) await throughput(send, inFlight, o.warmupMs);
      const rates: number[][] = sides.map(() => []);
      const cpu: CpuTally[] = sides.map(() => ({
        requests: 0,
        clientUserUs: 0,
        clientSystemUs: 0,
        serverUserUs: 0,
        serverSystemUs: 0,
        clientWrites: 0,
        serverWrites: 0,
      }));
      for (let k = 0; k < slices; k++) {
        for (const i of rotated(
          sides.map((_, j) => j),
          k,
        ))
          rates[i]?.push(await cpuSlice(sides[i]!, sends[i]!, inFlight, sliceMs, cpu[i]!));
      }
      throughputRows.push({
        transport,
        payloadBytes: size,
        inFlight,
        opsPerSec: Object.fromEntries(sides.map((s, i) => [s.name, Math.round(median(rates[i] ?? []))])),
        cpuPerRequest: Object.fromEntries(sides.map((s, i) => [s.name, cpuFigures(cpu[i]!)])),
      });
      // Paired ratio of every side against the first (the baseline), slice by slice.
      sides.forEach((s, i) => {
        const pairs = (rates[i] ?? []).map((r, k) => r / (rates[0]?.[k] ?? NaN));
        sliceRatios.set(`${s.name}|${size}|${inFlight}`, pairs);
      });
    }
    const samples: number[][] = sides.map(() => []);
    for (const send of sends) await serialLatencies(send, serialPerSlice);
    for (let k = 0; k < slices; k++) {
      for (const i of rotated(
        sides.map((_, j) => j),
        k,
      ))
        samples[i]?.push(...(await serialLatencies(sends[i]!, serialPerSlice)));
    }
    const pct = (i: number, q: number): number =>
      round(quantile(Float64Array.from(samples[i] ?? []).sort(), q) * 1000, 1);
    latencyRows.push({
      transport,
      payloadBytes: size,
      p50Us: Object.fromEntries(sides.map((s, i) => [s.name, pct(i, 0.5)])),
      p99Us: Object.fromEntries(sides.map((s, i) => [s.name, pct(i, 0.99)])),
    });
  }
  return { throughput: throughputRows, latency: latencyRows, sliceRatios };
}

/** MeshClient + spearlet against the raw framed echo, for every transport, payload and in-flight count. */
export async function runMeshVsRawBench(options: EchoBenchOptions = {}): Promise<MeshVsRawResult> {
  const o = resolve(options);
  const dir = await mkdtemp(join(tmpdir(), 'spear-bench-'));
  const throughputRows: MeshVsRawResult['throughput'][number][] = [];
  const latencyRows: MeshVsRawResult['latency'][number][] = [];
  try {
    for (const transport of o.transports) {
      const sides = await openSides(['raw', 'mesh'], transport, dir, o);
      try {
        const m = await measureSides(sides, transport, o.inFlight, o);
        for (const row of m.throughput) {
          const pairs = m.sliceRatios.get(`mesh|${row.payloadBytes}|${row.inFlight}`) ?? [];
          const cpuRatio = ratio(row.cpuPerRequest.mesh?.totalUs ?? 0, row.cpuPerRequest.raw?.totalUs ?? 0);
          throughputRows.push({ ...row, ratio: round(median(pairs), 3), cpuRatio });
        }
        for (const row of m.latency) {
          latencyRows.push({
            ...row,
            p50Ratio: ratio(row.p50Us.mesh ?? 0, row.p50Us.raw ?? 0),
            p99Ratio: ratio(row.p99Us.mesh ?? 0, row.p99Us.raw ?? 0),
          });
        }
      } finally {
        await closeSides(sides);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return {
    arrangement: o.separateProcesses ? 'child-process' : 'in-process',
    rounds: o.rounds,
    throughput: throughputRows,
    latency: latencyRows,
  };
}

/**
 * Mesh, grpc-js and Moleculer (and raw for reference) on the same echo over TCP, with the same payloads and
 * in-flight counts as the mesh suite (default 1 and 16: 128 in flight adds nothing the peers can show).
 */
export async function runPeerBench(options: EchoBenchOptions = {}): Promise<PeerResult> {
  const o = resolve({ inFlight: [1, 16], ...options });
  const sides = await openSides(['raw', 'mesh', 'grpc', 'moleculer'], 'tcp', '', o);
  try {
    const m = await measureSides(sides, 'tcp', o.inFlight, {
      ...o,
      serialRequests: Math.max(50, Math.ceil(o.serialRequests / 4)),
    });
    return {
      arrangement: o.separateProcesses ? 'child-process' : 'in-process',
      rounds: o.rounds,
      throughput: m.throughput.map((row) => {
        const mesh = row.opsPerSec.mesh ?? 0;
        const grpc = row.opsPerSec.grpc ?? 0;
        const mol = row.opsPerSec.moleculer ?? 0;
        const bestPeer = grpc >= mol ? 'grpc' : 'moleculer';
        return {
          ...row,
          bestPeer,
          meshVsBestPeer: ratio(mesh, Math.max(grpc, mol)),
          meshVsMoleculer: ratio(mesh, mol),
          meshVsGrpc: ratio(mesh, grpc),
        };
      }),
      latency: m.latency,
    };
  } finally {
    await closeSides(sides);
  }
}
