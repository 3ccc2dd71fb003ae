// Outlier ejection from request outcomes and connection losses (modelled on Envoy's outlier detection): consecutive
// failures eject at once; success rate relative to the other spearlets and failure percentage are judged every
// interval; a spearlet that stalls while others answer is ejected. The n-th ejection lasts n x base (capped), never
// more than a set share is ejected, and below a healthy share everything is used again (fail open).
import { NON_RETRYABLE_REFUSALS } from '../errors.ts';
import { resolveOutlierOptions, type OutlierDetectorOptions, type ResolvedOutlierOptions } from './outlier-options.ts';

export {
  DEFAULT_BASE_EJECTION_MS,
  DEFAULT_CONSECUTIVE_FAILURES,
  DEFAULT_FAIL_OPEN_PERCENT,
  DEFAULT_MAX_EJECTION_MS,
  DEFAULT_MAX_EJECTION_PERCENT,
  type OutlierDetectorOptions,
} from './outlier-options.ts';

/**
 * How an attempt ended, for the detector: `failure` (transport loss, OVERLOADED, HANDLER_ERROR, DEADLINE_EXCEEDED),
 * `success` (an answer, including a caller's own error such as METHOD_NOT_FOUND), or `none` (it ended without
 * saying anything about the spearlet: cancelled, or never written).
 */
export type Verdict = 'success' | 'failure' | 'none';

/** Codes that say the spearlet failed (for outlier detection); caller errors say it is fine. */
const FAILURE_CODES: ReadonlySet<string> = new Set([
  'SPEARLET_LOST',
  'OVERLOADED',
  'HANDLER_ERROR',
  'DEADLINE_EXCEEDED',
  'HEARTBEAT_TIMEOUT',
  'PROTOCOL_ERROR',
]);
/**
 * Codes that say nothing about the spearlet: the attempt was cancelled, never written (too large, or its connection
 * closed), refused while draining, or its connection's handshake was refused for our token.
 */
const NEUTRAL_CODES: ReadonlySet<string> = new Set([
  'CANCELLED',
  'CONNECTION_CLOSED',
  'DRAINING',
  'CLIENT_CLOSED',
  'REQUEST_TOO_LARGE',
  // FORBIDDEN_METHOD also answers one request whose method the token does not allow: an answer, so `success`.
  ...[...NON_RETRYABLE_REFUSALS].filter((code) => code !== 'FORBIDDEN_METHOD'),
]);

/** What an attempt that ended with `code` says about its spearlet (undefined: not a MeshError, say nothing). */
export function verdictOf(code: string | undefined): Verdict {
  if (code === undefined || NEUTRAL_CODES.has(code)) return 'none';
  return FAILURE_CODES.has(code) ? 'failure' : 'success';
}

/** Why a spearlet was ejected (for logs and events). */
export type EjectionReason = 'consecutive' | 'success-rate' | 'failure-percentage' | 'stall';

interface EndpointHealth {
  consecutive: number;
  /** Ejections so far, less one per healthy interval: the next ejection lasts (ejections + 1) x base. */
  ejections: number;
  ejectedUntil: number;
  /** Outcomes in the current interval. */
  ok: number;
  failed: number;
  /** Attempts started and not ended, and since when it has owed an answer (for stall detection). */
  pending: number;
  waitingSince: number;
  /** When the last pending attempt ended without an answer (cancelled): a short gap keeps the stall clock. */
  idleByCancelAt: number;
  lastAnswerAt: number;
  /**
   * The ejection criterion it met while the cap kept it in, if any. Counts as bad for fail-open unless it is a stall:
   * a starved machine (our side) makes healthy spearlets stall, and such a flag must not lift a failure ejection.
   */
  flagged: EjectionReason | undefined;
  /** Why the current (or last) ejection happened. */
  ejectedFor: EjectionReason | undefined;
}

export interface Ejection {
  readonly id: string;
  readonly reason: EjectionReason;
  readonly durationMs: number;
}

export class OutlierDetector {
  readonly #o: ResolvedOutlierOptions;
  readonly #now: () => number;
  readonly #health = new Map<string, EndpointHealth>();
  #nextSweepAt: number;
  #lastSweepAt: number;
  #lastCheckAt: number;
  /** Called for every ejection (the balancer logs it and rebuilds its picker). */
  onEject: ((e: Ejection) => void) | undefined;

  constructor(options: OutlierDetectorOptions = {}) {
    this.#o = resolveOutlierOptions(options);
    this.#now = this.#o.now;
    this.#lastSweepAt = this.#now();
    this.#lastCheckAt = this.#lastSweepAt;
    this.#nextSweepAt = this.#lastSweepAt + this.#o.intervalMs;
  }

