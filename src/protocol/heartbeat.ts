// Liveness bookkeeping for one connection, either end: cheap per-frame marks, judged once per tick of the coarse timer.

export type HeartbeatVerdict = 'ok' | 'ping' | 'dead';

/**
 * Frames only set a flag (no clock read per frame); `check(now)` turns the flags into timestamps and says whether
 * to PING (nothing sent for intervalMs) or give up (nothing received for timeoutMs). Timing is as coarse as the
 * tick, which is far finer than any heartbeat.
 */
export class HeartbeatMonitor {
  #intervalMs = 0;
  #timeoutMs = 0;
  #quietWhilePeerPings = false;
  #sent = false;
  #received = false;
  #peerPinged = false;
  #lastSentAt = 0;
  #lastReceivedAt = 0;
  #lastPeerPingAt = Number.NEGATIVE_INFINITY;
  #receivedSincePing = true;
  #missed = 0;
  #seq = 0n;
  #lastCheckAt = 0;

  /**
   * Starts judging with these periods, counting from `now` as if a frame had just gone each way. With
   * `quietWhilePeerPings`, no PING is sent while the peer pinged within two intervals: our PONGs already feed its
   * heartbeat, and one end pinging is enough.
   */
  reset(intervalMs: number, timeoutMs: number, now: number, quietWhilePeerPings = false): void {
    this.#intervalMs = intervalMs;
    this.#timeoutMs = timeoutMs;
    this.#quietWhilePeerPings = quietWhilePeerPings;
    this.touch(now);
  }

  /** Counts from `now` as if a frame had just gone each way (a new socket, or a pause that is over). */
  touch(now: number): void {
    this.#lastCheckAt = now;
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

  /** The peer sent a PING (it runs its own heartbeat). */
  markPeerPing(): void {
    this.#peerPinged = true;
  }

  /** How long nothing was received, as of the last check. */
  silentMs(now: number): number {
    return now - this.#lastReceivedAt;
  }

  /** PINGs that went out while nothing had arrived since the previous one. */
  get missed(): number {
    return this.#missed;
  }

  /** The next PING sequence number. */
  nextPingId(): bigint {
    return ++this.#seq;
  }

  /** 'ping' also counts as sending now, so the caller must write the PING. */
  check(now: number): HeartbeatVerdict {
    // A check this late means our own process was paused or starved (a long GC, SIGSTOP, a crowded machine): what the
    // peer sent meanwhile may sit unread in the socket, so the silence proves nothing. Count from now instead.
    if (now - this.#lastCheckAt > this.#timeoutMs / 2) {
      this.touch(now);
      return 'ok';
    }
    this.#lastCheckAt = now;
    if (this.#received) {
      this.#received = false;
      this.#receivedSincePing = true;
      this.#lastReceivedAt = now;
    }
    if (this.#sent) {
      this.#sent = false;
      this.#lastSentAt = now;
    }
    if (this.#peerPinged) {
      this.#peerPinged = false;
      this.#lastPeerPingAt = now;
    }
    if (now - this.#lastReceivedAt >= this.#timeoutMs) return 'dead';
    if (this.#quietWhilePeerPings && now - this.#lastPeerPingAt < 2 * this.#intervalMs) return 'ok';
    if (now - this.#lastSentAt >= this.#intervalMs) {
      this.#lastSentAt = now;
      if (!this.#receivedSincePing) this.#missed++;
      this.#receivedSincePing = false;
      return 'ping';
    }
    return 'ok';
  }
}
