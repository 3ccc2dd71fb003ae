import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FrameLengthInvalidError, FrameTooLargeError, MeshError } from '../../src/errors.ts';
import {
  DEFAULT_MAX_FRAME_SIZE,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  encodeCloseFrame,
  encodeFrame,
  readFrameLength,
  writeFrameHeader,
} from '../../src/wire/frame.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** A decoder with a recording handler. */
function recorder(maxFrameSize?: number) {
  const frames: Buffer[] = [];
  let closes = 0;
  const decoder = new FrameDecoder(
    {
      onFrame: (body) => frames.push(Buffer.from(body)),
      onClose: () => {
        closes++;
      },
    },
    maxFrameSize === undefined ? {} : { maxFrameSize },
  );
  return {
    decoder,
    frames,
    get closes() {
      return closes;
    },
  };
}

describe('frame encoding', () => {
  it('matches the protocol.md example: "hello"', () => {
    assert.deepEqual(encodeFrame(Buffer.from('hello')), hex('05 00 00 00 00 00 00 00 68 65 6c 6c 6f'));
  });

  it('writes header and body in one buffer and copies the body', () => {
    const body = new Uint8Array([1, 2, 3]);
    const frame = encodeFrame(body);
    body[0] = 9;
    assert.deepEqual(frame, hex('03 00 00 00 00 00 00 00 01 02 03'));
  });

  it('encodes an empty body as the close frame', () => {
    assert.deepEqual(encodeFrame(new Uint8Array(0)), Buffer.alloc(8));
    assert.deepEqual(encodeCloseFrame(), Buffer.alloc(8));
  });

  it('writes lengths above 2^32 in both words', () => {
    const target = Buffer.alloc(10);
    writeFrameHeader(target, 1, 0x1_0000_0002);
    assert.deepEqual(target, hex('00 02 00 00 00 01 00 00 00 00'));
    assert.equal(readFrameLength(target, 1), 0x1_0000_0002);
    writeFrameHeader(target, 0, Number.MAX_SAFE_INTEGER);
    assert.deepEqual(target.subarray(0, 8), hex('ff ff ff ff ff ff 1f 00'));
    assert.equal(readFrameLength(target, 0), Number.MAX_SAFE_INTEGER);
  });

  it('rejects lengths that are not non-negative safe integers', () => {
    const target = Buffer.alloc(8);
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) {
      assert.throws(() => {
        writeFrameHeader(target, 0, bad);
      }, TypeError);
    }
  });
});

