// 1,000 blocking watchers on one service of the dev registry: time until every one has seen a change, and heap
// before, during and after the watchers disconnect (several rounds, so growth would show).
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { startDevRegistry, type DevRegistry } from '../src/devregistry/index.ts';

export interface RegistryBenchOptions {
  readonly watchers?: number;
  readonly rounds?: number;
}

export interface RegistryBenchRound {
  /**
   * The write's own round trip. Woken readers answer in the microtasks the write queues, before its response goes
   * out, so this bounds the server's whole fan-out work (all 1,000 answers handed to the sockets).
   */
  readonly serverFanoutMs: number;
  /** From the write that changes the service to the last watcher's complete response. */
  readonly allSeenMs: number;
  /** From the write to the first watcher's response. */
  readonly firstSeenMs: number;
  /** Median time to a watcher's response. */
  readonly p50Ms: number;
}

export interface RegistryBenchResult {
  readonly watchers: number;
  readonly rounds: readonly RegistryBenchRound[];
  readonly heapBaselineMb: number;
  readonly heapWithWatchersMb: number;
  /** After the first reported round's watchers disconnected (abort), with GC when --expose-gc is on. */
  readonly heapAfterFirstDisconnectMb: number;
  /** After the last round's watchers disconnected. */
  readonly heapAfterLastDisconnectMb: number;
  readonly waitingAfterDisconnect: number;
  readonly gcExposed: boolean;
}

const mb = (n: number): number => Math.round((n / 1024 / 1024) * 10) / 10;

async function heap(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
  }
  return process.memoryUsage().heapUsed;
}

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('bench: timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function put(reg: DevRegistry, path: string, body?: unknown): Promise<void> {
  const res = await fetch(`${reg.url}${path}`, {
    method: 'PUT',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`bench: PUT ${path}: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

async function currentIndex(reg: DevRegistry): Promise<string> {
  const res = await fetch(`${reg.url}/v1/health/service/bench`);
  await res.arrayBuffer();
  return res.headers.get('x-consul-index') ?? '1';
}

/**
 * The watchers live in a worker thread with their own event loop, as real watchers live in other processes; the
 * registry keeps this thread. Times cross threads as epoch milliseconds (timeOrigin + now).
 */
const WATCHER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { Agent, request } = require('node:http');
const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 100000 });
let current = [];
parentPort.on('message', (m) => {
  if (m.cmd === 'watch') {
    current = [];
    const done = [];
    for (let i = 0; i < m.count; i++) {
      const ac = new AbortController();
      current.push(ac);
      done.push(new Promise((resolve) => {
        const req = request(m.url, { agent, signal: ac.signal }, (res) => {
          res.on('data', () => {});
          res.on('end', () => resolve(performance.timeOrigin + performance.now()));
          res.on('error', () => resolve(undefined));
        });
        req.on('error', () => resolve(undefined));
        req.end();
      }));
    }
    Promise.all(done).then((times) => parentPort.postMessage({ cmd: 'done', times }));
  } else if (m.cmd === 'abort') {
    for (const ac of current) ac.abort();
  } else if (m.cmd === 'exit') {
    agent.destroy();
    process.exit(0);
  }
});
`;

class WatcherThread {
  readonly #worker = new Worker(WATCHER_SOURCE, { eval: true });

  /** Starts `count` blocking GETs; the promise settles when all have ended (answered or aborted). */
  watch(url: string, count: number): Promise<(number | undefined)[]> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: { cmd: string; times: (number | undefined)[] }): void => {
        if (m.cmd !== 'done') return;
        this.#worker.off('message', onMessage);
        this.#worker.off('error', reject);
        resolve(m.times);
      };
      this.#worker.on('message', onMessage);
      this.#worker.once('error', reject);
      this.#worker.postMessage({ cmd: 'watch', url, count });
    });
  }

  abort(): void {
    this.#worker.postMessage({ cmd: 'abort' });
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}

const epochNow = (): number => performance.timeOrigin + performance.now();

export async function runRegistryBench(options: RegistryBenchOptions = {}): Promise<RegistryBenchResult> {
  const count = options.watchers ?? 1000;
  const roundsWanted = options.rounds ?? 3;
  const reg = await startDevRegistry({ port: 0 });
  const thread = new WatcherThread();
  const url = (index: string): string => `${reg.url}/v1/health/service/bench?index=${index}&wait=60s`;
  try {
    await put(reg, '/v1/agent/service/register', {
      Name: 'bench',
      Check: { CheckID: 'bench:ttl', TTL: '1h', Status: 'passing' },
    });
    const heapBaseline = await heap();
    let heapWith = 0;
    let heapFirst = 0;
    let heapLast = 0;
    const rounds: RegistryBenchRound[] = [];
    // Round 0 warms the JIT and the sockets and is not reported.
    for (let round = 0; round <= roundsWanted; round++) {
      // Phase 1: all watchers see one change.
      let pending = thread.watch(url(await currentIndex(reg)), count);
      await until(() => reg.waiting >= count, 60_000);
      if (round === 1) heapWith = await heap();
      const t0 = epochNow();
      await put(reg, `/v1/agent/check/${round % 2 === 0 ? 'fail' : 'pass'}/bench:ttl`);
      const fanout = epochNow() - t0;
      const times = (await pending).filter((x): x is number => x !== undefined);
      if (times.length !== count) throw new Error(`bench: only ${times.length} of ${count} watchers answered`);
      const lat = times.map((x) => x - t0).sort((a, b) => a - b);
      if (round > 0) {
        rounds.push({
          serverFanoutMs: Math.round(fanout * 10) / 10,
          allSeenMs: Math.round((lat[lat.length - 1] ?? 0) * 10) / 10,
          firstSeenMs: Math.round((lat[0] ?? 0) * 10) / 10,
          p50Ms: Math.round((lat[Math.floor(lat.length / 2)] ?? 0) * 10) / 10,
        });
      }
      // Phase 2: a fresh set blocks, then every client goes away.
      pending = thread.watch(url(await currentIndex(reg)), count);
      await until(() => reg.waiting >= count, 60_000);
      thread.abort();
      await pending;
      await until(() => reg.waiting === 0, 60_000);
      if (round === 1) heapFirst = await heap();
      heapLast = await heap();
    }
    return {
      watchers: count,
      rounds,
      heapBaselineMb: mb(heapBaseline),
      heapWithWatchersMb: mb(heapWith),
      heapAfterFirstDisconnectMb: mb(heapFirst),
      heapAfterLastDisconnectMb: mb(heapLast),
      waitingAfterDisconnect: reg.waiting,
      gcExposed: typeof (globalThis as { gc?: unknown }).gc === 'function',
    };
  } finally {
    await thread.close();
    await reg.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await runRegistryBench({ rounds: Number(process.env.ROUNDS ?? 3) });
  process.stdout.write(
    `registry-watchers: ${r.watchers} blocking watchers on one service (watchers in a worker thread)\n`,
  );
  r.rounds.forEach((x, i) => {
    process.stdout.write(
      `  round ${i + 1}: all seen the change in ${x.allSeenMs} ms (first ${x.firstSeenMs} ms, p50 ${x.p50Ms} ms; server fan-out ${x.serverFanoutMs} ms)\n`,
    );
  });
  process.stdout.write(
    `  heap: baseline ${r.heapBaselineMb} MB, with watchers ${r.heapWithWatchersMb} MB, after disconnect ${r.heapAfterFirstDisconnectMb} MB (round 1) / ${r.heapAfterLastDisconnectMb} MB (last round)${r.gcExposed ? '' : ' [run with --expose-gc for stable heap figures]'}\n`,
  );
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
