// Test launchers for the dev registry: in-process (with an optional manual clock) or as a `spear-mesh registry` child.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { startDevRegistry, type DevRegistry, type DevRegistryOptions } from '../../src/devregistry/index.ts';
import { cliArgs } from './cli.ts';
import { reapOnExit } from './reap.ts';

export { ManualClock } from '../../src/devregistry/index.ts';
export type { DevRegistry, DevRegistryOptions };

/** An in-process registry on an ephemeral port: `await using reg = await startTestRegistry()`. */
export function startTestRegistry(options: DevRegistryOptions = {}): Promise<DevRegistry> {
  return startDevRegistry({ port: 0, ...options });
}

export interface RegistryChild {
  readonly url: string;
  readonly child: ChildProcess;
  /** Sends the signal (SIGTERM by default) and resolves with the exit code once the child is gone. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `spear-mesh registry --listen 127.0.0.1:0 [args]` and waits for its "registry listening on" line. */
export function spawnRegistry(args: readonly string[] = [], timeoutMs = 30_000): Promise<RegistryChild> {
  const child = spawn(process.execPath, cliArgs(['registry', '--listen', '127.0.0.1:0', ...args]), {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  reapOnExit(child);
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else
      child.once('exit', (code) => {
        resolve(code);
      });
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    if (stderr.length < 16_384) stderr += c.toString();
  });
  const kill = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => {
      void kill('SIGKILL');
      reject(new Error(`registry did not start within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    lines.on('line', (line) => {
      const m = /^registry listening on (http:\/\/\S+)$/.exec(line);
      if (m?.[1] === undefined) return;
      clearTimeout(timer);
      resolve({ url: m[1], child, kill });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`registry exited with ${code} before listening: ${stderr}`));
    });
  });
}