  /** Whether stalls are detected (stallMs not false): only then do attempts need to be movable. */
  get detectsStalls(): boolean {
    return this.#o.stallMs !== Infinity;
  }

  /** How often check() has work to do (stall detection and the interval sweep). */
  get checkEveryMs(): number {
    return Math.max(10, Math.min(this.#o.intervalMs, this.#o.stallMs) / 4);
  }

  /** Keeps state only for these endpoints; new ones start healthy. */
  setEndpoints(ids: Iterable<string>): void {
    const keep = new Set(ids);
    for (const id of this.#health.keys()) if (!keep.has(id)) this.#health.delete(id);
    for (const id of keep)
      if (!this.#health.has(id))
        this.#health.set(id, {
          consecutive: 0,
          ejections: 0,
          ejectedUntil: 0,
          ok: 0,
          failed: 0,
          pending: 0,
          waitingSince: 0,
          idleByCancelAt: -Infinity,
          lastAnswerAt: 0,
          flagged: undefined,
          ejectedFor: undefined,
        });
  }

  /** An attempt was written to `id` (`nowMs`: a reading of this detector's clock the caller already took). */
  attemptStarted(id: string, nowMs?: number): void {
    const h = this.#health.get(id);
    if (h === undefined) return;
    if (h.pending++ > 0) return;
    const now = nowMs ?? this.#now();
    // Attempts cancelled before any answer (hedges won elsewhere, say) leave it owing: the stall clock runs on.
    if (now - h.idleByCancelAt >= this.#o.stallMs) h.waitingSince = now;
  }

  /**
   * An attempt started with attemptStarted ended (`nowMs`: a reading of this detector's clock the caller already
   * took); returns true when this ejected something.
   */
  attemptEnded(id: string, verdict: Verdict, nowMs?: number): boolean {
    const h = this.#health.get(id);
    if (h === undefined) return false;
    if (h.pending > 0) h.pending--;
    if (verdict === 'none') {
      if (h.pending === 0) h.idleByCancelAt = nowMs ?? this.#now();
      return false;
    }
    const now = nowMs ?? this.#now();
    h.idleByCancelAt = -Infinity;
    h.lastAnswerAt = now;
    h.waitingSince = now;
    return verdict === 'success' ? this.#success(h, now) : this.#failure(id, h, now);
  }

  /** A success not tied to an attempt (a connection became READY). */
  recordSuccess(id: string): boolean {
    const h = this.#health.get(id);
    return h !== undefined && this.#success(h, this.#now());
  }

  /** A failure not tied to an attempt (a connection was lost); returns true when this ejected something. */
  recordFailure(id: string): boolean {
    const h = this.#health.get(id);
    return h !== undefined && this.#failure(id, h, this.#now());
  }

  /**
   * The time-driven part: stalled spearlets, and the success-rate and failure-percentage sweep once per interval.
   * The owner calls it every checkEveryMs; returns true when something was ejected.
   */
  check(): boolean {
    const now = this.#now();
    let changed = false;
    // A check this late means our own event loop was blocked: answers may be waiting unread in the sockets, so
    // silence proves nothing about the spearlets this time.
    const paused = now - this.#lastCheckAt > this.#o.stallMs / 2;
    this.#lastCheckAt = now;
    if (this.#o.stallMs !== Infinity && !paused) {
      // Another spearlet answered after this one began to owe answers: the problem is this spearlet, not our side.
      let lastAnswer = 0;
      for (const h of this.#health.values()) if (h.lastAnswerAt > lastAnswer) lastAnswer = h.lastAnswerAt;
      for (const [id, h] of this.#health) {
        if (h.pending === 0 || h.ejectedUntil > now || now - h.waitingSince < this.#o.stallMs) continue;
        if (lastAnswer <= h.waitingSince) continue;
        h.waitingSince = now;
        if (this.#eject(id, h, now, 'stall')) changed = true;
      }
    }
    if (now >= this.#nextSweepAt) {
      if (this.#sweep(now)) changed = true;
      this.#lastSweepAt = now;
      this.#nextSweepAt = now + this.#o.intervalMs;
    }
    return changed;
  }

  /** The endpoints to leave out of picking now: empty when failing open. */
  ejected(): ReadonlySet<string> {
    const now = this.#now();
    const out = new Set<string>();
    let bad = 0;
    for (const [id, h] of this.#health) {
      if (h.ejectedUntil > now) {
        out.add(id);
        bad++;
      } else if ((h.flagged !== undefined && h.flagged !== 'stall') || h.consecutive >= this.#o.consecutiveFailures) {
        bad++;
      }
    }
    if (this.#health.size > 0 && (bad * 100) / this.#health.size > this.#o.failOpenPercent) return new Set();
    return out;
  }

  isEjected(id: string): boolean {
    return this.ejected().has(id);
  }

  /** When the earliest current ejection ends, so the owner can rebuild its picker then; undefined if none. */
  nextExpiryAt(): number | undefined {
    const now = this.#now();
    let next: number | undefined;
    for (const h of this.#health.values()) {
      if (h.ejectedUntil > now && (next === undefined || h.ejectedUntil < next)) next = h.ejectedUntil;
    }
    return next;
  }

  #success(h: EndpointHealth, now: number): boolean {
    h.consecutive = 0;
    h.flagged = undefined;
    if (h.ejectedUntil <= now) h.ok++;
    return false;
  }

  #failure(id: string, h: EndpointHealth, now: number): boolean {
    // Answers to requests sent before the ejection say nothing new.
    if (h.ejectedUntil > now) return false;
    h.failed++;
    h.consecutive++;
    if (h.consecutive < this.#o.consecutiveFailures) return false;
    return this.#eject(id, h, now, 'consecutive');
  }

  /** Ejects unless the cap forbids it (then only flags it). */
  #eject(id: string, h: EndpointHealth, now: number, reason: EjectionReason): boolean {
    const maxEjected = Math.floor((this.#health.size * this.#o.maxEjectionPercent) / 100);
    let ejectedNow = 0;
    for (const x of this.#health.values()) if (x.ejectedUntil > now) ejectedNow++;
    if (ejectedNow >= maxEjected && !this.#makeRoom(reason, now)) {
      h.flagged = reason;
      return false;
    }
    h.ejections++;
    const durationMs = Math.min(this.#o.baseEjectionMs * h.ejections, this.#o.maxEjectionMs);
    h.ejectedUntil = now + durationMs;
    h.consecutive = 0;
    h.flagged = undefined;
    h.ejectedFor = reason;
    h.ok = 0;
    h.failed = 0;
    this.onEject?.({ id, reason, durationMs });
    return true;
  }

  /**
   * With the cap full, a spearlet that answers with failures takes the place of one ejected for stalling: a stall
   * shows slowness (on a starved machine even our own), failures show wrong answers. Without this, a healthy spearlet
   * stalled by load held the only ejection slot of three while the failing one kept getting requests.
   */
  #makeRoom(reason: EjectionReason, now: number): boolean {
    if (reason === 'stall') return false;
    for (const x of this.#health.values()) {
      if (x.ejectedUntil > now && x.ejectedFor === 'stall') {
        x.ejectedUntil = now;
        x.ejectedFor = undefined;
        x.waitingSince = now;
        return true;
      }
    }
    return false;
  }

  #sweep(now: number): boolean {
    let changed = false;
    const sr = this.#o.successRate;
    const fp = this.#o.failurePercentage;
    const judged: [string, EndpointHealth, number][] = [];
    for (const [id, h] of this.#health) {
      const volume = h.ok + h.failed;
      if (h.ejectedUntil <= now && volume > 0) judged.push([id, h, (100 * h.ok) / volume]);
    }
    if (fp !== undefined) {
      const enough = judged.filter(([, h]) => h.ok + h.failed >= fp.requestVolume);
      if (enough.length >= fp.minimumHosts) {
        for (const [id, h, rate] of enough)
          if (100 - rate >= fp.threshold && this.#eject(id, h, now, 'failure-percentage')) changed = true;
      }
    }
    if (sr !== undefined) {
      const enough = judged.filter(([, h]) => h.ejectedUntil <= now && h.ok + h.failed >= sr.requestVolume);
      if (enough.length >= sr.minimumHosts) {
        for (const [id, h, rate] of enough) {
          // Compared with the others only, so one bad spearlet among few cannot hide in the spread it causes.
          const others = enough.filter((e) => e[0] !== id).map((e) => e[2]);
          const mean = others.reduce((a, b) => a + b, 0) / others.length;
          const stdev = Math.sqrt(others.reduce((a, b) => a + (b - mean) ** 2, 0) / others.length);
          const limit = mean - Math.max(sr.stdevFactor * stdev, sr.minGapPercent);
          if (rate < limit && this.#eject(id, h, now, 'success-rate')) changed = true;
        }
      }
    }
    for (const h of this.#health.values()) {
      // A whole interval outside any ejection and without failures shortens the next ejection again.
      if (h.ejectedUntil <= this.#lastSweepAt && h.failed === 0 && h.ejections > 0 && h.flagged === undefined)
        h.ejections--;
      h.ok = 0;
      h.failed = 0;
    }
    return changed;
  }
}
