// Script checks (Consul's CheckMonitor): run the check's Args directly (no shell) in a clean environment, in their
// own process group; exit 0 is passing, 1 warning, anything else critical; combined stdout and stderr, of which
// the last OutputMaxSize bytes are kept; on Timeout the whole group is killed and the check goes critical.
import { spawn, type ChildProcess } from 'node:child_process';
import { formatGoDuration } from './duration.ts';
import type { ProbeResult } from './probes.ts';

/** CheckMonitor's default when the check sets no Timeout. */
export const DEFAULT_SCRIPT_TIMEOUT_MS = 30_000;

/** The environment a script check gets: PATH to find its command, nothing of the registry's own. */
function cleanEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' };
}

/** Keeps the last `max` bytes written, and counts all of them (Consul's circbuf). */
class TailBuffer {
  readonly #max: number;
  #chunks: Buffer[] = [];
  #held = 0;
  total = 0;
  constructor(max: number) {
    this.#max = max;
  }
  write(chunk: Buffer): void {
    this.total += chunk.length;
    this.#chunks.push(chunk);
    this.#held += chunk.length;
    while (this.#chunks.length > 1 && this.#held - (this.#chunks[0]?.length ?? 0) >= this.#max) {
      this.#held -= this.#chunks.shift()?.length ?? 0;
    }
  }
  /** The kept output, with Consul's "Captured N of M bytes" preface when some was dropped. */
  text(): string {
    const all = Buffer.concat(this.#chunks);
    const kept = all.subarray(Math.max(0, all.length - this.#max));
    const s = kept.toString('utf8');
    return this.total > kept.length ? `Captured ${kept.length} of ${this.total} bytes\n...\n${s}` : s;
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/** Runs script checks and owns their processes: close() kills every one still running. */
export class ScriptRunner {
  readonly #running = new Set<ChildProcess>();
  #closed = false;

  get running(): number {
    return this.#running.size;
  }

  run(args: readonly string[], timeoutMs: number, outputMax: number): Promise<ProbeResult> {
    return new Promise((resolve) => {
      const [cmd, ...rest] = args;
      if (this.#closed || cmd === undefined) {
        resolve({ status: 'critical', output: 'check was stopped' });
        return;
      }
      const out = new TailBuffer(outputMax);
      let child: ChildProcess;
      try {
        // detached: its own process group, so a timeout or close kills everything it started.
        child = spawn(cmd, rest, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      } catch (err) {
        resolve({ status: 'critical', output: err instanceof Error ? err.message : String(err) });
        return;
      }
      this.#running.add(child);
      child.stdout?.on('data', (c: Buffer) => {
        out.write(c);
      });
      child.stderr?.on('data', (c: Buffer) => {
        out.write(c);
      });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup(child);
      }, timeoutMs);
      timer.unref();
      let settled = false;
      const finish = (r: ProbeResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#running.delete(child);
        resolve(r);
      };
      child.once('error', (err) => {
        finish({ status: 'critical', output: err.message });
      });
      child.once('close', (code) => {
        if (timedOut) {
          const output = out.text();
          const msg = `Timed out (${formatGoDuration(timeoutMs * 1e6)}) running check`;
          finish({ status: 'critical', output: output === '' ? msg : `${msg}\n\n${output}` });
          return;
        }
        finish({ status: code === 0 ? 'passing' : code === 1 ? 'warning' : 'critical', output: out.text() });
      });
    });
  }

  /** Kills every running script's process group. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const child of this.#running) killGroup(child);
  }
}
