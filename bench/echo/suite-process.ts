// Runs the mesh or peers suite in a child process (see suite-child.ts) and returns its result.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { EchoBenchOptions, MeshVsRawResult, PeerResult } from '../echo-bench.ts';
import { compiledEntry } from '../lib/compiled.ts';
import { benchRuntime } from '../lib/spearlet-process.ts';

const CHILD = fileURLToPath(new URL('./suite-child.ts', import.meta.url));
/** Started by path (not imported), so it is compiled on its own, into the same tree. */
const SERVER_CHILD = fileURLToPath(new URL('./server-child.ts', import.meta.url));

/** The suite's result from a child process running compiled JavaScript (BENCH_RUNTIME=tsx: the tsx loader). */
export async function runEchoSuiteProcess(suite: 'mesh', options: EchoBenchOptions): Promise<MeshVsRawResult>;
export async function runEchoSuiteProcess(suite: 'peers', options: EchoBenchOptions): Promise<PeerResult>;
export async function runEchoSuiteProcess(
  suite: 'mesh' | 'peers',
  options: EchoBenchOptions,
): Promise<MeshVsRawResult | PeerResult> {
  let entry = ['--import', 'tsx', CHILD];
  if (benchRuntime() === 'compiled') {
    await compiledEntry(SERVER_CHILD);
    entry = [await compiledEntry(CHILD)];
  }
  const extra = (process.env.BENCH_CLIENT_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(process.execPath, [...extra, ...entry, suite, JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let result: string | undefined;
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith('result ')) result = line.slice(7);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0 || result === undefined) throw new Error(`bench: the ${suite} suite's process exited with ${code}`);
  return JSON.parse(result) as MeshVsRawResult | PeerResult;
}
