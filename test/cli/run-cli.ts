// Runs the spear-mesh command as a real child process (one process per command, as users run it).
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { cliArgs } from '../helpers/cli.ts';
import { reapOnExit } from '../helpers/reap.ts';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `spear-mesh ...args` to completion. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cliArgs(args), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    reapOnExit(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`spear-mesh ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface LiveCli {
  child: ChildProcessByStdio<null, Readable, Readable>;
  lines: string[];
  /** Resolves with the first stdout line (already seen or future) matching `re`. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a long-running command and follows its stdout line by line. */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): LiveCli {
  const child = spawn(process.execPath, cliArgs(args), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  reapOnExit(child);
  const lines: string[] = [];
  const waiters = new Set<(line: string) => void>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    for (const w of [...waiters]) w(line);
  });
  child.stderr.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
    });
  });
  const waitForLine = (re: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> =>
    new Promise((resolve, reject) => {
      for (const line of lines) {
        const m = re.exec(line);
        if (m) {
          resolve(m);
          return;
        }
      }
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no line matching ${re} within ${timeoutMs} ms; saw:\n${lines.join('\n')}`));
      }, timeoutMs);
      const check = (line: string): void => {
        const m = re.exec(line);
        if (m) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(m);
        }
      };
      waiters.add(check);
      void exited.then(() => {
        if (waiters.has(check)) {
          clearTimeout(timer);
          waiters.delete(check);
          reject(new Error(`process exited before a line matching ${re}; saw:\n${lines.join('\n')}`));
        }
      });
    });
  return { child, lines, waitForLine, exited };
}
