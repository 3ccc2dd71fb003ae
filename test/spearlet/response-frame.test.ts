import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ResponseFrame } from '../../src/spearlet/response-frame.ts';
import { encodeResponse } from '../../src/wire/index.ts';
import { assertEncodesAs } from '../helpers/in-place-frame.ts';

describe('ResponseFrame (RESPONSE encoded in place)', () => {
  it('writes the same bytes as encodeResponse, at any offset, for any safe id, status and body', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: BigInt(Number.MAX_SAFE_INTEGER) }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.uint8Array({ maxLength: 5000 }),
        fc.nat({ max: 64 }),
        (id, status, body, offset) => {
          const expected = encodeResponse(id, status, body);
          assert.ok(ResponseFrame.fits(id, status, body));
          const frame = new ResponseFrame();
          frame.set(id, status, body);
          assertEncodesAs(frame, expected, offset);
        },
      ),
    );
  });

  it('refuses what encodeResponse would reject or encode with BigInt arithmetic', () => {
    const body = Buffer.alloc(1);
    assert.equal(ResponseFrame.fits(BigInt(Number.MAX_SAFE_INTEGER) + 1n, 0, body), false);
    assert.equal(ResponseFrame.fits(-1n, 0, body), false);
    assert.equal(ResponseFrame.fits(1n, 0x1_0000, body), false);
    assert.equal(ResponseFrame.fits(1n, 1.5, body), false);
    assert.equal(ResponseFrame.fits(1n, 0, 'not bytes'), false);
    assert.throws(() => encodeResponse(1n, 0x1_0000, body), TypeError);
  });
});
