import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MESH_MAGIC,
  MessageKind,
  RequestFlag,
  encodeJson,
  encodeRequest,
  encodeControl,
  encodeResponse,
  encodeSignal,
  type MeshMessage,
} from '../../src/wire/index.ts';
import { MeshError } from '../../src/errors.ts';
import { RawClient, errorBody } from './raw-client.ts';
import { deferred, startSpearlet, tcp, token } from './fixture.ts';

function response(msg: MeshMessage): { id: bigint; status: number; body: Buffer } {
  if (msg.kind !== MessageKind.RESPONSE) throw new Error(`expected RESPONSE, got kind ${msg.kind}`);
  return { id: msg.id, status: msg.status, body: msg.body };
}

describe('spearlet requests', () => {
  it('echo, info, sleep and an unknown method', async (t) => {
    const s = await startSpearlet(t, { zone: 'z9' });
    const { client } = await RawClient.open(tcp(s), await token());
    t.after(() => {
      client.destroy();
    });

    client.request(1n, 'echo', 'hello');
    let r = response(await client.nextMessage());
    assert.deepEqual([r.id, r.status, r.body.toString()], [1n, 0, 'hello']);

    client.request(2n, 'info');
    r = response(await client.nextMessage());
    const info = JSON.parse(r.body.toString()) as Record<string, unknown>;
    assert.equal(info.spearlet, 's1');
    assert.equal(info.zone, 'z9');
    assert.equal(info.sessions, 1);
    // info answers synchronously, so it does not count itself: a synchronous answer never enters the table.
    assert.equal(info.inFlight, 0);
    assert.equal(typeof info.version, 'string');

    client.request(3n, 'sleep', '{"ms": 20}');
    r = response(await client.nextMessage());
    assert.deepEqual([r.status, r.body.toString()], [0, '{"ms": 20}']);
    client.request(4n, 'sleep', '15');
    assert.equal(response(await client.nextMessage()).status, 0);
    client.request(5n, 'sleep', 'soon');
    r = response(await client.nextMessage());
    assert.equal(r.status, 400);
    assert.equal((JSON.parse(r.body.toString()) as { code: string }).code, 'INVALID_PAYLOAD');

    client.request(6n, 'no.such.method', 'x');
    const notFound = await client.nextMessage();
    assert.equal(response(notFound).status, 404);
    assert.equal(errorBody(notFound).code, 'METHOD_NOT_FOUND');
    assert.match(
      await s.metricsText(),
      /spear_mesh_requests_total\{method="echo",status="0",spearlet="s1",zone="z9"\} 1/,
    );
    assert.match(await s.metricsText(), /method="\(unknown\)",status="404"/);
    assert.match(await s.metricsText(), /spear_mesh_request_duration_seconds_bucket\{le="0.001",/);
  });

  it('many concurrent requests are correlated by id', async (t) => {
    const s = await startSpearlet(t);
    const { client } = await RawClient.open(tcp(s), await token());
    t.after(() => {
      client.destroy();
    });
    for (let i = 1n; i <= 50n; i++) client.request(i, 'sleep', `${Number(50n - i)}`);
    const seen = new Set<bigint>();
    for (let i = 0; i < 50; i++) {
      const r = response(await client.nextMessage());
      assert.equal(r.status, 0);
      assert.equal(r.body.toString(), `${Number(50n - r.id)}`);
      seen.add(r.id);
    }
    assert.equal(seen.size, 50);
  });

  it('handler errors: MeshError keeps its code, others become HANDLER_ERROR', async (t) => {
    const s = await startSpearlet(t);
    s.handle('typed', () => {
      throw new MeshError('TASK_NOT_FOUND', 'no task 7');
    });
    s.handle('boom', () => Promise.reject(new Error('kaput')));
    const { client } = await RawClient.open(tcp(s), await token());
    t.after(() => {
      client.destroy();
    });
    client.request(1n, 'typed');
    let m = await client.nextMessage();
    assert.equal(response(m).status, 404);
    assert.equal(errorBody(m).code, 'TASK_NOT_FOUND');
    client.request(2n, 'boom');
    m = await client.nextMessage();
    assert.equal(response(m).status, 500);
    assert.deepEqual(errorBody(m), { code: 'HANDLER_ERROR', message: 'kaput', retryable: false });
  });

  it('CANCEL aborts the handler and sends no response', async (t) => {
    const s = await startSpearlet(t);
    let aborted: unknown;
    const started = deferred();
    s.handle('wait', async (req) => {
      started.resolve();
      await new Promise<void>((resolve) => {
        req.signal.addEventListener(
          'abort',
          () => {
            resolve();
          },
          { once: true },
        );
      });
      aborted = req.signal.reason;
      return 'too late';
    });
    const { client } = await RawClient.open(tcp(s), await token());
    t.after(() => {
      client.destroy();
    });
    client.request(1n, 'wait');
    await started.promise;
    client.cancel(1n);
    client.cancel(99n); // unknown ids are ignored
    client.request(2n, 'echo', 'after');
    const r = response(await client.nextMessage());
    assert.equal(r.id, 2n);
    assert.ok(aborted instanceof MeshError);
    assert.equal(aborted.code, 'CANCELLED');
  });

  it('a passed deadline aborts the handler and answers DEADLINE_EXCEEDED', async (t) => {
    const s = await startSpearlet(t);
    const { client } = await RawClient.open(tcp(s), await token());
    t.after(() => {
      client.destroy();
    });
    client.request(1n, 'sleep', '60000', { deadlineMs: 50 });
    const m = await client.nextMessage();
    assert.equal(response(m).status, 408);
    assert.equal(errorBody(m).code, 'DEADLINE_EXCEEDED');
    client.request(2n, 'info');
    const info = JSON.parse(response(await client.nextMessage()).body.toString()) as { inFlight: number };
    assert.equal(info.inFlight, 0); // the sleep was aborted (and info, answered synchronously, is not counted)
  });

  it('more than maxInFlight requests get OVERLOADED (429, retryable)', async (t) => {
    const s = await startSpearlet(t, { maxInFlightPerSession: 2 });
    const { client, welcome } = await RawClient.open(tcp(s), await token());
    t.after(() => {
      client.destroy();
    });
    assert.equal(welcome.maxInFlight, 2);
    client.request(1n, 'sleep', '300');
    client.request(2n, 'sleep', '300');
    client.request(3n, 'echo', 'x');
    const m = await client.nextMessage();
    assert.equal(response(m).id, 3n);
    assert.equal(response(m).status, 429);
    assert.deepEqual(errorBody(m).retryable, true);
    assert.equal(errorBody(m).code, 'OVERLOADED');
    assert.equal(response(await client.nextMessage()).status, 0);
    assert.equal(response(await client.nextMessage()).status, 0);
  });

  it('scope limits methods: FORBIDDEN_METHOD (403)', async (t) => {
    const s = await startSpearlet(t);
    s.handle('task.start', () => 'started');
    const { client } = await RawClient.open(tcp(s), await token({ scope: ['echo', 'task.*'] }));
    t.after(() => {
      client.destroy();
    });
    client.request(1n, 'task.start');
    assert.equal(response(await client.nextMessage()).status, 0);
    client.request(2n, 'info');
    const m = await client.nextMessage();
    assert.equal(response(m).status, 403);
    assert.equal(errorBody(m).code, 'FORBIDDEN_METHOD');
  });

  it('no-reply requests run without a response', async (t) => {
    const s = await startSpearlet(t);
    const ran = deferred<string>();
    s.handle('note', (req) => {
      ran.resolve(req.body.toString());
    });
    const { client } = await RawClient.open(tcp(s), await token());
    t.after(() => {
      client.destroy();
    });
    client.request(1n, 'note', 'fire and forget', { flags: RequestFlag.NO_REPLY });
    assert.equal(await ran.promise, 'fire and forget');
    client.request(2n, 'echo', 'next');
    assert.equal(response(await client.nextMessage()).id, 2n);
  });

  it('request id 0 is a protocol error', async (t) => {
    const s = await startSpearlet(t);
    const { client } = await RawClient.open(tcp(s), await token());
    const frame = encodeRequest(1n, 0, 0, 'echo', Buffer.alloc(0));
    frame.writeBigUInt64LE(0n, 10);
    client.write(frame);
    assert.equal((await client.expectErrorThenClose()).code, 'PROTOCOL_ERROR');
  });

  it('answers every PING of one chunk with a PONG of the same id, in order, before a reply in the same chunk', async (t) => {
    const s = await startSpearlet(t);
    const { client } = await RawClient.open(tcp(s), await token());
    t.after(() => {
      client.destroy();
    });
    // A PING with flag bits set and two trailing bytes: both ignored, as decodeMessage ignores them.
    const odd = Buffer.alloc(8 + 12);
    odd.writeUInt32LE(12, 0);
    odd[8] = MessageKind.PING;
    odd[9] = 0xff;
    odd.writeBigUInt64LE(0x0123_4567_89ab_cdefn, 10);
    client.write(
      Buffer.concat([
        encodeControl(MessageKind.PING, 1n),
        encodeControl(MessageKind.PING, 0xffff_ffff_ffff_ffffn),
        odd,
        encodeRequest(5n, 0, 0, 'echo', Buffer.from('x')),
      ]),
    );
    const got: [number, number, bigint][] = [];
    for (let i = 0; i < 4; i++) {
      const m = await client.nextMessage();
      got.push([m.kind, m.flags, m.id]);
    }
    assert.deepEqual(got, [
      [MessageKind.PONG, 0, 1n],
      [MessageKind.PONG, 0, 0xffff_ffff_ffff_ffffn],
      [MessageKind.PONG, 0, 0x0123_4567_89ab_cdefn],
      [MessageKind.RESPONSE, 0, 5n],
    ]);
  });

  it('answers PING with PONG; SIGNAL and REQUEST flow both ways', async (t) => {
    const s = await startSpearlet(t);
    const signals: string[] = [];
    const gotSignal = deferred();
    s.onSignal((_session, name, body) => {
      signals.push(`${name}:${body.toString()}`);
      gotSignal.resolve();
    });
    const { client } = await RawClient.open(tcp(s), await token());
    t.after(() => {
      client.destroy();
    });
    client.write(encodeControl(MessageKind.PING, 77n));
    const pong = await client.nextMessage();
    assert.deepEqual([pong.kind, pong.id], [MessageKind.PONG, 77n]);

    client.write(encodeSignal('progress', Buffer.from('50%')));
    await gotSignal.promise;
    assert.deepEqual(signals, ['progress:50%']);

    const session = s.liveSessions()[0]!;
    session.signal('terminate', Buffer.from('now'));
    const sig = await client.nextMessage();
    if (sig.kind !== MessageKind.SIGNAL) throw new Error(`expected SIGNAL, got kind ${sig.kind}`);
    assert.equal(sig.name, 'terminate');

    const answer = session.request('agent.hello', Buffer.from('hi'), { deadlineMs: 5000 });
    const req = await client.nextMessage();
    assert.equal(req.kind, MessageKind.REQUEST);
    client.write(encodeResponse(req.id, 0, Buffer.from('hi back')));
    assert.equal((await answer).toString(), 'hi back');
  });

  it('serves requests pipelined behind HELLO, after the WELCOME', async (t) => {
    const s = await startSpearlet(t);
    const client = await RawClient.connect(tcp(s));
    t.after(() => {
      client.destroy();
    });
    client.write(
      Buffer.concat([
        MESH_MAGIC,
        encodeJson(MessageKind.HELLO, 0n, { v: 1, token: await token() }),
        encodeRequest(1n, 0, 0, 'echo', Buffer.from('early')),
      ]),
    );
    assert.equal((await client.nextMessage()).kind, MessageKind.WELCOME);
    const r = response(await client.nextMessage());
    assert.deepEqual([r.id, r.status, r.body.toString()], [1n, 0, 'early']);
  });
});
