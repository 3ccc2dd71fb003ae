import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MeshError } from '../../src/errors.ts';
import { FrameDecoder, encodeCloseFrame, encodeFrame } from '../../src/wire/frame.ts';
import { PREALLOCATE_MAX_BYTES } from '../../src/wire/frame-decoder.ts';
import {
  decodeMessage,
  encodeControl,
  encodeJson,
  encodeRequest,
  encodeResponse,
  encodeSignal,
  type ControlKind,
  type JsonKind,
  type MeshMessage,
} from '../../src/wire/message.ts';

/** An encoded frame and the message decoding it must give back. */
interface Case {
  frame: Buffer;
  expected: MeshMessage;
}

const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const body = fc.uint8Array({ maxLength: 300 });
const name = fc.string({ unit: 'binary', maxLength: 40 });

const caseArb: fc.Arbitrary<Case> = fc.oneof(
  fc
    .record({
      id: fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }),
      flags: fc.integer({ min: 0, max: 255 }),
      deadlineMs: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      method: name,
      body,
    })
    .map(({ id, flags, deadlineMs, method, body: b }): Case => ({
      frame: encodeRequest(id, flags, deadlineMs, method, b),
      expected: { kind: 3, flags, id, deadlineMs, method, body: Buffer.from(b) },
    })),
  fc.record({ id: u64, status: fc.integer({ min: 0, max: 65535 }), body }).map(({ id, status, body: b }): Case => ({
    frame: encodeResponse(id, status, b),
    expected: { kind: 4, flags: 0, id, status, body: Buffer.from(b) },
  })),
  fc.record({ name, body }).map(({ name: n, body: b }): Case => ({
    frame: encodeSignal(n, b),
    expected: { kind: 5, flags: 0, id: 0n, name: n, body: Buffer.from(b) },
  })),
  fc.record({ kind: fc.constantFrom<ControlKind>(6, 7, 11), id: u64 }).map(({ kind, id }): Case => ({
    frame: encodeControl(kind, id),
    expected: { kind, flags: 0, id },
  })),
  fc
    .record({
      kind: fc.constantFrom<JsonKind>(1, 2, 8, 9, 10),
      id: u64,
      value: fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
    })
    .map(({ kind, id, value }): Case => ({
      frame: encodeJson(kind, id, value),
      expected: { kind, flags: 0, id, payload: Buffer.from(JSON.stringify(value), 'utf8') },
    })),
);

/** Cuts `stream` at the given points (taken modulo its length, sorted). */
function split(stream: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => (stream.length === 0 ? 0 : c % (stream.length + 1))))].sort(
    (a, b) => a - b,
  );
  const chunks: Buffer[] = [];
  let start = 0;
  for (const p of points) {
    chunks.push(stream.subarray(start, p));
    start = p;
  }
  chunks.push(stream.subarray(start));
  return chunks;
}

describe('wire properties', () => {
  it('a random split of encoded messages decodes to exactly those messages', () => {
    fc.assert(
      fc.property(fc.array(caseArb, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 40 }), (cases, cuts) => {
        const decoded: MeshMessage[] = [];
        let closed = 0;
        const decoder = new FrameDecoder({
          onFrame: (b) => decoded.push(decodeMessage(b)),
          onClose: () => {
            closed++;
          },
        });
        const stream = Buffer.concat([...cases.map((c) => c.frame), encodeCloseFrame()]);
        for (const chunk of split(stream, cuts)) decoder.push(chunk);
        assert.deepEqual(
          decoded,
          cases.map((c) => c.expected),
        );
        assert.equal(closed, 1);
        assert.equal(decoder.bufferedBytes, 0);
      }),
      { numRuns: 300 },
    );
  });

  it('bodies above the preallocation limit grow correctly under random splits', () => {
    const sizes = [PREALLOCATE_MAX_BYTES + 1, 2 * PREALLOCATE_MAX_BYTES + 12_345, 5];
    const bodies = sizes.map((size, n) => {
      const b = Buffer.allocUnsafe(size);
      for (let i = 0; i < size; i += 997) b[i] = (i + n) & 0xff;
      b[size - 1] = 0x7f;
      return b;
    });
    const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)));
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 60 }), (cuts) => {
        const seen: Buffer[] = [];
        const decoder = new FrameDecoder(
          { onFrame: (b) => seen.push(b), onClose: () => undefined },
          { maxFrameSize: 3 * PREALLOCATE_MAX_BYTES },
        );
        for (const chunk of split(stream, cuts)) {
          decoder.push(chunk);
          assert.ok(decoder.bufferedBytes <= 3 * PREALLOCATE_MAX_BYTES + 8);
        }
        assert.equal(seen.length, bodies.length);
        seen.forEach((b, i) => {
          assert.ok(b.equals(bodies[i]!), `frame ${i}`);
        });
      }),
      { numRuns: 25 },
    );
  });

  it('random garbage only ever raises MeshError and never over-buffers', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4096 }),
        fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 30 }),
        fc.boolean(),
        (maxFrameSize, chunks, smallLengths) => {
          const decoder = new FrameDecoder(
            {
              onFrame: (b) => {
                try {
                  decodeMessage(b);
                } catch (err) {
                  if (!(err instanceof MeshError)) throw err;
                }
              },
              onClose: () => undefined,
            },
            { maxFrameSize },
          );
          for (const raw of chunks) {
            const chunk = Buffer.from(raw);
            // Half the runs make headers plausible, so bodies actually get buffered and decoded.
            if (smallLengths && chunk.length >= 8) chunk.fill(0, 1, 8);
            try {
              decoder.push(chunk);
            } catch (err) {
              assert.ok(err instanceof MeshError, `unexpected ${String(err)}`);
              break;
            }
            assert.ok(decoder.bufferedBytes <= maxFrameSize + 8);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('decodeMessage on random bodies only raises MeshError', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 12 }), fc.uint8Array({ maxLength: 80 }), (kind, rest) => {
        const b = Buffer.concat([Buffer.from([kind]), rest]);
        try {
          decodeMessage(b);
        } catch (err) {
          assert.ok(err instanceof MeshError, `unexpected ${String(err)}`);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
