import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createConsulClient } from '../../src/registry/consul-client.ts';
import { Spearlet } from '../../src/spearlet/spearlet.ts';
import { enableSpearletTasks, serviceAddrFor } from '../../src/spearlet/runtime/spearlet-tasks.ts';
import { TASK_SERVICE_NAME } from '../../src/spearlet/runtime/task-registration.ts';
import { startTestRegistry } from '../helpers/dev-registry.ts';
import {
  AUDIENCE,
  ISSUER,
  LEGACY_AGENT,
  MESH_AGENT_SPEC,
  PYTHON,
  SECRET,
  inState,
  waitFor,
  waitForTask,
} from './harness.ts';

describe('enableSpearletTasks', () => {
  it('wires a started spearlet: both agent kinds connect, tasks appear in Consul, close stops and deregisters them', async (t) => {
    const registry = await startTestRegistry();
    t.after(() => registry.close());
    const spearlet = new Spearlet({
      id: 'wired',
      listen: { host: '0.0.0.0', port: 0 },
      auth: { secret: SECRET, issuer: ISSUER, audience: AUDIENCE },
      consul: { addr: registry.url },
    });
    await spearlet.start();
    t.after(() => spearlet.close());
    const tasks = enableSpearletTasks(spearlet, {
      tokens: { secret: SECRET, issuer: ISSUER, audience: AUDIENCE },
      consul: { addr: registry.url },
    });
    t.after(() => tasks.close());
    const py = await tasks.runtime.start({ command: PYTHON, args: [LEGACY_AGENT], id: 'w-py' });
    const ts = await tasks.runtime.start({ ...MESH_AGENT_SPEC, id: 'w-ts' });
    await waitForTask(tasks.runtime, 'w-py', inState('connected'));
    await waitForTask(tasks.runtime, 'w-ts', inState('connected'));
    assert.equal((await tasks.runtime.invoke('w-ts', 'handle', '1')).toString(), 'mesh:1');

    const consul = createConsulClient({ addr: registry.url }, {});
    t.after(() => {
      consul.close();
    });
    const count = async (): Promise<number> =>
      (await consul.healthService(TASK_SERVICE_NAME, { passing: true })).entries.length;
    await waitFor(async () => (await count()) === 2, 30_000, 'both tasks in Consul');

    await tasks.close();
    await tasks.close();
    assert.deepEqual(
      tasks.runtime.list().map((i) => [i.id, i.state]),
      [
        ['w-py', 'exited'],
        ['w-ts', 'exited'],
      ],
    );
    assert.equal(tasks.runtime.get('w-py')?.exitCode, 0);
    assert.equal(tasks.runtime.get('w-ts')?.exitCode, 0);
    assert.notEqual(py.pid, ts.pid);
    assert.equal(await count(), 0);
  });

  it('serviceAddrFor reaches wildcard listeners on loopback and brackets IPv6', () => {
    assert.equal(serviceAddrFor('0.0.0.0', 7), '127.0.0.1:7');
    assert.equal(serviceAddrFor('::', 7), '[::1]:7');
    assert.equal(serviceAddrFor('::1', 7), '[::1]:7');
    assert.equal(serviceAddrFor('10.0.0.5', 7), '10.0.0.5:7');
  });
});