describe('FrameDecoder', () => {
  it('decodes many frames in one chunk, as zero-copy views', () => {
    const seen: Buffer[] = [];
    const decoder = new FrameDecoder({ onFrame: (b) => seen.push(b), onClose: () => undefined });
    const chunk = Buffer.concat([encodeFrame(Buffer.from('a')), encodeFrame(Buffer.from('bcd'))]);
    decoder.push(chunk);
    assert.deepEqual(
      seen.map((b) => b.toString()),
      ['a', 'bcd'],
    );
    assert.equal(seen[0]!.buffer, chunk.buffer, 'a frame inside one chunk is a view of it');
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('decodes a byte at a time', () => {
    const r = recorder();
    const stream = Buffer.concat([
      encodeFrame(Buffer.from('hello')),
      encodeFrame(Buffer.from('world!')),
      encodeCloseFrame(),
    ]);
    for (let i = 0; i < stream.length; i++) {
      r.decoder.push(stream.subarray(i, i + 1));
      assert.ok(r.decoder.bufferedBytes <= 8 + 6);
    }
    assert.deepEqual(
      r.frames.map((b) => b.toString()),
      ['hello', 'world!'],
    );
    assert.equal(r.closes, 1);
    assert.equal(r.decoder.closed, true);
  });

  it('reassembles a frame split across chunks, header split too', () => {
    const r = recorder();
    const body = Buffer.alloc(10_000, 7);
    const stream = encodeFrame(body);
    r.decoder.push(stream.subarray(0, 3));
    assert.equal(r.decoder.bufferedBytes, 3);
    r.decoder.push(stream.subarray(3, 4000));
    assert.equal(r.decoder.bufferedBytes, 3992);
    r.decoder.push(stream.subarray(4000, 9000));
    r.decoder.push(stream.subarray(9000));
    assert.equal(r.frames.length, 1);
    assert.deepEqual(r.frames[0], body);
    assert.equal(r.decoder.bufferedBytes, 0);
  });

  it('completes a pending body and continues with frames in the same chunk', () => {
    const r = recorder();
    const stream = Buffer.concat([encodeFrame(Buffer.from('first')), encodeFrame(Buffer.from('second'))]);
    r.decoder.push(stream.subarray(0, 10));
    r.decoder.push(stream.subarray(10));
    assert.deepEqual(
      r.frames.map((b) => b.toString()),
      ['first', 'second'],
    );
  });

  it('treats a zero-length frame as an orderly close and ignores later bytes', () => {
    const r = recorder();
    r.decoder.push(Buffer.concat([encodeFrame(Buffer.from('x')), encodeCloseFrame(), encodeFrame(Buffer.from('y'))]));
    assert.equal(r.closes, 1);
    assert.equal(r.decoder.closed, true);
    r.decoder.push(encodeFrame(Buffer.from('z')));
    assert.deepEqual(
      r.frames.map((b) => b.toString()),
      ['x'],
    );
    assert.equal(r.closes, 1);
  });

  it('rejects FRAME_TOO_LARGE from the 8-byte header alone', () => {
    const r = recorder(1024);
    const header = Buffer.alloc(8);
    writeFrameHeader(header, 0, 1025);
    assert.throws(
      () => {
        r.decoder.push(header);
      },
      (err: unknown) => err instanceof FrameTooLargeError && err.code === 'FRAME_TOO_LARGE' && err.limit === 1024,
    );
    assert.equal(r.decoder.bufferedBytes, 0);
    assert.equal(r.decoder.failed, true);
  });

  it('rejects a huge declared length with the default limit without buffering', () => {
    const r = recorder();
    const header = Buffer.alloc(8);
    writeFrameHeader(header, 0, DEFAULT_MAX_FRAME_SIZE + 1);
    // Header split in two: the decision still waits for nothing but the 8th byte.
    r.decoder.push(header.subarray(0, 5));
    assert.throws(() => {
      r.decoder.push(header.subarray(5));
    }, FrameTooLargeError);
    assert.ok(r.decoder.bufferedBytes <= FRAME_HEADER_BYTES);
  });

  it('accepts a frame of exactly maxFrameSize', () => {
    const r = recorder(16);
    r.decoder.push(encodeFrame(Buffer.alloc(16, 1)));
    assert.equal(r.frames.length, 1);
  });

  it('rejects a length above 2^53-1 as FRAME_LENGTH_INVALID, not wrapped', () => {
    const r = recorder(Number.MAX_SAFE_INTEGER);
    assert.throws(
      () => {
        r.decoder.push(hex('00 00 00 00 00 00 20 00'));
      },
      (err: unknown) => err instanceof FrameLengthInvalidError && err.length === 2n ** 53n,
    );
    const r2 = recorder();
    assert.throws(() => {
      r2.decoder.push(hex('ff ff ff ff ff ff ff ff'));
    }, FrameLengthInvalidError);
  });

  it('stays failed: every later push throws the same error', () => {
    const r = recorder(4);
    let first: unknown;
    try {
      r.decoder.push(encodeFrame(Buffer.alloc(5)));
    } catch (err) {
      first = err;
    }
    assert.ok(first instanceof MeshError);
    assert.throws(
      () => {
        r.decoder.push(encodeFrame(Buffer.alloc(1)));
      },
      (err: unknown) => err === first,
    );
    assert.equal(r.frames.length, 0);
  });

  it('propagates a handler exception and fails', () => {
    const boom = new Error('boom');
    const decoder = new FrameDecoder({
      onFrame: () => {
        throw boom;
      },
      onClose: () => undefined,
    });
    assert.throws(() => {
      decoder.push(encodeFrame(Buffer.from('a')));
    }, boom);
    assert.equal(decoder.failed, true);
    assert.throws(() => {
      decoder.push(encodeFrame(Buffer.from('b')));
    }, boom);
  });

  it('refuses a re-entrant push from its own handler', () => {
    const decoder: FrameDecoder = new FrameDecoder({
      onFrame: () => {
        decoder.push(encodeFrame(Buffer.from('inner')));
      },
      onClose: () => undefined,
    });
    assert.throws(() => {
      decoder.push(encodeFrame(Buffer.from('outer')));
    }, /inside its own handler/);
    assert.equal(decoder.failed, true);
  });

  it('validates maxFrameSize', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => new FrameDecoder({ onFrame: () => undefined, onClose: () => undefined }, { maxFrameSize: bad }),
        TypeError,
      );
    }
  });

  it('assembles a maximum-size frame from 64 KiB chunks into one preallocated buffer', () => {
    const seen: Buffer[] = [];
    const decoder = new FrameDecoder({ onFrame: (b) => seen.push(b), onClose: () => undefined });
    const body = Buffer.alloc(DEFAULT_MAX_FRAME_SIZE);
    for (let i = 0; i < body.length; i += 4093) body[i] = i & 0xff;
    const stream = encodeFrame(body);
    for (let offset = 0; offset < stream.length; offset += 65536) {
      decoder.push(stream.subarray(offset, offset + 65536));
      assert.ok(decoder.bufferedBytes <= DEFAULT_MAX_FRAME_SIZE + FRAME_HEADER_BYTES);
    }
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.length, DEFAULT_MAX_FRAME_SIZE);
    assert.ok(seen[0]!.equals(body));
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('ignores empty chunks', () => {
    const r = recorder();
    r.decoder.push(Buffer.alloc(0));
    assert.equal(r.decoder.bufferedBytes, 0);
    assert.equal(r.frames.length, 0);
  });
});
