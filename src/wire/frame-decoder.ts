// Streaming decoder for [u64 LE length][body] frames: takes socket chunks of any size, drives a handler.
import { FrameTooLargeError } from '../errors.ts';
import { DEFAULT_MAX_FRAME_SIZE, FRAME_HEADER_BYTES, readFrameLength } from './frame-header.ts';

/**
 * Bodies up to this size get their whole buffer as soon as the header is read; larger ones start here and double as
 * bytes arrive, so a peer cannot make the decoder reserve maxFrameSize with a 9-byte message.
 */
export const PREALLOCATE_MAX_BYTES = 1024 * 1024;

/**
 * Receives what a FrameDecoder finds in the byte stream.
 *
 * Buffer ownership: `body` belongs to the handler from the moment onFrame is called; the decoder never reads or
 * writes it again. When a frame lies wholly inside one pushed chunk, `body` is a view (subarray) of that chunk, so
 * it shares memory with it; otherwise it is a buffer the decoder assembled for that frame alone (allocated once
 * from the header for bodies up to 1 MiB, grown by doubling for larger ones). Keeping a small view keeps the whole
 * chunk alive: copy it if you retain it for long.
 *
 * Exceptions thrown by the handler propagate out of `push()` and leave the decoder failed (the rest of that chunk
 * is lost, so the stream position can no longer be trusted).
 */
export interface FrameHandler {
  /** One complete frame body (length > 0). */
  onFrame(body: Buffer): void;
  /** The peer sent a zero-length frame: an orderly close. Called at most once; no frame follows it. */
  onClose(): void;
}

export interface FrameDecoderOptions {
  /** Largest accepted body in bytes; default 16 MiB. A larger declared length fails from the header alone. */
  maxFrameSize?: number;
}

/**
 * Turns a byte stream into frames. Pure: no sockets, no timers.
 *
 * `push(chunk)` hands the chunk to the decoder: the caller must not modify it afterwards (frame bodies may be views
 * into it). Node never reuses the buffers a socket emits, so socket chunks can be pushed as they are.
 *
 * Errors: FrameLengthInvalidError (declared length above 2^53-1) and FrameTooLargeError (declared length above
 * maxFrameSize) are thrown from the 8-byte header, before any of the body is buffered. After an error the decoder
 * is failed: every later push throws the same error. After an orderly close (zero-length frame) later bytes are
 * ignored.
 */
export class FrameDecoder {
  readonly #handler: FrameHandler;
  readonly #maxFrameSize: number;
  /** Partial header bytes, allocated the first time a header straddles chunks (an idle decoder holds no buffer). */
  #header: Buffer | undefined;
  #headerFill = 0;
  /** Body under assembly, or null between frames; `#bodyLength` is its declared length. */
  #body: Buffer | null = null;
  #bodyLength = 0;
  #bodyFill = 0;
  #closed = false;
  #failure: unknown = undefined;
  #failed = false;
  #pushing = false;

  constructor(handler: FrameHandler, options: FrameDecoderOptions = {}) {
    const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    if (!Number.isSafeInteger(maxFrameSize) || maxFrameSize < 1) {
      throw new TypeError(`maxFrameSize must be a positive safe integer, got ${String(maxFrameSize)}`);
    }
    this.#handler = handler;
    this.#maxFrameSize = maxFrameSize;
  }

  get maxFrameSize(): number {
    return this.#maxFrameSize;
  }

  /** Bytes held for an incomplete header or body; never more than maxFrameSize + 8. */
  get bufferedBytes(): number {
    return this.#headerFill + this.#bodyFill;
  }

  /** True once a zero-length frame arrived; later bytes are ignored. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True once push threw; every later push throws the same error. */
  get failed(): boolean {
    return this.#failed;
  }

  push(chunk: Buffer): void {
    if (this.#failed) throw this.#failure;
    if (this.#closed) return;
    // A handler pushing into its own decoder would interleave two positions in one stream.
    if (this.#pushing) throw new TypeError('FrameDecoder.push called from inside its own handler');
    this.#pushing = true;
    try {
      this.#consume(chunk);
    } catch (err) {
      this.#fail(err);
      throw err;
    } finally {
      this.#pushing = false;
    }
  }

  #fail(err: unknown): void {
    this.#failed = true;
    this.#failure = err;
    this.#body = null;
    this.#bodyLength = 0;
    this.#bodyFill = 0;
    this.#headerFill = 0;
  }

  #consume(chunk: Buffer): void {
    const end = chunk.length;
    let offset = 0;

    // A pending body either completes inside this chunk or swallows all of it (then the loop does not run).
    if (this.#body !== null) offset = this.#fillBody(chunk, 0);

    while (offset < end && !this.#closed) {
      let length: number;
      if (this.#headerFill === 0 && end - offset >= FRAME_HEADER_BYTES) {
        length = this.#checkLength(readFrameLength(chunk, offset));
        offset += FRAME_HEADER_BYTES;
      } else {
        const take = Math.min(FRAME_HEADER_BYTES - this.#headerFill, end - offset);
        const header = (this.#header ??= Buffer.allocUnsafe(FRAME_HEADER_BYTES));
        chunk.copy(header, this.#headerFill, offset, offset + take);
        this.#headerFill += take;
        offset += take;
        if (this.#headerFill < FRAME_HEADER_BYTES) return;
        this.#headerFill = 0;
        length = this.#checkLength(readFrameLength(header, 0));
      }

      if (length === 0) {
        this.#closed = true;
        this.#handler.onClose();
        return;
      }
      if (end - offset >= length) {
        // Zero-copy: the whole body is inside this chunk.
        const body = chunk.subarray(offset, offset + length);
        offset += length;
        this.#handler.onFrame(body);
      } else {
        this.#body = Buffer.allocUnsafe(Math.min(length, PREALLOCATE_MAX_BYTES));
        this.#bodyLength = length;
        this.#bodyFill = 0;
        offset = this.#fillBody(chunk, offset);
      }
    }
  }

  /** Copies what the chunk holds of the pending body; emits it when complete. Returns the new offset. */
  #fillBody(chunk: Buffer, offset: number): number {
    let body = this.#body;
    if (body === null) return offset;
    const take = Math.min(this.#bodyLength - this.#bodyFill, chunk.length - offset);
    const needed = this.#bodyFill + take;
    if (needed > body.length) {
      // Doubling keeps the extra copying below one body length in total.
      const grown = Buffer.allocUnsafe(Math.min(this.#bodyLength, Math.max(body.length * 2, needed)));
      body.copy(grown, 0, 0, this.#bodyFill);
      body = this.#body = grown;
    }
    chunk.copy(body, this.#bodyFill, offset, offset + take);
    this.#bodyFill = needed;
    if (needed === this.#bodyLength) {
      this.#body = null;
      this.#bodyLength = 0;
      this.#bodyFill = 0;
      this.#handler.onFrame(body);
    }
    return offset + take;
  }

  #checkLength(length: number): number {
    if (length > this.#maxFrameSize) throw new FrameTooLargeError(length, this.#maxFrameSize);
    return length;
  }
}
