import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { tasksRoutes } from '../../src/admin/tasks-routes.ts';
import { run, type TaskCommandIo } from '../../src/cli/commands/task.ts';
import { LEGACY_AGENT, PYTHON, inState, startTaskSpearlet, waitForTask } from './harness.ts';

async function adminUrl(t: TestContext) {
  const ts = await startTaskSpearlet(t);
  const app = Fastify({ logger: false });
  await app.register(tasksRoutes(ts.runtime));
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return { ...ts, url: `http://127.0.0.1:${address.port}` };
}

function io(env: NodeJS.ProcessEnv = {}): TaskCommandIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, env, stdout: (s) => out.push(s), stderr: (s) => err.push(s) };
}

describe('spear-mesh task', () => {
  it('start, list, invoke and stop through the admin API', async (t) => {
    const { url, runtime } = await adminUrl(t);
    const started = io();
    assert.equal(
      await run(
        ['start', '--admin', url, '--id', 'cli-py', '--restart', 'on-failure', '--', PYTHON, LEGACY_AGENT],
        started,
      ),
      0,
      started.err.join(''),
    );
    assert.deepEqual(started.out, ['cli-py\n']);
    await waitForTask(runtime, 'cli-py', inState('connected'));

    const listed = io();
    assert.equal(await run(['list', '--admin', url], listed), 0);
    const [header, row] = listed.out.join('').trimEnd().split('\n');
    assert.match(header ?? '', /^ID\s+STATE\s+PROTOCOL\s+PID\s+RESTARTS\s+COMMAND$/);
    assert.match(row ?? '', /^cli-py\s+connected\s+legacy\s+\d+\s+0\s+\/usr\/bin\/python3 .*agent\.py$/);
    const listedJson = io();
    assert.equal(await run(['list', '--json'], { ...listedJson, env: { SPEAR_ADMIN_URL: url } }), 0);
    const parsed = JSON.parse(listedJson.out.join('')) as { tasks: { id: string }[] };
    assert.deepEqual(
      parsed.tasks.map((x) => x.id),
      ['cli-py'],
    );

    const invoked = io();
    assert.equal(
      await run(['invoke', '--admin', url, 'cli-py', '--method', 'handle', '--params', 'from cli'], invoked),
      0,
    );
    assert.deepEqual(invoked.out, ['legacy:from cli\n']);
    const failed = io();
    assert.equal(await run(['invoke', '--admin', url, 'cli-py', '--method', 'missing'], failed), 1);
    assert.match(failed.err.join(''), /HANDLER_ERROR: .*code 2: method not found/);

    const stopped = io();
    assert.equal(await run(['stop', '--admin', url, 'cli-py', '--json'], stopped), 0);
    const info = JSON.parse(stopped.out.join('')) as { state: string; exitCode: number };
    assert.deepEqual([info.state, info.exitCode], ['exited', 0]);
    const gone = io();
    assert.equal(await run(['stop', '--admin', url, 'nope'], gone), 1);
    assert.match(gone.err.join(''), /TASK_NOT_FOUND/);
  });

  it('--help, bad options and an unreachable admin API', async () => {
    const help = io();
    assert.equal(await run(['--help'], help), 0);
    assert.match(help.out.join(''), /Usage: spear-mesh task <subcommand>/);
    await assert.rejects(run(['list'], io()), { code: 'CONFIG_INVALID' });
    await assert.rejects(run(['start', '--admin', 'http://127.0.0.1:1'], io()), { code: 'CONFIG_INVALID' });
    await assert.rejects(run(['frobnicate', '--admin', 'http://127.0.0.1:1'], io()), { code: 'CONFIG_INVALID' });
    await assert.rejects(run(['list', '--admin', 'http://127.0.0.1:1', '--bogus'], io()), {
      code: 'CONFIG_INVALID',
    });
    const down = io();
    assert.equal(await run(['list', '--admin', '127.0.0.1:1'], down), 1);
    assert.match(down.err.join(''), /ADMIN_UNREACHABLE/);
  });
});
