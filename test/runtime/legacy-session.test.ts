import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { LegacySession } from '../../src/spearlet/runtime/legacy-session.ts';
import type { LegacyMethodHandler } from '../../src/spearlet/runtime/task-runtime.ts';
import {
  FrameDecoder,
  decodeCustomRequest,
  decodeLegacyMessage,
  encodeCustomResponse,
  encodeLegacyRequest,
  encodeLegacyResponse,
  encodeLegacySignal,
  type LegacyMessage,
} from '../../src/wire/index.ts';
import { capturingLogger } from '../tasks/harness.ts';

/** The test plays the agent on `agent`; the session owns `server`'s end. */
async function pair(
  t: TestContext,
  options: { handlers?: Map<number, LegacyMethodHandler>; maxFrameSize?: number; terminateTimeoutMs?: number } = {},
) {
  const { logger, lines } = capturingLogger();
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const agent = connect({ host: '127.0.0.1', port: address.port });
  agent.on('error', () => undefined);
  const [socket] = await accepted;
  socket.pause();
  const handlers = options.handlers ?? new Map<number, LegacyMethodHandler>();
  const session = new LegacySession({
    taskId: 't1',
    socket,
    firstBytes: Buffer.alloc(0),
    handlerFor: (m) => handlers.get(m),
    logger,
    ...(options.maxFrameSize !== undefined ? { maxFrameSize: options.maxFrameSize } : {}),
    ...(options.terminateTimeoutMs !== undefined ? { terminateTimeoutMs: options.terminateTimeoutMs } : {}),
  });
  const inbox: (LegacyMessage | 'close')[] = [];
  const waiters: (() => void)[] = [];
  const decoder = new FrameDecoder({
    onFrame: (body) => {
      inbox.push(decodeLegacyMessage(Buffer.from(body)));
      for (const w of waiters.splice(0)) w();
    },
    onClose: () => {
      inbox.push('close');
      for (const w of waiters.splice(0)) w();
    },
  });
  agent.on('data', (c: Buffer) => {
    decoder.push(c);
  });
  const next = async (): Promise<LegacyMessage | 'close'> => {
    while (inbox.length === 0) await new Promise<void>((r) => waiters.push(r));
    return inbox.shift() as LegacyMessage | 'close';
  };
  t.after(() => {
    agent.destroy();
    session.destroy();
    server.close();
  });
  return { session, agent, next, lines };
}

describe('LegacySession', () => {
  it('correlates answers by id, maps a non-zero code to HANDLER_ERROR and ignores unknown ids', async (t) => {
    const { session, agent, next } = await pair(t);
    const a = session.invoke('handle', 'one');
    const b = session.invoke('handle', 'two');
    const ra = await next();
    const rb = await next();
    assert.ok(ra !== 'close' && ra.type === 'request' && rb !== 'close' && rb.type === 'request');
    assert.deepEqual(decodeCustomRequest(ra.request), { methodStr: 'handle', paramsStr: 'one' });
    assert.notEqual(ra.id, rb.id);
    agent.write(encodeLegacyResponse(999n, 0, '', encodeCustomResponse(Buffer.from('stray'))));
    agent.write(encodeLegacyResponse(rb.id, 7, 'boom', new Uint8Array(0)));
    agent.write(encodeLegacyResponse(ra.id, 0, '', encodeCustomResponse(Buffer.from('first'))));
    assert.equal((await a).toString(), 'first');
    await assert.rejects(
      b,
      (err: Error & { code?: string }) => err.code === 'HANDLER_ERROR' && /code 7: boom/.test(err.message),
    );
  });

  it('answers agent requests from the handlers: result, thrown error as code 1, unknown as code 2', async (t) => {
    const handlers = new Map<number, LegacyMethodHandler>([
      [5, (req) => Buffer.from(`tool:${req.request.toString()}`)],
      [
        6,
        () => {
          throw new Error('no tools today');
        },
      ],
    ]);
    const { agent, next } = await pair(t, { handlers });
    agent.write(encodeLegacyRequest(1n, 5, Buffer.from('hammer')));
    agent.write(encodeLegacyRequest(2n, 6, Buffer.alloc(0)));
    agent.write(encodeLegacyRequest(3n, 42, Buffer.alloc(0)));
    agent.write(encodeLegacySignal(2, Buffer.from('stream data is ignored')));
    const answers = new Map<bigint, { code: number; message: string; response: string }>();
    for (let i = 0; i < 3; i++) {
      const m = await next();
      assert.ok(m !== 'close' && m.type === 'response');
      answers.set(m.id, { code: m.code, message: m.message, response: m.response.toString() });
    }
    assert.deepEqual(answers.get(1n), { code: 0, message: '', response: 'tool:hammer' });
    assert.deepEqual(answers.get(2n), { code: 1, message: 'no tools today', response: '' });
    assert.deepEqual(answers.get(3n), { code: 2, message: 'method not found', response: '' });
  });

  it('an aborted invocation rejects with CANCELLED and its late answer is dropped', async (t) => {
    const { session, agent, next } = await pair(t);
    const controller = new AbortController();
    const p = session.invoke('handle', 'slow', controller.signal);
    const req = await next();
    assert.ok(req !== 'close' && req.type === 'request');
    controller.abort();
    await assert.rejects(p, { code: 'CANCELLED' });
    agent.write(encodeLegacyResponse(req.id, 0, '', encodeCustomResponse(Buffer.from('late'))));
    const q = session.invoke('handle', 'next');
    const req2 = await next();
    assert.ok(req2 !== 'close' && req2.type === 'request');
    agent.write(encodeLegacyResponse(req2.id, 0, '', encodeCustomResponse(Buffer.from('fine'))));
    assert.equal((await q).toString(), 'fine');
  });

  it('Terminate: the agent closes orderly, or is cut after the timeout', async (t) => {
    const polite = await pair(t);
    polite.session.terminate();
    const sig = await polite.next();
    assert.ok(sig !== 'close' && sig.type === 'signal' && sig.method === 1);
    await assert.rejects(polite.session.invoke('handle', 'x'), { code: 'TASK_NOT_FOUND' });
    polite.agent.end(Buffer.alloc(8));
    await polite.session.closed;
    assert.equal(await polite.next(), 'close', 'the spearlet answers the zero-length frame with its own');

    const stubborn = await pair(t, { terminateTimeoutMs: 100 });
    stubborn.session.terminate();
    await stubborn.session.closed;
    assert.ok(stubborn.lines.some((l) => l.msg === 'agent did not close after Terminate'));
  });

  it('a frame over the size limit or a connection loss fails what is in flight with TASK_LOST', async (t) => {
    const big = await pair(t, { maxFrameSize: 64 });
    const p = big.session.invoke('handle', 'x');
    const header = Buffer.alloc(8);
    header.writeBigUInt64LE(65n);
    big.agent.write(header);
    await assert.rejects(p, { code: 'TASK_LOST' });
    await big.session.closed;
    assert.ok(big.lines.some((l) => l.code === 'FRAME_TOO_LARGE'));

    const lost = await pair(t);
    const q = lost.session.invoke('handle', 'x');
    await lost.next();
    lost.agent.destroy();
    await assert.rejects(q, { code: 'TASK_LOST' });
    await assert.rejects(lost.session.invoke('handle', 'again'), { code: 'TASK_NOT_FOUND' });
  });
});
