// The process runtime through the product's own surfaces: a `spear-mesh spearlet` process, its admin
// API, and the `spear-mesh task` command starting, invoking and stopping the legacy Python example agent.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startCli, type LiveCli } from './run-cli.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { repoPath } from '../../scripts/repo-root.ts';

const AGENT = repoPath('examples/legacy-python-agent/agent.py');

describe('spear-mesh task', () => {
  let spearlet: LiveCli | undefined;
  let dir = '';
  after(async () => {
    if (spearlet !== undefined && spearlet.child.exitCode === null) {
      spearlet.child.kill('SIGTERM');
      const force = setTimeout(() => spearlet?.child.kill('SIGKILL'), 15_000);
      await spearlet.exited;
      clearTimeout(force);
    }
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('starts a legacy agent on a spearlet, invokes it, lists it and stops it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'task-cli-'));
    const secretFile = join(dir, 'secret');
    await writeFile(secretFile, randomBytes(32));
    const adminTokenFile = join(dir, 'admin-token');
    await writeFile(adminTokenFile, randomBytes(24).toString('hex'));
    spearlet = startCli([
      'spearlet',
      '--id',
      'tasks-1',
      '--no-consul',
      '--enable-tasks',
      '--admin-token-file',
      adminTokenFile,
      '--token-secret-file',
      secretFile,
      '--issuer',
      'i',
      '--audience',
      'a',
    ]);
    const admin = `http://${(await spearlet.waitForLine(/admin=(\S+)/))[1]!}`;

    const started = await runCli([
      'task',
      'start',
      '--admin',
      admin,
      '--admin-token-file',
      adminTokenFile,
      '--id',
      'py-1',
      '--',
      '/usr/bin/python3',
      AGENT,
    ]);
    assert.equal(started.code, 0, started.stderr);
    assert.equal(started.stdout.trim(), 'py-1');

    // The agent connects back on its own schedule: wait on the admin API in this process (one CLI process per step,
    // not one per poll), then invoke once through the CLI.
    await waitFor(
      async () => {
        const res = await fetch(`${admin}/v1/tasks`, {
          headers: { authorization: `Bearer ${(await readFile(adminTokenFile, 'utf8')).trim()}` },
        });
        const body = (await res.json()) as { tasks: { id: string; state: string }[] };
        return body.tasks.some((t) => t.id === 'py-1' && t.state === 'connected');
      },
      60_000,
      'the legacy agent to connect',
      50,
    );
    const invoked = await runCli([
      'task',
      'invoke',
      '--admin',
      admin,
      '--admin-token-file',
      adminTokenFile,
      'py-1',
      '--method',
      'handle',
      '--params',
      'hi',
    ]);
    assert.equal(invoked.code, 0, invoked.stderr);
    const answer = invoked.stdout.trim();
    assert.equal(answer, 'legacy:hi');

    const listed = await runCli(['task', 'list', '--admin', admin, '--admin-token-file', adminTokenFile, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const { spearlet: host, tasks } = JSON.parse(listed.stdout) as {
      spearlet: string;
      tasks: { id: string; state: string; protocol: string | null }[];
    };
    assert.equal(host, 'tasks-1');
    assert.deepEqual(
      tasks.map((t) => [t.id, t.state, t.protocol]),
      [['py-1', 'connected', 'legacy']],
    );

    const stopped = await runCli(['task', 'stop', '--admin', admin, '--admin-token-file', adminTokenFile, 'py-1']);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stdout, /py-1 exited code=0/);

    spearlet.child.kill('SIGTERM');
    assert.equal((await spearlet.exited).code, 0);
  });
});
