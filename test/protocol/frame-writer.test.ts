import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { FrameWriter } from '../../src/protocol/frame-writer.ts';
import { MessageKind, encodeControl } from '../../src/wire/index.ts';

/** A connected loopback pair: `client` writes through a FrameWriter, `server` collects what arrives. */
async function socketPair(): Promise<{ client: net.Socket; server: net.Socket; received: () => Buffer }> {
  const listener = net.createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const port = (listener.address() as net.AddressInfo).port;
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  const client = net.connect(port, '127.0.0.1');
  await once(client, 'connect');
  const [server] = await accepted;
  listener.close();
  const chunks: Buffer[] = [];
  server.on('data', (c: Buffer) => chunks.push(c));
  after(() => {
    client.destroy();
    server.destroy();
  });
  return { client, server, received: () => Buffer.concat(chunks) };
}

/** Counts the socket's write calls (each is one write or, when corked, part of one writev). */
function countWrites(socket: net.Socket): { writes: number; corks: number } {
  const counts = { writes: 0, corks: 0 };
  const write = (b: Uint8Array): boolean => net.Socket.prototype.write.call(socket, b);
  const cork = socket.cork.bind(socket);
  socket.write = (b: Uint8Array) => {
    counts.writes++;
    return write(b);
  };
  socket.cork = () => {
    counts.corks++;
    cork();
  };
  return counts;
}

const frame = (byte: number, size: number): Buffer => Buffer.alloc(size, byte);

