// Open-loop load at a fixed rate: requests start on schedule whether or not earlier ones finished
// (bounded by maxInFlight), so a stalled spearlet shows up as latency and errors instead of silence.
export interface RequestOutcome {
  readonly seq: number;
  /** Milliseconds since the load started. */
  readonly startMs: number;
  readonly endMs: number;
  readonly ok: boolean;
  readonly code: string | null;
}

export interface SteadyLoadOptions {
  ratePerSec: number;
  maxInFlight?: number;
  /** Sends request `seq`; resolves on success, rejects with an error carrying `code` on failure. */
  send: (seq: number) => Promise<void>;
  onOutcome?: (outcome: RequestOutcome) => void;
  now?: () => number;
}

const TICK_MS = 5;

export class SteadyLoad {
  readonly #options: SteadyLoadOptions;
  readonly #now: () => number;
  readonly #inFlight = new Set<Promise<void>>();
  #startedAt = 0;
  #issued = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Requests not started because maxInFlight was reached (open-loop backlog shed). */
  shed = 0;

  constructor(options: SteadyLoadOptions) {
    if (!(options.ratePerSec > 0)) throw new TypeError('ratePerSec must be > 0');
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  get issued(): number {
    return this.#issued;
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Milliseconds since start(). */
  elapsedMs(): number {
    return this.#now() - this.#startedAt;
  }

  start(): void {
    this.stopIssuing();
    this.#startedAt = this.#now();
    this.#issued = 0;
    this.#timer = setInterval(() => {
      this.#tick();
    }, TICK_MS);
  }

  /** Stops starting new requests. */
  stopIssuing(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Stops issuing and waits for every started request to settle. */
  async stop(): Promise<void> {
    this.stopIssuing();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #tick(): void {
    const due = Math.floor((this.elapsedMs() / 1000) * this.#options.ratePerSec);
    const max = this.#options.maxInFlight ?? 1000;
    while (this.#issued + this.shed < due) {
      if (this.#inFlight.size >= max) {
        this.shed++;
        continue;
      }
      this.#issue(this.#issued++);
    }
  }

  #issue(seq: number): void {
    const startMs = this.elapsedMs();
    const p = this.#options.send(seq).then(
      () => {
        this.#options.onOutcome?.({ seq, startMs, endMs: this.elapsedMs(), ok: true, code: null });
      },
      (err: unknown) => {
        const code =
          typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string'
            ? (err as { code: string }).code
            : 'UNKNOWN';
        this.#options.onOutcome?.({ seq, startMs, endMs: this.elapsedMs(), ok: false, code });
      },
    );
    const tracked = p.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }
}
