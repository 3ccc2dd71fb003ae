import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/util/logger.ts';
import { TaskRuntime, type TaskInfo } from '../../src/spearlet/runtime/task-runtime.ts';
import { generateSecret, secretsEqual } from '../../src/spearlet/runtime/secret.ts';
import { nodeEntryArgs } from '../../scripts/repo-root.ts';

const agent = nodeEntryArgs('test/fixtures/tree-agent.ts');
const MESH_MAGIC_U64 = Buffer.from('SPEARMS1', 'latin1').readBigUInt64LE(0);

/** A logger whose lines land in an array, with an event per line so tests wait on output, not time. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const events = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) {
        const rec = JSON.parse(l) as Record<string, unknown>;
        lines.push(rec);
        events.emit('line', rec);
      }
      cb();
    },
  });
  const logger = createLogger({ level: 'info', destination: events });
  const nextLine = (pred: (r: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
    const found = lines.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => {
      const on = (r: Record<string, unknown>) => {
        if (pred(r)) {
          events.off('line', on);
          resolve(r);
        }
      };
      events.on('line', on);
    });
  };
  return { logger, nextLine };
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitGone(pid: number, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > until) assert.fail(`process ${pid} still alive`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('task secrets', () => {
  it('are non-negative 63-bit, non-zero, never the mesh magic', () => {
    for (let i = 0; i < 1000; i++) {
      const s = generateSecret();
      assert.ok(s > 0n && s < 1n << 63n);
      assert.notEqual(s, MESH_MAGIC_U64);
    }
  });
  it('compare in constant time and correctly', () => {
    assert.equal(secretsEqual(5n, 5n), true);
    assert.equal(secretsEqual(5n, 6n), false);
  });
});

describe('TaskRuntime', () => {
  it('hands the task its environment and stops the whole process tree', async (t) => {
    const { logger, nextLine } = capturingLogger();
    const runtime = new TaskRuntime({
      spearletId: 's1',
      serviceAddr: () => '127.0.0.1:7070',
      mintTaskToken: (id) => Promise.resolve(`token-for-${id}`),
      logger,
    });
    t.after(() => runtime.close());
    const info = await runtime.start({ command: process.execPath, args: agent, id: 'task-a' });
    assert.equal(info.state, 'running');
    assert.equal(typeof info.pid, 'number');
    const line = await nextLine((r) => r.taskId === 'task-a' && typeof r.msg === 'string' && r.msg.startsWith('{'));
    const printed = JSON.parse(String(line.msg)) as { env: Record<string, string | null>; grandchild: number };
    assert.equal(printed.env.SERVICE_ADDR, '127.0.0.1:7070');
    assert.equal(printed.env.SPEAR_SPEARLET_ID, 's1');
    assert.equal(printed.env.SPEAR_TASK_ID, 'task-a');
    assert.equal(printed.env.SPEAR_TOKEN, 'token-for-task-a');
    assert.match(printed.env.SECRET ?? '', /^\d+$/);
    assert.equal(runtime.findBySecret(BigInt(printed.env.SECRET!)), 'task-a');
    assert.equal(runtime.findBySecret(BigInt(printed.env.SECRET!) + 1n), undefined);

    // It runs but never connects back: the error says so rather than that there is no such task.
    await assert.rejects(runtime.invoke('task-a', 'handle', '{}'), {
      code: 'TASK_NOT_FOUND',
      message: 'task "task-a" is on this spearlet but its agent has not connected to the spearlet',
    });

    const stopped = await runtime.stop('task-a', 2000);
    assert.equal(stopped.state, 'exited');
    assert.equal(stopped.signal, 'SIGTERM');
    assert.equal(alive(info.pid!), false);
    await waitGone(printed.grandchild);
  });

  it('kills a task that ignores SIGTERM after the grace period', async (t) => {
    const { logger, nextLine } = capturingLogger();
    const runtime = new TaskRuntime({ spearletId: 's1', serviceAddr: () => '127.0.0.1:1', logger });
    t.after(() => runtime.close());
    await runtime.start({ command: process.execPath, args: [...agent, 'ignore-term'], id: 'stubborn' });
    // The agent announces itself only after installing its SIGTERM handler.
    await nextLine((r) => r.taskId === 'stubborn' && typeof r.msg === 'string' && r.msg.startsWith('{'));
    const stopped = await runtime.stop('stubborn', 600);
    assert.equal(stopped.state, 'exited');
    assert.equal(stopped.signal, 'SIGKILL');
  });

  it('restarts a failing task with a new secret, up to maxRestarts', async (t) => {
    const runtime = new TaskRuntime({
      spearletId: 's1',
      serviceAddr: () => '127.0.0.1:1',
      restartBackoff: { initialMs: 10, maxMs: 20 },
    });
    t.after(() => runtime.close());
    const states: string[] = [];
    runtime.on('state', (i: TaskInfo) => states.push(i.state));
    const exited = once(runtime, 'exit') as Promise<[TaskInfo]>;
    await runtime.start({
      command: process.execPath,
      args: [...agent, 'fail'],
      id: 'flaky',
      restart: 'on-failure',
      maxRestarts: 2,
    });
    const [final] = await exited;
    assert.equal(final.restarts, 2);
    assert.equal(final.exitCode, 3);
    assert.equal(final.state, 'exited');
    assert.deepEqual(states, ['running', 'backoff', 'running', 'backoff', 'running', 'exited']);
  });

  it('never restarts with the never policy, and reports start failures', async (t) => {
    const runtime = new TaskRuntime({ spearletId: 's1', serviceAddr: () => '127.0.0.1:1' });
    t.after(() => runtime.close());
    const exited = once(runtime, 'exit') as Promise<[TaskInfo]>;
    await runtime.start({ command: process.execPath, args: [...agent, 'fail'], id: 'once' });
    const [final] = await exited;
    assert.equal(final.restarts, 0);
    await assert.rejects(runtime.start({ command: '/nonexistent/agent' }), { code: 'TASK_START_FAILED' });
    await assert.rejects(runtime.stop('nope'), { code: 'TASK_NOT_FOUND' });
    await assert.rejects(runtime.invoke('once', 'handle', '{}'), {
      code: 'TASK_NOT_FOUND',
      message: 'task "once" is on this spearlet but it is exited',
    });
    await assert.rejects(runtime.invoke('nope', 'handle', '{}'), { message: 'no task "nope" on this spearlet' });
  });
});
