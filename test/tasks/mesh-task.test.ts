import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MeshClient } from '../../src/agent/mesh-client.ts';
import { TaskRouter, invokeTask, locateTask } from '../../src/agent/task-router.ts';
import { createConsulClient } from '../../src/registry/consul-client.ts';
import { TASK_SERVICE_NAME, taskServiceId } from '../../src/spearlet/runtime/task-registration.ts';
import { startTestRegistry } from '../helpers/dev-registry.ts';
import {
  LEGACY_AGENT,
  MESH_AGENT_SPEC,
  PYTHON,
  alive,
  capturingLogger,
  clientToken,
  inState,
  printed,
  startTaskSpearlet,
  waitFor,
  waitForTask,
} from './harness.ts';

describe('mesh agents under the task runtime', () => {
  it('a TypeScript agent connects with SPEAR_TOKEN, attaches, answers, and stops on task.terminate', async (t) => {
    const { logger, nextLine } = capturingLogger();
    const { runtime } = await startTaskSpearlet(t, { logger });
    const started = await runtime.start({ ...MESH_AGENT_SPEC, id: 'ts-1' });
    const connected = await waitForTask(runtime, 'ts-1', inState('connected'));
    assert.equal(connected.protocol, 'mesh');
    await nextLine(printed('ts-1', 'mesh-agent: attached'));
    assert.equal((await runtime.invoke('ts-1', 'handle', 'hi')).toString(), 'mesh:hi');
    await assert.rejects(runtime.invoke('ts-1', 'other', ''), { code: 'METHOD_NOT_FOUND' });

    const stopped = await runtime.stop('ts-1');
    await nextLine(printed('ts-1', 'mesh-agent: terminate'));
    assert.equal(stopped.exitCode, 0);
    assert.equal(stopped.signal, null);
    assert.equal(alive(started.pid!), false, 'the process is gone after stop');
    await assert.rejects(runtime.invoke('ts-1', 'handle', 'x'), { code: 'TASK_NOT_FOUND' });
  });

  it('task.attach is refused to tokens that are not task tokens, and to a second session of the same task', async (t) => {
    const { spearlet, runtime } = await startTaskSpearlet(t);
    await runtime.start({ ...MESH_AGENT_SPEC, id: 'ts-2' });
    await waitForTask(runtime, 'ts-2', inState('connected'));
    const port = spearlet.tcpAddress?.port ?? 0;
    const plain = await MeshClient.connect({ endpoints: [`127.0.0.1:${port}`], token: await clientToken('someone') });
    t.after(() => plain.close());
    await assert.rejects(plain.request('task.attach', ''), { code: 'FORBIDDEN_METHOD' });
    const impostor = await MeshClient.connect({
      endpoints: [`127.0.0.1:${port}`],
      token: await clientToken('task:ts-2'),
    });
    t.after(() => impostor.close());
    await assert.rejects(impostor.request('task.attach', ''), { code: 'DUPLICATE_SECRET' });
    await assert.rejects(plain.request('task.invoke', '{'), { code: 'INVALID_PAYLOAD' });
    await assert.rejects(plain.request('task.invoke', JSON.stringify({ taskId: 'nope', method: 'handle' })), {
      code: 'TASK_NOT_FOUND',
    });
    const list = JSON.parse((await plain.request('task.list', '')).toString()) as {
      spearlet: string;
      tasks: { id: string; state: string }[];
    };
    assert.equal(list.spearlet, 's1');
    assert.deepEqual(
      list.tasks.map((x) => [x.id, x.state]),
      [['ts-2', 'connected']],
    );
  });

  it('restarts a crashed agent (on-failure); the in-flight call fails with TASK_LOST and the new instance reconnects', async (t) => {
    const { logger, nextLine } = capturingLogger();
    const { runtime } = await startTaskSpearlet(t, { logger, restartBackoff: { initialMs: 50, maxMs: 100 } });
    const first = await runtime.start({ ...MESH_AGENT_SPEC, id: 'crashy', restart: 'on-failure' });
    await waitForTask(runtime, 'crashy', inState('connected'));
    await assert.rejects(runtime.invoke('crashy', 'crash', ''), { code: 'TASK_LOST' });
    await nextLine(printed('crashy', 'mesh-agent: crashing'));
    const again = await waitForTask(runtime, 'crashy', (i) => i.state === 'connected' && i.restarts === 1);
    assert.notEqual(again.pid, first.pid);
    assert.equal(alive(first.pid!), false);
    assert.equal((await runtime.invoke('crashy', 'handle', 'back')).toString(), 'mesh:back');
    const stopped = await runtime.stop('crashy');
    assert.equal(stopped.exitCode, 0);
    assert.equal(stopped.restarts, 1);
  });
});

