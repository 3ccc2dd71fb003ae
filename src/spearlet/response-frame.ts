// An OK RESPONSE frame that encodes itself into the frame writer's memory (FrameWriter.writeInPlace): no buffer
// per response (a 4 KiB one would otherwise get an ArrayBuffer of its own, above Node's pool size) and no copy
// beyond the body's one into the writer's slab. Bytes equal encodeResponse's (test/spearlet/response-frame.test.ts).
import type { InPlaceFrame } from '../protocol/frame-writer.ts';
import { FRAME_HEADER_BYTES, MessageKind, RESPONSE_PREFIX_BYTES, putU16le, putU64le } from '../wire/index.ts';

const MAX_SAFE_ID = BigInt(Number.MAX_SAFE_INTEGER);
const EMPTY = Buffer.alloc(0);

export class ResponseFrame implements InPlaceFrame {
  size = 0;
  #id = 0;
  #status = 0;
  #body: Uint8Array = EMPTY;

  /** True when set() can take these values; otherwise encode with encodeResponse (which checks them). */
  static fits(id: bigint, status: number, body: unknown): boolean {
    return (
      id >= 0n &&
      id <= MAX_SAFE_ID &&
      Number.isInteger(status) &&
      status >= 0 &&
      status <= 0xffff &&
      body instanceof Uint8Array
    );
  }

  /** Sets the next response to write; the values must pass fits(). */
  set(id: bigint, status: number, body: Uint8Array): void {
    this.#id = Number(id);
    this.#status = status;
    this.#body = body;
    this.size = FRAME_HEADER_BYTES + RESPONSE_PREFIX_BYTES + body.byteLength;
  }

  encodeInto(target: Buffer, offset: number): void {
    // Byte stores: the writer reserved exactly `size` bytes at `offset`, so Buffer's checked writers add nothing but
    // their checks.
    putU64le(target, offset, this.size - FRAME_HEADER_BYTES);
    const at = offset + FRAME_HEADER_BYTES;
    target[at] = MessageKind.RESPONSE;
    target[at + 1] = 0;
    putU64le(target, at + 2, this.#id);
    putU16le(target, at + 10, this.#status);
    target.set(this.#body, at + RESPONSE_PREFIX_BYTES);
    // Drop the handler's body: the object outlives this response.
    this.#body = EMPTY;
  }
}
