import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RequestFrame } from '../../src/conn/request-frame.ts';
import { MAX_DEADLINE_MS, encodeRequest } from '../../src/wire/index.ts';
import { assertEncodesAs } from '../helpers/in-place-frame.ts';

describe('RequestFrame (REQUEST encoded in place)', () => {
  it('writes the same bytes as encodeRequest, at any offset, for any id, flags, deadline, method and body', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: MAX_DEADLINE_MS }),
        fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }),
        fc.uint8Array({ maxLength: 300 }),
        fc.nat({ max: 64 }),
        (id, flags, deadlineMs, method, body, offset) => {
          const expected = encodeRequest(BigInt(id), flags, deadlineMs, method, body);
          const frame = new RequestFrame();
          assert.ok(RequestFrame.fits(deadlineMs, body));
          frame.set(id, flags, deadlineMs, method, body);
          assertEncodesAs(frame, expected, offset);
        },
      ),
    );
  });

  it('throws the TypeError encodeRequest throws for a method name it cannot encode; leaves the rest to it', () => {
    const frame = new RequestFrame();
    assert.throws(() => {
      frame.set(1, 0, 0, 'bad\ud800', Buffer.alloc(1));
    }, TypeError);
    assert.throws(() => encodeRequest(1n, 0, 0, 'bad\ud800', Buffer.alloc(1)), TypeError);
    assert.equal(RequestFrame.fits(MAX_DEADLINE_MS + 1, Buffer.alloc(1)), false);
    assert.equal(RequestFrame.fits(0, 'not bytes'), false);
  });
});
