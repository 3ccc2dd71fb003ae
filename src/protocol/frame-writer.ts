// Writes frames to a socket with per-tick coalescing; both ends of the protocol use this one writer.

/** The part of a net.Socket the writer needs (a tls.TLSSocket is one too). */
export interface CorkableSocket {
  cork(): void;
  uncork(): void;
  write(bytes: Uint8Array): boolean;
}

/**
 * The first frame of a tick goes out at once (no added latency for a lone frame); later frames in the same tick are
 * corked and leave together in one writev when the tick ends, which saves most syscalls under load.
 */
export class FrameWriter {
  readonly #socket: CorkableSocket;
  /** 0: nothing written this tick; 1: one frame went straight out; 2: corked, the rest of the tick coalesces. */
  #tickWrites: 0 | 1 | 2 = 0;
  readonly #endTick = (): void => {
    if (this.#tickWrites === 2) this.#socket.uncork();
    this.#tickWrites = 0;
  };

  constructor(socket: CorkableSocket) {
    this.#socket = socket;
  }

  /** Queues one frame (header and body in one buffer). The caller checks the socket is writable. */
  write(frame: Uint8Array): void {
    if (this.#tickWrites === 0) {
      this.#tickWrites = 1;
      process.nextTick(this.#endTick);
    } else if (this.#tickWrites === 1) {
      this.#tickWrites = 2;
      this.#socket.cork();
    }
    this.#socket.write(frame);
  }

  /** Hands what this tick wrote to the kernel now (call before destroying the socket). */
  flush(): void {
    this.#endTick();
  }
}
