// Writes frames to a socket with per-tick coalescing; both ends of the protocol use this one writer.

/** The part of a net.Socket the writer needs (a tls.TLSSocket is one too). */
export interface CorkableSocket {
  cork(): void;
  uncork(): void;
  write(bytes: Uint8Array): boolean;
  end(): unknown;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
  readonly writableLength: number;
}

/** A frame that encodes itself into memory the writer provides, instead of arriving in a buffer of its own. */
export interface InPlaceFrame {
  /** The frame's size in bytes, length header included. */
  readonly size: number;
  /** Writes exactly `size` bytes at `offset` of `target`; must not throw (the bytes are already reserved). */
  encodeInto(target: Buffer, offset: number): void;
}

/**
 * Frames up to this size are copied into the shared slab; larger ones are handed to the socket as they are (one
 * writev). Copying 4 KiB frames measured slower: a tick of sixteen overflowed the slab, so it still took a writev, plus
 * the copies and a fresh slab per tick.
 */
const COPY_MAX_BYTES = 1024;
/**
 * Frames encoded in place (writeInPlace) up to this size go into the slab: for them the slab costs no copy, and it
 * replaces a buffer of their own (an ArrayBuffer each above 4 KiB, where Node's pool stops).
 */
const IN_PLACE_MAX_BYTES = 16 * 1024;
/**
 * Size of one shared slab. A region handed to a socket is written again only once the socket took it whole (see
 * reclaim); a full slab is replaced.
 */
const SLAB_BYTES = 64 * 1024;

/**
 * One slab shared by every writer in the process (an idle connection holds no buffer of its own). Each writer
 * appends to the slab's end; its frames of one tick stay contiguous unless another writer appended in between.
 */
let slab = Buffer.allocUnsafe(SLAB_BYTES);
let slabEnd = 0;

/** A control frame: the 8-byte length header (10), then kind, flags and the 8-byte id. */
const CONTROL_FRAME_BYTES = 18;

/**
 * Collects the frames written in one tick and hands them to the socket at the end of the tick (process.nextTick,
 * which runs after the promise continuations that wrote them) in one write: small frames are copied into one
 * contiguous run of a shared slab, so a tick's frames usually leave in one `write` syscall; a tick that also carries
 * large frames leaves in one corked `writev`.
 */
export class FrameWriter {
  readonly #socket: CorkableSocket;
  /** Runs that are complete (large frames, or slab runs another writer interrupted), oldest first. */
  #parts: Uint8Array[] | undefined;
  /** The open run in the shared slab: `#run` is the slab it lives in, [#runStart, #runEnd) its bytes. */
  #run: Buffer | undefined;
  #runStart = 0;
  #runEnd = 0;
  #pendingBytes = 0;
  #scheduled = false;
  /** Inside hold()/release(): frames wait for release() instead of a nextTick. */
  #held = false;

  constructor(socket: CorkableSocket) {
    this.#socket = socket;
  }

  /** Bytes queued in the socket plus the frames of this tick not yet handed to it (for backpressure checks). */
  get bufferedBytes(): number {
    return this.#socket.writableLength + this.#pendingBytes;
  }