describe('tasks through Consul', () => {
  it('a client invokes a task hosted on another spearlet; after stop the call fails with TASK_NOT_FOUND', async (t) => {
    const registry = await startTestRegistry();
    t.after(() => registry.close());
    const a = await startTaskSpearlet(t, { id: 'sa', registry: registry.url });
    const b = await startTaskSpearlet(t, { id: 'sb', registry: registry.url });
    await b.runtime.start({ ...MESH_AGENT_SPEC, id: 'remote-task' });
    await waitForTask(b.runtime, 'remote-task', inState('connected'));
    const registration = b.attached.registration;
    assert.ok(registration !== undefined);
    await registration.settled();
    assert.equal(registration.isRegistered('remote-task'), true);

    const consul = createConsulClient({ addr: registry.url }, {});
    t.after(() => {
      consul.close();
    });
    const location = await locateTask(consul, 'remote-task');
    assert.deepEqual({ spearletId: location.spearletId, port: location.port }, { spearletId: 'sb', port: b.port });
    const { entries } = await consul.healthService(TASK_SERVICE_NAME, { passing: true });
    assert.deepEqual(
      entries.map((e) => [e.Service.ID, e.Service.Meta]),
      [[taskServiceId('remote-task'), { task_id: 'remote-task', spearlet_id: 'sb' }]],
    );

    const mesh = await MeshClient.connect({
      consul: { addr: registry.url },
      tokenProvider: () => clientToken('caller'),
      policy: 'round-robin',
      closeGraceMs: 0,
    });
    t.after(() => mesh.close());
    await waitFor(() => mesh.stats().endpoints.length === 2, 30_000, 'both spearlets in the client view');
    const router = new TaskRouter(mesh, consul, { cacheTtlMs: 60_000 });
    assert.equal((await router.invoke('remote-task', 'handle', 'cached')).toString(), 'mesh:cached');
    // Round-robin over two spearlets would land half of these on `sa`, which does not host the task.
    for (let i = 0; i < 6; i++) {
      const out = await invokeTask(mesh, consul, 'remote-task', 'handle', `call-${i}`, { deadlineMs: 10_000 });
      assert.equal(out.toString(), `mesh:call-${i}`);
    }
    // Asked directly, the spearlet without the task says so.
    await assert.rejects(
      mesh.request('task.invoke', JSON.stringify({ taskId: 'remote-task', method: 'handle', params: '' }), {
        spearletId: 'sa',
      }),
      { code: 'TASK_NOT_FOUND' },
    );
    assert.equal(a.runtime.list().length, 0);

    // A legacy agent on the same spearlet is reached the same way.
    await b.runtime.start({ command: PYTHON, args: [LEGACY_AGENT], id: 'remote-legacy' });
    await waitForTask(b.runtime, 'remote-legacy', inState('connected'));
    await registration.settled();
    assert.equal((await invokeTask(mesh, consul, 'remote-legacy', 'handle', 'py')).toString(), 'legacy:py');
    await assert.rejects(invokeTask(mesh, consul, 'remote-legacy', 'unknown', ''), { code: 'HANDLER_ERROR' });
    await b.runtime.stop('remote-legacy');

    await b.runtime.stop('remote-task');
    await registration.settled();
    assert.equal(registration.isRegistered('remote-task'), false);
    await assert.rejects(invokeTask(mesh, consul, 'remote-task', 'handle', 'late'), { code: 'TASK_NOT_FOUND' });
    await assert.rejects(invokeTask(mesh, consul, 'never-existed', 'handle', ''), { code: 'TASK_NOT_FOUND' });
    const after = await consul.healthService(TASK_SERVICE_NAME, {});
    assert.equal(after.entries.length, 0, 'the stopped task left Consul');

    // The task comes back on the other spearlet: the router's cached location answers TASK_NOT_FOUND, it asks
    // Consul again and follows the task.
    await a.runtime.start({ ...MESH_AGENT_SPEC, id: 'remote-task' });
    await waitForTask(a.runtime, 'remote-task', inState('connected'));
    await a.attached.registration?.settled();
    assert.equal((await router.invoke('remote-task', 'handle', 'moved')).toString(), 'mesh:moved');
    assert.equal((await router.locate('remote-task')).spearletId, 'sa');
  });

  it('registers a connected task again when Consul forgot it', async (t) => {
    const registry = await startTestRegistry();
    t.after(() => registry.close());
    const { runtime, attached } = await startTaskSpearlet(t, { id: 'sc', registry: registry.url });
    await runtime.start({ ...MESH_AGENT_SPEC, id: 'forgotten' });
    await waitForTask(runtime, 'forgotten', inState('connected'));
    const consul = createConsulClient({ addr: registry.url }, {});
    t.after(() => {
      consul.close();
    });
    const passing = async (): Promise<number> =>
      (await consul.healthService(TASK_SERVICE_NAME, { passing: true })).entries.length;
    await waitFor(async () => (await passing()) === 1, 30_000, 'the task in Consul');
    await consul.deregisterService(taskServiceId('forgotten'));
    assert.equal(await passing(), 0);
    // The next TTL pass gets a 404 and registers the task again.
    await waitFor(async () => (await passing()) === 1, 30_000, 'the task back in Consul');
    assert.equal(attached.registration?.isRegistered('forgotten'), true);
  });
});