describe('FrameWriter', () => {
  it('hands the small frames of one tick to the socket in one write, in order, at the end of the tick', async () => {
    const { client, server, received } = await socketPair();
    const counts = countWrites(client);
    const writer = new FrameWriter(client);
    const frames = [1, 2, 3, 4, 5].map((b) => frame(b, 20 + b));
    for (const f of frames) writer.write(f);
    assert.equal(counts.writes, 0, 'nothing is written before the tick ends');
    assert.equal(writer.bufferedBytes, 115);
    const expected = Buffer.concat(frames);
    while (received().length < expected.length) await once(server, 'data');
    assert.deepEqual(received(), expected);
    assert.deepEqual(counts, { writes: 1, corks: 0 });
  });

  it('keeps frames intact when two writers share the slab in one tick, and sends large frames uncopied', async () => {
    const a = await socketPair();
    const b = await socketPair();
    const countsA = countWrites(a.client);
    const wa = new FrameWriter(a.client);
    const wb = new FrameWriter(b.client);
    const big = frame(9, 40 * 1024);
    wa.write(frame(1, 10));
    wb.write(frame(2, 10));
    wa.write(frame(3, 10)); // not contiguous with wa's first run any more: a second run
    wa.write(big);
    wa.write(frame(4, 10));
    const expectedA = Buffer.concat([frame(1, 10), frame(3, 10), big, frame(4, 10)]);
    while (a.received().length < expectedA.length) await once(a.server, 'data');
    while (b.received().length < 10) await once(b.server, 'data');
    assert.deepEqual(a.received(), expectedA);
    assert.deepEqual(b.received(), frame(2, 10));
    assert.deepEqual(countsA, { writes: 4, corks: 1 }, 'several runs leave in one corked writev');
  });

  it('writeInPlace() encodes frames up to 16 KiB into the same write as written ones, larger ones into their own buffer', async () => {
    const { client, server, received } = await socketPair();
    const counts = countWrites(client);
    const writer = new FrameWriter(client);
    const inPlace = (f: Buffer): { size: number; encodeInto: (t: Buffer, o: number) => void } => ({
      size: f.length,
      encodeInto: (t, o) => {
        f.copy(t, o);
      },
    });
    const small = [frame(1, 30), frame(2, 40), frame(3, 50)];
    const large = frame(4, 20 * 1024);
    writer.write(small[0] as Buffer);
    writer.writeInPlace(inPlace(small[1] as Buffer));
    writer.write(small[2] as Buffer);
    assert.equal(writer.bufferedBytes, 120);
    const expected = Buffer.concat(small);
    while (received().length < expected.length) await once(server, 'data');
    assert.deepEqual(received(), expected);
    assert.deepEqual(counts, { writes: 1, corks: 0 }, 'one contiguous run, one write');
    writer.writeInPlace(inPlace(frame(5, 20)));
    writer.writeInPlace(inPlace(frame(6, 4096)));
    writer.writeInPlace(inPlace(large));
    const all = Buffer.concat([expected, frame(5, 20), frame(6, 4096), large]);
    while (received().length < all.length) await once(server, 'data');
    assert.deepEqual(received(), all);
  });

  it('keeps every frame intact across slab replacements, written and encoded in place alike', async () => {
    const { server, client, received } = await socketPair();
    const writer = new FrameWriter(client);
    const frames: Buffer[] = [];
    // 3 x 100 frames of up to 1 KiB: several full 64 KiB slabs, replaced in the middle of a tick.
    for (let tick = 0; tick < 3; tick++) {
      for (let i = 0; i < 100; i++) {
        const f = frame((tick * 100 + i) % 251, 900 + ((i * 7) % 124));
        frames.push(f);
        if (i % 2 === 0) writer.write(f);
        else
          writer.writeInPlace({
            size: f.length,
            encodeInto: (t, o) => {
              f.copy(t, o);
            },
          });
      }
      await new Promise<void>((resolve) => {
        setImmediate(resolve);
      });
    }
    const expected = Buffer.concat(frames);
    while (received().length < expected.length) await once(server, 'data');
    assert.ok(received().equals(expected), 'the bytes arrive as written');
  });

  it('reuses slab memory the socket took whole, and never memory still queued in it', async () => {
    const { server, client, received } = await socketPair();
    const seen: { buffer: ArrayBufferLike; offset: number; queuedAfter: number }[] = [];
    const write = (b: Uint8Array): boolean => net.Socket.prototype.write.call(client, b);
    client.write = (b: Uint8Array) => {
      const ok = write(b);
      seen.push({ buffer: b.buffer, offset: b.byteOffset, queuedAfter: client.writableLength });
      return ok;
    };
    const writer = new FrameWriter(client);
    const frames: Buffer[] = [];
    const tick = async (n: number): Promise<void> => {
      for (let i = 0; i < 8; i++) {
        const f = frame((n * 8 + i) % 251, 4096);
        frames.push(f);
        writer.writeInPlace({ size: f.length, encodeInto: (t, o) => void f.copy(t, o) });
      }
      await new Promise<void>((resolve) => {
        setImmediate(resolve);
      });
    };
    // Ticks of 32 KiB that the kernel takes at once: each reuses the memory of the one before.
    for (let n = 0; n < 6; n++) await tick(n);
    let expected = Buffer.concat(frames);
    while (received().length < expected.length) await once(server, 'data');
    assert.ok(received().equals(expected), 'the bytes arrive as written');
    const synchronous = seen.filter((w) => w.queuedAfter === 0);
    assert.ok(synchronous.length >= 2, `writes taken whole: ${synchronous.length} of ${seen.length}`);
    assert.equal(new Set(synchronous.map((w) => `${w.offset}`)).size, 1, 'every write taken whole reused one region');
    assert.equal(new Set(synchronous.map((w) => w.buffer)).size, 1, 'and one slab');
    // The peer stops reading: writes queue in the socket, and the memory they sit in must not be written again.
    server.pause();
    seen.length = 0;
    for (let n = 6; n < 200 && seen.every((w) => w.queuedAfter === 0); n++) await tick(n);
    for (let n = 0; n < 20; n++) await tick(200 + n);
    assert.ok(
      seen.some((w) => w.queuedAfter > 0),
      'the socket queued writes once its peer stopped reading',
    );
    server.resume();
    expected = Buffer.concat(frames);
    while (received().length < expected.length) await once(server, 'data');
    assert.ok(received().equals(expected), 'every frame intact after the queue drained');
  });

  it('end() sends the frames of this tick before the FIN; a destroyed socket drops them', async () => {
    const { client, server, received } = await socketPair();
    const writer = new FrameWriter(client);
    writer.write(frame(7, 8));
    writer.end();
    await once(server, 'end');
    assert.deepEqual(received(), frame(7, 8));

    const other = await socketPair();
    const w2 = new FrameWriter(other.client);
    w2.write(frame(8, 8));
    other.client.destroy();
    await once(other.server, 'close');
    assert.equal(other.received().length, 0);
    assert.equal(w2.bufferedBytes, 0, 'the end of the tick dropped the frame without writing to a destroyed socket');
  });

  it('writeControl copies the id bytes into a control frame; frames written while held leave at release()', async () => {
    const { client, server, received } = await socketPair();
    const counts = countWrites(client);
    const writer = new FrameWriter(client);
    const ping = encodeControl(MessageKind.PING, 0xfedc_ba98_7654_3210n).subarray(8);
    writer.hold();
    writer.writeControl(MessageKind.PONG, ping, 2);
    writer.write(frame(5, 12));
    writer.writeControl(MessageKind.CANCEL, Buffer.concat([Buffer.alloc(3), ping]), 5);
    assert.equal(counts.writes, 0, 'nothing is written while held');
    writer.release();
    assert.equal(counts.writes, 1, 'release() writes at once, in one write');
    const expected = Buffer.concat([
      encodeControl(MessageKind.PONG, 0xfedc_ba98_7654_3210n),
      frame(5, 12),
      encodeControl(MessageKind.CANCEL, 0xfedc_ba98_7654_3210n),
    ]);
    while (received().length < expected.length) await once(server, 'data');
    assert.deepEqual(received(), expected);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(counts, { writes: 1, corks: 0 }, 'no second write at the end of the tick');
  });
});
