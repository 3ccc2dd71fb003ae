import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { tasksRoutes } from '../../src/admin/tasks-routes.ts';
import type { TaskInfo } from '../../src/spearlet/runtime/task-runtime.ts';
import { LEGACY_AGENT, MESH_AGENT_SPEC, PYTHON, alive, inState, startTaskSpearlet, waitForTask } from './harness.ts';

async function adminApp(t: import('node:test').TestContext) {
  const ts = await startTaskSpearlet(t);
  const app = Fastify({ logger: false });
  await app.register(tasksRoutes(ts.runtime));
  await app.ready();
  t.after(() => app.close());
  return { ...ts, app };
}

describe('admin task routes', () => {
  it('start, list, get, invoke and stop a legacy task', async (t) => {
    const { app, runtime } = await adminApp(t);
    const created = await app.inject({
      method: 'POST',
      url: '/v1/tasks',
      payload: { command: PYTHON, args: [LEGACY_AGENT], id: 'py', restart: 'on-failure' },
    });
    assert.equal(created.statusCode, 201, created.body);
    const info = created.json<TaskInfo>();
    assert.equal(info.id, 'py');
    assert.equal(typeof info.pid, 'number');
    await waitForTask(runtime, 'py', inState('connected'));

    const list = await app.inject({ method: 'GET', url: '/v1/tasks' });
    assert.equal(list.statusCode, 200);
    const body = list.json<{ spearlet: string; tasks: TaskInfo[] }>();
    assert.equal(body.spearlet, 's1');
    assert.deepEqual(
      body.tasks.map((x) => [x.id, x.state, x.protocol]),
      [['py', 'connected', 'legacy']],
    );
    const one = await app.inject({ method: 'GET', url: '/v1/tasks/py' });
    assert.equal(one.json<TaskInfo>().state, 'connected');

    const invoked = await app.inject({
      method: 'POST',
      url: '/v1/tasks/py/invoke',
      payload: { method: 'handle', params: 'via admin' },
    });
    assert.equal(invoked.statusCode, 200, invoked.body);
    assert.deepEqual(invoked.json(), { taskId: 'py', result: 'legacy:via admin', encoding: 'utf8' });
    const failed = await app.inject({ method: 'POST', url: '/v1/tasks/py/invoke', payload: { method: 'nope' } });
    assert.equal(failed.statusCode, 502);
    assert.equal(failed.json<{ code: string }>().code, 'HANDLER_ERROR');

    const stopped = await app.inject({ method: 'POST', url: '/v1/tasks/py/stop' });
    assert.equal(stopped.statusCode, 200, stopped.body);
    assert.equal(stopped.json<TaskInfo>().state, 'exited');
    assert.equal(stopped.json<TaskInfo>().exitCode, 0);
    assert.equal(alive(info.pid!), false);
  });

  it('answers 404 for unknown tasks, 400 for bad bodies, 409 for a duplicate id, 422 for a command that cannot start', async (t) => {
    const { app } = await adminApp(t);
    for (const [method, url] of [
      ['GET', '/v1/tasks/ghost'],
      ['POST', '/v1/tasks/ghost/stop'],
    ] as const) {
      const res = await app.inject({ method, url });
      assert.equal(res.statusCode, 404, `${method} ${url}`);
      assert.equal(res.json<{ code: string }>().code, 'TASK_NOT_FOUND');
    }
    const ghostInvoke = await app.inject({ method: 'POST', url: '/v1/tasks/ghost/invoke', payload: { method: 'x' } });
    assert.equal(ghostInvoke.statusCode, 404);

    for (const payload of [{}, { command: '' }, { command: 'x', restart: 'always' }, { command: 'x', bogus: 1 }]) {
      const res = await app.inject({ method: 'POST', url: '/v1/tasks', payload });
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.equal(res.json<{ code: string }>().code, 'INVALID_PAYLOAD');
    }
    const missing = await app.inject({
      method: 'POST',
      url: '/v1/tasks',
      payload: { command: '/nonexistent/agent-binary' },
    });
    assert.equal(missing.statusCode, 422);
    assert.equal(missing.json<{ code: string }>().code, 'TASK_START_FAILED');

    const first = await app.inject({ method: 'POST', url: '/v1/tasks', payload: { ...MESH_AGENT_SPEC, id: 'dup' } });
    assert.equal(first.statusCode, 201);
    const second = await app.inject({ method: 'POST', url: '/v1/tasks', payload: { ...MESH_AGENT_SPEC, id: 'dup' } });
    assert.equal(second.statusCode, 409);
    const noMethod = await app.inject({ method: 'POST', url: '/v1/tasks/dup/invoke', payload: { params: 'x' } });
    assert.equal(noMethod.statusCode, 400);
  });
});
