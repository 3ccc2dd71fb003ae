// MeshClient + spearlet against a raw framed-TCP echo, same payload, same run: throughput and serial p50 ratios.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MeshClient } from '../src/agent/mesh-client.ts';
import { mintToken } from '../src/auth/mint.ts';
import { Spearlet } from '../src/spearlet/spearlet.ts';
import { RawEchoClient, startMinimalMeshServer, startRawEchoServer } from './raw-echo.ts';
import { throughput } from './lib/measure.ts';

export interface MeshBenchOptions {
  readonly payloadBytes?: number;
  readonly inFlight?: number;
  readonly durationMs?: number;
  readonly warmupMs?: number;
  /** Sequential requests for the p50. */
  readonly serialRequests?: number;
  /**
   * Each round measures raw, mesh and client-only back to back; the result is the median over rounds, so drift in
   * machine load (other processes) hits all three alike.
   */
  readonly rounds?: number;
  /**
   * Run the servers in child processes (default false: in this process, so both sides share one thread and the
   * ratio compares the total CPU cost per request; on a loaded machine cross-process numbers mostly measure the
   * scheduler).
   */
  readonly separateProcesses?: boolean;
}

export interface MeshBenchSide {
  readonly opsPerSec: number;
  readonly serialP50Us: number;
}

export interface MeshBenchResult {
  readonly payloadBytes: number;
  readonly inFlight: number;
  readonly rounds: number;
  readonly raw: MeshBenchSide;
  readonly mesh: MeshBenchSide;
  /** MeshClient against a minimal mesh server (no auth, handlers or metrics): the client's share of the cost. */
  readonly clientOnly: MeshBenchSide;
  /** mesh / raw throughput; the target is >= 0.9. */
  readonly throughputRatio: number;
  /** mesh / raw serial p50 latency; the target is <= 1.2. */
  readonly p50Ratio: number;
  readonly clientOnlyThroughputRatio: number;
  readonly clientOnlyP50Ratio: number;
}

const SERVER = fileURLToPath(new URL('./mesh-echo-server.ts', import.meta.url));

async function spawnServer(
  mode: 'raw' | 'mesh' | 'minimal',
  env: NodeJS.ProcessEnv,
): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER, mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const m = /^port=(\d+)$/.exec(line);
      if (m?.[1] !== undefined) resolve(Number(m[1]));
    });
    child.once('exit', (code) => {
      reject(new Error(`${mode} server exited with ${code}`));
    });
  });
  return { port, child };
}

/** Median latency of `n` requests sent one after another, in microseconds. */
async function serialP50Us(send: () => Promise<unknown>, n: number): Promise<number> {
  const samples = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await send();
    samples[i] = performance.now() - t0;
  }
  samples.sort();
  return Math.round((samples[Math.floor(n / 2)] ?? 0) * 100_000) / 100;
}

async function side(send: () => Promise<unknown>, o: Required<MeshBenchOptions>): Promise<MeshBenchSide> {
  await throughput(send, o.inFlight, o.warmupMs);
  const opsPerSec = await throughput(send, o.inFlight, o.durationMs);
  await serialP50Us(send, Math.ceil(o.serialRequests / 4));
  return { opsPerSec: Math.round(opsPerSec), serialP50Us: await serialP50Us(send, o.serialRequests) };
}

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

interface Server {
  readonly port: number;
  stop(): Promise<void>;
}

async function startServer(mode: 'raw' | 'mesh' | 'minimal', secret: string, separate: boolean): Promise<Server> {
  if (separate) {
    const { port, child } = await spawnServer(mode, { BENCH_SECRET: secret });
    return {
      port,
      stop: () => {
        child.kill('SIGKILL');
        return Promise.resolve();
      },
    };
  }
  if (mode === 'raw' || mode === 'minimal') {
    const server = mode === 'raw' ? await startRawEchoServer() : await startMinimalMeshServer();
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    return {
      port: address.port,
      stop: () =>
        new Promise<void>((resolve) =>
          server.close(() => {
            resolve();
          }),
        ),
    };
  }
  const spearlet = new Spearlet({
    id: 'bench',
    listen: { host: '127.0.0.1', port: 0 },
    auth: { secret: Buffer.from(secret, 'utf8'), issuer: 'bench', audience: 'spear-mesh' },
    consul: null,
  });
  await spearlet.start();
  return { port: spearlet.tcpAddress?.port ?? 0, stop: () => spearlet.close() };
}

