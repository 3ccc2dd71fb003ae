// Test helper: runs test/fixtures/register-spearlet.ts as a real child process and follows its state lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { cliArgs } from '../helpers/cli.ts';
import { reapOnExit } from '../helpers/reap.ts';
import { nodeEntryArgs } from '../../scripts/repo-root.ts';

export interface StateLine {
  state: string;
  previous: string;
  at: number;
  error?: string;
}

export interface RegisteringProcess {
  readonly child: ChildProcess;
  readonly lines: StateLine[];
  /** Resolves with the first line (already seen or future) whose state is `state`. */
  waitForState(state: string, timeoutMs?: number): Promise<StateLine>;
  /** Sends `signal` (default SIGKILL) and resolves once the process has exited. Safe to call twice. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function spawnRegistering(env: {
  addr: string;
  id: string;
  ttlMs: number;
  port?: number;
  token?: string;
}): RegisteringProcess {
  const childEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    CONSUL_HTTP_ADDR: env.addr,
    SPEARLET_ID: env.id,
    SPEARLET_TTL_MS: String(env.ttlMs),
    SPEARLET_PORT: String(env.port ?? 7000),
  };
  if (env.token !== undefined) childEnv.CONSUL_HTTP_TOKEN = env.token;
  const child = spawn(process.execPath, nodeEntryArgs('test/fixtures/register-spearlet.ts'), {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  reapOnExit(child);
  const lines: StateLine[] = [];
  const waiters: { state: string; resolve: (l: StateLine) => void }[] = [];
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  createInterface({ input: child.stdout }).on('line', (text) => {
    let line: StateLine;
    try {
      line = JSON.parse(text) as StateLine;
    } catch {
      return;
    }
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.state === line.state) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  return {
    child,
    lines,
    waitForState(state, timeoutMs = 20_000) {
      const seen = lines.find((l) => l.state === state);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`child never reached ${state}; lines: ${JSON.stringify(lines)}`));
        }, timeoutMs);
        waiters.push({
          state,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** A TCP port that was free a moment ago (for "start Consul later on this port"). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => {
    s.close(() => {
      r();
    });
  });
  return port;
}

/** Polls `cond` every 10 ms until it holds; for external state only (Consul, child processes). */
export { waitFor } from '../helpers/wait-for.ts';

export interface RegistryProcess {
  readonly url: string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** `spear-mesh registry --listen 127.0.0.1:<port>` as a child process, resolved once it prints its listening line. */
export function spawnRegistryProcess(port: number, timeoutMs = 30_000): Promise<RegistryProcess> {
  const child = spawn(process.execPath, cliArgs(['registry', '--listen', `127.0.0.1:${port}`]), {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  reapOnExit(child);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void kill();
      reject(new Error('registry process did not start'));
    }, timeoutMs);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^registry listening on (http:\/\/\S+)$/.exec(line);
      if (m?.[1] === undefined) return;
      clearTimeout(timer);
      resolve({ url: m[1], kill });
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error('registry process exited before listening'));
    });
  });
}
