// Checks an in-place frame (FrameWriter.writeInPlace) against the bytes of the encoder it stands in for.
import assert from 'node:assert/strict';
import type { InPlaceFrame } from '../../src/protocol/frame-writer.ts';

/** `frame` encodes exactly `expected` at `offset`, and writes nothing before or after it. */
export function assertEncodesAs(frame: InPlaceFrame, expected: Uint8Array, offset: number): void {
  assert.equal(frame.size, expected.length);
  const target = Buffer.alloc(offset + frame.size + 8, 0xee);
  frame.encodeInto(target, offset);
  assert.deepEqual(target.subarray(offset, offset + frame.size), Buffer.from(expected));
  assert.ok(
    target.subarray(0, offset).every((b) => b === 0xee),
    'nothing written before the offset',
  );
  assert.ok(
    target.subarray(offset + frame.size).every((b) => b === 0xee),
    'nothing written after the frame',
  );
}
