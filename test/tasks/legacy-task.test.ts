import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import type { MeshError } from '../../src/errors.ts';
import { decodeLegacyMessage, encodeLegacyPreface } from '../../src/wire/index.ts';
import {
  LEGACY_AGENT,
  PYTHON,
  alive,
  capturingLogger,
  inState,
  printed,
  startTaskSpearlet,
  waitFor,
  waitForTask,
} from './harness.ts';
import { nodeEntryArgs } from '../../scripts/repo-root.ts';

/** The runtime test's stand-in agent: prints its environment (SECRET included), starts a grandchild, never connects. */
const TREE_SPEC = { command: process.execPath, args: nodeEntryArgs('test/fixtures/tree-agent.ts') } as const;

/** Connects, sends `preface` and resolves once the spearlet has closed the socket. */
async function closedAfterPreface(port: number, preface: Buffer): Promise<void> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write(preface);
  socket.resume();
  await once(socket, 'close');
}

describe('legacy agents under the task runtime', () => {
  it('the Python agent connects with its secret, answers handle, gets code 2 for an unknown method, stops on Terminate', async (t) => {
    const { logger, lines, nextLine } = capturingLogger();
    const { runtime, attached } = await startTaskSpearlet(t, { logger });
    const started = await runtime.start({ command: PYTHON, args: [LEGACY_AGENT], id: 'py-1' });
    const connected = await waitForTask(runtime, 'py-1', inState('connected'));
    assert.equal(connected.protocol, 'legacy');

    assert.equal((await runtime.invoke('py-1', 'handle', 'hello')).toString(), 'legacy:hello');
    assert.equal((await runtime.invoke('py-1', 'handle', 'héllo ☃')).toString(), 'legacy:héllo ☃');
    await assert.rejects(runtime.invoke('py-1', 'nope', ''), (err: MeshError) => {
      assert.equal(err.code, 'HANDLER_ERROR');
      assert.match(err.message, /code 2: method not found/);
      return true;
    });
    // The agent's own request for method 99 had no handler: code 2, "method not found".
    await nextLine(printed('py-1', 'method 99 answered code=2 message=method not found'));

    const stopped = await runtime.stop('py-1');
    await nextLine(printed('py-1', 'legacy-agent: terminate'));
    assert.equal(stopped.state, 'exited');
    assert.equal(stopped.exitCode, 0, 'the agent exited by itself after Terminate');
    assert.equal(stopped.signal, null);
    assert.equal(alive(started.pid!), false);
    await assert.rejects(runtime.invoke('py-1', 'handle', 'x'), { code: 'TASK_NOT_FOUND' });
    assert.equal(attached.rejectedSecrets, 0);
    // Never a secret in the logs.
    assert.ok(!lines.some((l) => JSON.stringify(l).includes('"SECRET"')));
  });

  it('serves the agent legacy methods registered on the runtime', async (t) => {
    const { logger, nextLine } = capturingLogger();
    const { runtime } = await startTaskSpearlet(t, { logger });
    const seen: string[] = [];
    runtime.handleLegacy(99, (req) => {
      seen.push(`${req.taskId}:${req.request.toString()}`);
      return Buffer.from('ok');
    });
    await runtime.start({ command: PYTHON, args: [LEGACY_AGENT], id: 'py-2' });
    await nextLine(printed('py-2', 'method 99 answered code=0'));
    assert.deepEqual(seen, ['py-2:nothing']);
  });

  it('refuses unknown and duplicate secrets', async (t) => {
    const { logger, lines, nextLine } = capturingLogger();
    const { runtime, attached, port } = await startTaskSpearlet(t, { logger });
    // tree-agent prints its environment (SECRET included) and never connects: the test plays the agent.
    await runtime.start({ ...TREE_SPEC, id: 'tree' });
    const line = await nextLine((r) => r.taskId === 'tree' && typeof r.msg === 'string' && r.msg.startsWith('{'));
    const secret = BigInt((JSON.parse(String(line.msg)) as { env: { SECRET: string } }).env.SECRET);

    await closedAfterPreface(port, encodeLegacyPreface(secret ^ 1n));
    assert.equal(attached.rejectedSecrets, 1);
    const warn = lines.find((l) => l.code === 'SECRET_REJECTED');
    assert.ok(warn !== undefined);
    assert.ok(!JSON.stringify(lines).includes(String(secret ^ 1n)), 'the presented secret is never logged');

    const first: Socket = connect({ host: '127.0.0.1', port });
    t.after(() => first.destroy());
    await once(first, 'connect');
    first.write(encodeLegacyPreface(secret));
    await waitForTask(runtime, 'tree', inState('connected'));

    await closedAfterPreface(port, encodeLegacyPreface(secret));
    assert.equal(attached.duplicateSecrets, 1);
    assert.ok(lines.some((l) => l.code === 'DUPLICATE_SECRET'));
    assert.equal(runtime.get('tree')?.state, 'connected', 'the first connection is untouched');
    const ours = lines.filter((l) => l.stream === undefined); // not the agent's own stdout, which prints its env
    assert.ok(!JSON.stringify(ours).includes(String(secret)), 'the secret is never logged');

    // The first connection dropping detaches the task.
    first.destroy();
    await waitForTask(runtime, 'tree', inState('running'));
  });

  it('an invocation in flight when the agent connection drops fails with TASK_LOST; garbage closes the connection', async (t) => {
    const { logger, lines, nextLine } = capturingLogger();
    const { runtime, port } = await startTaskSpearlet(t, { logger });
    await runtime.start({ ...TREE_SPEC, id: 'tree-2' });
    const line = await nextLine((r) => r.taskId === 'tree-2' && typeof r.msg === 'string' && r.msg.startsWith('{'));
    const secret = BigInt((JSON.parse(String(line.msg)) as { env: { SECRET: string } }).env.SECRET);

    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    t.after(() => socket.destroy());
    await once(socket, 'connect');
    socket.write(encodeLegacyPreface(secret));
    await waitForTask(runtime, 'tree-2', inState('connected'));
    const pending = runtime.invoke('tree-2', 'handle', 'x');
    await once(socket, 'data'); // the Custom request reached the "agent"
    socket.destroy();
    await assert.rejects(pending, { code: 'TASK_LOST' });
    await waitForTask(runtime, 'tree-2', inState('running'));

    // A frame that is no FlatBuffers envelope: the spearlet logs it and closes the connection.
    const again = connect({ host: '127.0.0.1', port });
    again.on('error', () => undefined);
    t.after(() => again.destroy());
    await once(again, 'connect');
    again.write(encodeLegacyPreface(secret));
    await waitForTask(runtime, 'tree-2', inState('connected'));
    const garbage = Buffer.alloc(8 + 4);
    garbage.writeBigUInt64LE(4n, 0);
    garbage.writeUInt32LE(0xffff_ffff, 8);
    again.write(garbage);
    again.resume();
    await once(again, 'close');
    await waitForTask(runtime, 'tree-2', inState('running'));
    assert.ok(lines.some((l) => l.code === 'LEGACY_ENVELOPE_INVALID'));
  });

  it('stop sends Terminate on the legacy connection, then takes down the whole process tree of an agent that stays', async (t) => {
    const { logger, nextLine } = capturingLogger();
    const { runtime, port } = await startTaskSpearlet(t, { logger });
    const started = await runtime.start({ ...TREE_SPEC, id: 'tree-3' });
    const line = await nextLine((r) => r.taskId === 'tree-3' && typeof r.msg === 'string' && r.msg.startsWith('{'));
    const printedEnv = JSON.parse(String(line.msg)) as { env: { SECRET: string }; grandchild: number };
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    t.after(() => socket.destroy());
    await once(socket, 'connect');
    socket.write(encodeLegacyPreface(BigInt(printedEnv.env.SECRET)));
    await waitForTask(runtime, 'tree-3', inState('connected'));

    const received: Buffer[] = [];
    socket.on('data', (c: Buffer) => received.push(c));
    const stopping = runtime.stop('tree-3', 600);
    const stopped = await stopping;
    // The Terminate signal reached the "agent" (a TransportSignal envelope), which ignored it.
    const terminate = decodeLegacyMessage(Buffer.concat(received).subarray(8));
    assert.deepEqual([terminate.type, terminate.type === 'signal' ? terminate.method : -1], ['signal', 1]);
    assert.equal(stopped.state, 'exited');
    assert.ok(stopped.signal === 'SIGTERM' || stopped.signal === 'SIGKILL', String(stopped.signal));
    assert.equal(alive(started.pid!), false);
    await waitFor(() => !alive(printedEnv.grandchild), 10_000, 'the grandchild to be gone');
  });
});
