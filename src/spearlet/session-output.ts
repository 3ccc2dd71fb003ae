// The outbound side of one spearlet session: its frame writer, the heartbeat's sent mark, the bytes-out tally and
// backpressure (stop reading a peer that does not read our replies).
import type { Socket } from 'node:net';
import { FrameWriter, type InPlaceFrame } from '../protocol/frame-writer.ts';
import type { HeartbeatMonitor } from '../protocol/heartbeat.ts';
import type { Tally } from '../metrics/spearlet-metrics.ts';
import { MESSAGE_HEADER_BYTES, MessageKind } from '../wire/index.ts';
import type { FaultHooks, PartitionHold } from './fault-hooks.ts';

/** Length header plus kind, flags and id. */
const PONG_FRAME_BYTES = 8 + MESSAGE_HEADER_BYTES;

export interface SessionOutputDeps {
  readonly socket: Socket;
  readonly heartbeat: HeartbeatMonitor;
  readonly bytesOut: Tally;
  readonly faults: FaultHooks | undefined;
  readonly hold: PartitionHold;
  readonly writeHighWaterMark: number;
}

/** A FrameWriter (extended rather than held, like the fields below: fewer objects per idle connection). */
export class SessionOutput extends FrameWriter {
  readonly #socket: Socket;
  readonly #heartbeat: HeartbeatMonitor;
  readonly #bytesOut: Tally;
  readonly #faults: FaultHooks | undefined;
  readonly #hold: PartitionHold;
  readonly #writeHighWaterMark: number;
  /** False once the session ended or destroyed its socket: later frames are dropped. */
  writable = true;
  #pausedForBackpressure = false;

  constructor(deps: SessionOutputDeps) {
    super(deps.socket);
    this.#socket = deps.socket;
    this.#heartbeat = deps.heartbeat;
    this.#bytesOut = deps.bytesOut;
    this.#faults = deps.faults;
    this.#hold = deps.hold;
    this.#writeHighWaterMark = deps.writeHighWaterMark;
  }

  /** The socket is paused until our replies drain. */
  get paused(): boolean {
    return this.#pausedForBackpressure;
  }

  /** Queues one frame; it leaves with the others of this tick (or of this chunk, see hold()). */
  send(frame: Buffer): void {
    if (!this.#admit(frame.length)) return;
    this.write(frame);
    this.#checkBackpressure();
  }

  /** send() of a frame that encodes itself into the writer's memory, before this returns (writeInPlace). */
  sendInPlace(frame: InPlaceFrame): void {
    if (!this.#admit(frame.size)) return;
    this.writeInPlace(frame);
    this.#checkBackpressure();
  }

  /** send() of the PONG answering `ping` (a PING frame body), written straight into the writer's slab. */
  sendPong(ping: Buffer): void {
    if (!this.#admit(PONG_FRAME_BYTES)) return;
    this.writeControl(MessageKind.PONG, ping, 2);
    this.#checkBackpressure();
  }

  /** Whether a frame of `bytes` may go now; if so counts it as sent (heartbeat and bytes-out metric). */
  #admit(bytes: number): boolean {
    if (!this.writable || this.#faults?.partitioned === true) return false;
    this.#heartbeat.markSent();
    this.#bytesOut.inc(bytes);
    return true;
  }

  /** No frame after this one: the frames of this tick (a CLOSE or ERROR frame) go out before the FIN. */
  override end(): void {
    this.writable = false;
    super.end();
  }

  onDrain(): void {
    // Draining our output proves the peer is alive even while we are not reading from it.
    this.#heartbeat.markReceived();
    if (this.#pausedForBackpressure) {
      this.#pausedForBackpressure = false;
      if (!this.#hold.active) this.#socket.resume();
    }
  }

  #checkBackpressure(): void {
    if (!this.#pausedForBackpressure && this.bufferedBytes > this.#writeHighWaterMark) {
      // The peer is not reading: stop reading its requests until our replies drain.
      this.#pausedForBackpressure = true;
      this.#socket.pause();
    }
  }
}