  /** Queues one frame (header and body in one buffer); it leaves with the other frames of this tick. */
  write(frame: Uint8Array): void {
    const size = frame.length;
    this.#pendingBytes += size;
    if (size <= COPY_MAX_BYTES) this.#append(frame, size);
    else {
      this.#closeRun();
      (this.#parts ??= []).push(frame);
    }
    this.#schedule();
  }

  /**
   * Queues an 18-byte control frame (PING, PONG or CANCEL: [u64 LE 10][u8 kind][u8 flags 0][u64 LE id]) whose id is
   * the 8 bytes at `idOffset` in `source`, written straight into the slab: a PONG answers a PING without decoding its
   * id or allocating a frame.
   */
  writeControl(kind: number, source: Uint8Array, idOffset: number): void {
    this.#pendingBytes += CONTROL_FRAME_BYTES;
    // Reserve first: it may replace a full slab, and `slab` must be read after that.
    const at = this.#reserve(CONTROL_FRAME_BYTES);
    const b = slab;
    // Byte stores beat a TypedArray.set call at this size.
    b[at] = 10;
    for (let i = 1; i < 8; i++) b[at + i] = 0;
    b[at + 8] = kind;
    b[at + 9] = 0;
    for (let i = 0; i < 8; i++) b[at + 10 + i] = source[idOffset + i] as number;
    this.#schedule();
  }

  /**
   * Frames written from now until release() leave in release() itself rather than at the end of the tick: a session
   * holds its writer while it handles one received chunk, so the replies it writes synchronously go out in one write
   * without a nextTick. Replies written later (promise continuations) are scheduled as usual.
   */
  hold(): void {
    this.#held = true;
  }

  /** Ends hold() and hands what was written meanwhile to the socket. */
  release(): void {
    this.#held = false;
    if (this.#pendingBytes > 0) this.flush();
  }

  #schedule(): void {
    if (!this.#scheduled && !this.#held) {
      this.#scheduled = true;
      // A shared function with the writer as its argument: no closure per writer (idle connections stay small).
      process.nextTick(endTick, this);
    }
  }

  /**
   * Queues one frame that encodes itself (see InPlaceFrame): one up to 16 KiB straight into this tick's run of the
   * shared slab (no buffer of its own, no copy), a larger one into a buffer of its own. It leaves with the other frames of
   * this tick, as with write().
   */
  writeInPlace(frame: InPlaceFrame): void {
    const size = frame.size;
    this.#pendingBytes += size;
    if (size <= IN_PLACE_MAX_BYTES) {
      // Reserve first: it may replace a full slab, and `slab` must be read after that.
      const at = this.#reserve(size);
      frame.encodeInto(slab, at);
    } else {
      const own = Buffer.allocUnsafe(size);
      frame.encodeInto(own, 0);
      this.#closeRun();
      (this.#parts ??= []).push(own);
    }
    this.#schedule();
  }

  /** Hands what this tick wrote to the socket now (before ending or destroying it). Idempotent. */
  flush(): void {
    this.#scheduled = false;
    if (this.#pendingBytes === 0) return;
    const socket = this.#socket;
    const run = this.#run;
    this.#pendingBytes = 0;
    if (this.#parts === undefined && run !== undefined) {
      // The common tick: one contiguous run of small frames, one write.
      this.#run = undefined;
      if (!socket.destroyed && !socket.writableEnded) {
        socket.write(run.subarray(this.#runStart, this.#runEnd));
        reclaim(socket, run, this.#runStart, this.#runEnd);
      }
      return;
    }
    this.#closeRun();
    const parts = this.#parts ?? [];
    this.#parts = undefined;
    // A socket that went away in the meantime drops the frames, as a write to it would.
    if (socket.destroyed || socket.writableEnded) return;
    if (parts.length === 1) socket.write(parts[0] as Uint8Array);
    else {
      socket.cork();
      for (const part of parts) socket.write(part);
      socket.uncork();
    }
    const last = parts[parts.length - 1] as Uint8Array;
    const at = last.byteOffset - slab.byteOffset;
    if (last.buffer === slab.buffer) reclaim(socket, slab, at, at + last.length);
  }

  /** Flushes this tick's frames, then ends the socket (an orderly close after the last frame). */
  end(): void {
    this.flush();
    this.#socket.end();
  }

  #append(frame: Uint8Array, size: number): void {
    // Reserve first: it may replace a full slab, and `slab` must be read after that.
    const at = this.#reserve(size);
    slab.set(frame, at);
  }

  /** Extends this writer's open run of the shared slab by `size` bytes; returns where they start in `slab`. */
  #reserve(size: number): number {
    if (this.#run !== slab || this.#runEnd !== slabEnd || slabEnd + size > slab.length) {
      this.#closeRun();
      if (slabEnd + size > slab.length) {
        slab = Buffer.allocUnsafe(SLAB_BYTES);
        slabEnd = 0;
      }
      this.#run = slab;
      this.#runStart = this.#runEnd = slabEnd;
    }
    const at = slabEnd;
    slabEnd += size;
    this.#runEnd = slabEnd;
    return at;
  }

  #closeRun(): void {
    if (this.#run === undefined) return;
    if (this.#runEnd > this.#runStart) (this.#parts ??= []).push(this.#run.subarray(this.#runStart, this.#runEnd));
    this.#run = undefined;
  }
}

/**
 * Gives the bytes [start, end) of `run` back to the shared slab when the socket took them whole before write()
 * returned: nothing is queued in it (`writableLength` 0: the write completed synchronously and its callback ran, so
 * neither Node nor the kernel refers to the region any more) and they are the slab's last bytes. The next frames of
 * any writer then reuse that memory, so a connection whose writes complete at once (the usual case) never fills a slab
 * and allocates none: at 4 KiB x16, a fresh 64 KiB slab every tick was most of the spearlet's garbage.
 */
function reclaim(socket: CorkableSocket, run: Buffer, start: number, end: number): void {
  if (run === slab && slabEnd === end && socket.writableLength === 0) slabEnd = start;
}

function endTick(writer: FrameWriter): void {
  writer.flush();
}
