// Discovery latency: a new spearlet registers in the dev registry; how long until each of N ConsulResolver watchers
// (one Consul client each, like N agents) reports it.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startDevRegistry } from '../src/devregistry/index.ts';
import { ConsulResolver } from '../src/discovery/consul-resolver.ts';
import { createConsulClient, type ConsulClient } from '../src/registry/consul-client.ts';
import { quantile, round, waitUntil } from './lib/measure.ts';

export interface DiscoveryBenchOptions {
  readonly watchers?: number;
  /** Spearlets registered one after another; every watcher times each of them. */
  readonly rounds?: number;
  /** Pause between registrations (more than the resolvers' 500 ms rate limit, so it does not add to the figure). */
  readonly gapMs?: number;
  /** Run the dev registry in a child process, as a Consul agent is its own process (default true). */
  readonly registryInChild?: boolean;
}

export interface DiscoveryBenchResult {
  readonly arrangement: string;
  readonly watchers: number;
  readonly rounds: number;
  readonly samples: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Watchers that had not seen a registration after 10 s. */
  readonly missed: number;
}

const BIN = fileURLToPath(new URL('../bin/spear-mesh.js', import.meta.url));

/** `spear-mesh registry` in a child process; resolves once it prints its URL. */
async function spawnRegistry(): Promise<{ url: string; close(): Promise<void> }> {
  const child = spawn(process.execPath, [BIN, 'registry', '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, SPEAR_LOG_LEVEL: 'error' },
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const m = /^registry listening on (http:\/\/\S+)$/.exec(line);
      if (m?.[1] !== undefined) resolve(m[1]);
    });
    child.once('exit', (code) => {
      reject(new Error(`bench: registry child exited with ${String(code)}`));
    });
  });
  return {
    url,
    close: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export async function runDiscoveryBench(options: DiscoveryBenchOptions = {}): Promise<DiscoveryBenchResult> {
  const count = options.watchers ?? 100;
  const rounds = options.rounds ?? 10;
  const gapMs = options.gapMs ?? 600;
  const inChild = options.registryInChild ?? true;
  const reg = inChild ? await spawnRegistry() : await startDevRegistry({ port: 0 });
  const clients: ConsulClient[] = [];
  const resolvers: ConsulResolver[] = [];
  const latencies: number[] = [];
  let missed = 0;
  try {
    let target = '';
    let t0 = 0;
    let seen = 0;
    for (let i = 0; i < count; i++) {
      const consul = createConsulClient({ addr: reg.url }, {});
      const resolver = new ConsulResolver({ consul, service: 'spearlet' });
      let last = '';
      resolver.on('update', (eps) => {
        if (target === '' || last === target || !eps.some((e) => e.id === target)) return;
        last = target;
        latencies.push(performance.now() - t0);
        seen++;
      });
      clients.push(consul);
      resolvers.push(resolver);
      resolver.start();
    }
    await waitUntil(() => resolvers.every((r) => r.state === 'ready'), 30_000, 'every resolver ready');
    // Let every watcher's first blocking query reach the registry.
    await new Promise((r) => setTimeout(r, 500));
    for (let round = 0; round < rounds; round++) {
      const id = `bench-${round}`;
      const body = JSON.stringify({
        ID: `spearlet-${id}`,
        Name: 'spearlet',
        Address: '127.0.0.1',
        Port: 20_000 + round,
        Meta: { spearlet_id: id },
      });
      seen = 0;
      target = id;
      t0 = performance.now();
      const res = await fetch(`${reg.url}/v1/agent/service/register`, { method: 'PUT', body });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`bench: register failed with ${res.status}`);
      try {
        await waitUntil(() => seen >= count, 10_000, `${count} watchers to see ${id}`, 2);
      } catch {
        missed += count - seen;
      }
      await new Promise((r) => setTimeout(r, gapMs));
    }
    const sorted = latencies.sort((a, b) => a - b);
    return {
      arrangement: `dev registry ${inChild ? 'in a child process' : 'in this process'}, watchers in this process`,
      watchers: count,
      rounds,
      samples: sorted.length,
      p50Ms: round(quantile(sorted, 0.5), 2),
      p99Ms: round(quantile(sorted, 0.99), 2),
      maxMs: round(sorted[sorted.length - 1] ?? NaN, 2),
      missed,
    };
  } finally {
    await Promise.all(resolvers.map((r) => r.close()));
    for (const c of clients) c.close();
    await reg.close();
  }
}
