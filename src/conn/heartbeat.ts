// Liveness bookkeeping for one connection: cheap per-frame marks, judged once per tick of the coarse timer.

export type HeartbeatVerdict = 'ok' | 'ping' | 'dead';

/**
 * Frames only set a flag (no clock read per frame); `check(now)` turns the flags into timestamps and says whether
 * to PING (nothing sent for intervalMs) or give up (nothing received for timeoutMs). Timing is as coarse as the
 * tick, which is far finer than any heartbeat.
 */
export class HeartbeatMonitor {
  #intervalMs = 0;
  #timeoutMs = 0;
  #sent = false;
  #received = false;
  #lastSentAt = 0;
  #lastReceivedAt = 0;
  #seq = 0n;

  /** Starts judging with these periods, counting from `now` as if a frame had just gone each way. */
  reset(intervalMs: number, timeoutMs: number, now: number): void {
    this.#intervalMs = intervalMs;
    this.#timeoutMs = timeoutMs;
    this.#lastSentAt = now;
    this.#lastReceivedAt = now;
    this.#sent = false;
    this.#received = false;
  }

  markSent(): void {
    this.#sent = true;
  }

  markReceived(): void {
    this.#received = true;
  }

  /** How long nothing was received, as of the last check. */
  silentMs(now: number): number {
    return now - this.#lastReceivedAt;
  }

  /** The next PING sequence number. */
  nextPingId(): bigint {
    return ++this.#seq;
  }

  /** 'ping' also counts as sending now, so the caller must write the PING. */
  check(now: number): HeartbeatVerdict {
    if (this.#received) {
      this.#received = false;
      this.#lastReceivedAt = now;
    }
    if (this.#sent) {
      this.#sent = false;
      this.#lastSentAt = now;
    }
    if (now - this.#lastReceivedAt >= this.#timeoutMs) return 'dead';
    if (now - this.#lastSentAt >= this.#intervalMs) {
      this.#lastSentAt = now;
      return 'ping';
    }
    return 'ok';
  }
}
