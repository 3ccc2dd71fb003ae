import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MessageKind } from '../../src/wire/index.ts';
import { RawClient } from './raw-client.ts';
import { startSpearlet, tcp, token, waitFor } from './fixture.ts';

describe('spearlet backpressure', () => {
  it('stops reading from a client that does not read its responses, and loses nothing when it does', async (t) => {
    const s = await startSpearlet(t, {
      writeHighWaterMarkBytes: 256 * 1024,
      heartbeatMs: 200,
      heartbeatTimeoutMs: 30_000,
    });
    const { client } = await RawClient.open(tcp(s), await token());
    t.after(() => {
      client.destroy();
    });
    client.socket.pause(); // the client stops reading
    const body = Buffer.alloc(64 * 1024, 7);
    const count = 400; // 25 MiB of echoes: far beyond socket buffers and the high-water mark
    for (let i = 1; i <= count; i++) client.request(BigInt(i), 'echo', body);
    const session = s.liveSessions()[0]!;
    await waitFor(() => session.socket.isPaused(), 20_000, 'the spearlet to stop reading');
    const queued = session.socket.writableLength;
    assert.ok(queued < 256 * 1024 + 4 * (body.length + 64), `spearlet queued ${queued} bytes`);
    client.socket.resume();
    let got = 0;
    while (got < count) {
      const m = await client.nextMessage(20_000);
      if (m.kind !== MessageKind.RESPONSE) throw new Error(`expected RESPONSE, got kind ${m.kind}`);
      assert.equal(m.status, 0);
      assert.equal(m.body.length, body.length);
      got++;
    }
    assert.equal(session.socket.isPaused(), false);
  });
});
