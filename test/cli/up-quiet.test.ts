// `spear-mesh up` writes no log lines into its live view: not even when one of its spearlets dies under the demo
// agent's load (the agent then failed over and, before, logged a JSON warning per reconnect attempt on stderr).
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { cliArgs } from '../helpers/cli.ts';
import { reapOnExit } from '../helpers/reap.ts';

it('up keeps stderr empty while a spearlet is killed under load', async (t) => {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.SPEAR_LOG_LEVEL;
  const up = spawn(
    process.execPath,
    cliArgs([
      'up',
      '--registry-port',
      '0',
      '--no-dashboard',
      '--spearlets',
      '2',
      '--rate',
      '40',
      '--interval-ms',
      '250',
    ]),
    { stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  reapOnExit(up);
  const exited = new Promise<number | null>((resolve) => up.once('exit', resolve));
  t.after(async () => {
    if (up.exitCode === null && up.signalCode === null) up.kill('SIGKILL');
    await exited;
  });
  let stderr = '';
  up.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: up.stdout }).on('line', (line) => {
    lines.push(line);
    for (const w of [...waiters]) w();
  });
  const waitFor = (test: () => boolean, what: string, timeoutMs = 60_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`));
      }, timeoutMs);
      const check = (): void => {
        if (!test()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    });
  await waitFor(() => lines.some((l) => /spearlets=2\/2 passing .* sent=[1-9]/.test(l)), 'a healthy mesh under load');
  const { stdout } = await promisify(execFile)('pgrep', ['-P', String(up.pid), '-f', 'spearlet --id']);
  const victim = Number(stdout.split('\n')[0]);
  assert.ok(victim > 0, `a spearlet child of up: ${stdout}`);
  process.kill(victim, 'SIGKILL');
  // Eight more frames (two seconds): the agent saw the connection drop and retried it several times meanwhile.
  const seen = lines.length;
  await waitFor(() => lines.length >= seen + 8, 'eight more live-view frames');
  up.kill('SIGINT');
  assert.equal(await exited, 0, stderr);
  assert.equal(stderr, '', 'no log lines on stderr without --verbose');
});