export async function runMeshBench(options: MeshBenchOptions = {}): Promise<MeshBenchResult> {
  const o: Required<MeshBenchOptions> = {
    payloadBytes: options.payloadBytes ?? 256,
    inFlight: options.inFlight ?? 16,
    durationMs: options.durationMs ?? 1000,
    warmupMs: options.warmupMs ?? 300,
    serialRequests: options.serialRequests ?? 3000,
    rounds: options.rounds ?? 5,
    separateProcesses: options.separateProcesses ?? false,
  };
  const payload = randomBytes(o.payloadBytes);
  const secret = randomBytes(32).toString('hex');
  const raw = await startServer('raw', secret, o.separateProcesses);
  const mesh = await startServer('mesh', secret, o.separateProcesses);
  const minimal = await startServer('minimal', secret, o.separateProcesses);
  try {
    const rawClient = await RawEchoClient.connect(raw.port);
    const token = await mintToken({
      secret: Buffer.from(secret, 'utf8'),
      sub: 'bench',
      iss: 'bench',
      aud: 'spear-mesh',
      expiresInSec: 3600,
    });
    const client = await MeshClient.connect({ endpoints: [`127.0.0.1:${mesh.port}`], token, closeGraceMs: 0 });
    const bare = await MeshClient.connect({ endpoints: [`127.0.0.1:${minimal.port}`], token, closeGraceMs: 0 });
    const rounds: { raw: MeshBenchSide; mesh: MeshBenchSide; client: MeshBenchSide }[] = [];
    for (let i = 0; i < o.rounds; i++) {
      rounds.push({
        raw: await side(() => rawClient.request(payload), o),
        mesh: await side(() => client.request('echo', payload), o),
        client: await side(() => bare.request('echo', payload), o),
      });
    }
    rawClient.close();
    await client.close();
    await bare.close();
    const median = (pick: (r: (typeof rounds)[number]) => MeshBenchSide): MeshBenchSide => ({
      opsPerSec: medianOf(rounds.map((r) => pick(r).opsPerSec)),
      serialP50Us: medianOf(rounds.map((r) => pick(r).serialP50Us)),
    });
    const rawSide = median((r) => r.raw);
    const meshSide = median((r) => r.mesh);
    const clientOnly = median((r) => r.client);
    const ratio = (a: number, b: number): number => Math.round((a / b) * 1000) / 1000;
    return {
      payloadBytes: o.payloadBytes,
      inFlight: o.inFlight,
      rounds: o.rounds,
      raw: rawSide,
      mesh: meshSide,
      clientOnly,
      throughputRatio: ratio(meshSide.opsPerSec, rawSide.opsPerSec),
      p50Ratio: ratio(meshSide.serialP50Us, rawSide.serialP50Us),
      clientOnlyThroughputRatio: ratio(clientOnly.opsPerSec, rawSide.opsPerSec),
      clientOnlyP50Ratio: ratio(clientOnly.serialP50Us, rawSide.serialP50Us),
    };
  } finally {
    await raw.stop();
    await mesh.stop();
    await minimal.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await runMeshBench({ separateProcesses: process.argv.includes('--separate') });
  const line = (name: string, s: MeshBenchSide): string =>
    `${name.padEnd(7)} ${String(s.opsPerSec).padStart(8)} req/s with ${r.inFlight} in flight   serial p50 ${s.serialP50Us} us`;
  process.stdout.write(
    [
      `mesh-echo: ${r.payloadBytes} B payload, one connection, median of ${r.rounds} rounds${process.argv.includes('--separate') ? ', servers in child processes' : ', servers in this process'}`,
      line('raw', r.raw),
      line('mesh', r.mesh),
      line('client', r.clientOnly),
      `mesh (MeshClient + spearlet) / raw: throughput ratio ${r.throughputRatio} (target >= 0.9), p50 ratio ${r.p50Ratio} (target <= 1.2)`,
      `client only (MeshClient + minimal mesh server) / raw: throughput ratio ${r.clientOnlyThroughputRatio}, p50 ratio ${r.clientOnlyP50Ratio}`,
      '',
    ].join('\n'),
  );
}
