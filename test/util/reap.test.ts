// test/helpers/reap.ts: a test process that ends leaves none of its children running.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { waitFor } from '../helpers/wait-for.ts';
import { repoPath } from '../../scripts/repo-root.ts';

const REAP = repoPath('test/helpers/reap.ts');

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it('children registered with reapOnExit get SIGKILL when their parent exits', async () => {
  // The parent spawns a child that would run for a minute, prints its pid and exits at once.
  const parent = `
    import { spawn } from 'node:child_process';
    import { reapOnExit } from ${JSON.stringify(REAP)};
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    reapOnExit(child);
    child.once('spawn', () => { console.log(child.pid); process.exit(0); });
  `;
  const { stdout } = await promisify(execFile)(process.execPath, [
    '--import',
    'tsx',
    '--input-type=module',
    '-e',
    parent,
  ]);
  const pid = Number(stdout.trim());
  assert.ok(pid > 0, stdout);
  await waitFor(() => !alive(pid), 10_000, `child ${pid} to be gone`);
});
