// The picker contract shared by every balancing policy: targets in, an immutable picker out.

/** What a policy sees of one endpoint. Fields are read live at pick time (outstanding, ewmaMs change). */
export interface PickTarget {
  readonly id: string;
  /** Requests written to this endpoint and not yet answered. */
  readonly outstanding: number;
  /** Peak-EWMA round-trip latency in milliseconds; 0 when nothing was measured yet. */
  readonly ewmaMs: number;
  readonly zone?: string | undefined;
  readonly tags: readonly string[];
  /** True when a request may be written now (connection READY, not draining, not ejected). */
  readonly ready: boolean;
}

export interface PickContext {
  /** Requests with the same key go to the same endpoint (consistent-hash policy only). */
  readonly affinityKey?: string | undefined;
  /** The endpoint must carry every one of these tags. */
  readonly tags?: readonly string[] | undefined;
  /** Endpoint ids that must not be picked (for example the one a retry is moving away from). */
  readonly exclude?: ReadonlySet<string> | undefined;
}

/**
 * Chooses one target per call. A picker is built for one set of targets and never changes that set; the
 * balancer builds a new one when the set changes. `pick` returns undefined when no target fits.
 */
export interface Picker {
  pick(ctx: PickContext): PickTarget | undefined;
}

export interface PolicyOptions {
  /** Source of randomness in [0, 1); injectable so tests can assert exact pick sequences. */
  readonly random?: (() => number) | undefined;
}

/** A balancing policy: builds a picker over the given targets (already filtered to the usable ones). */
export interface Policy {
  readonly name: string;
  build(targets: readonly PickTarget[]): Picker;
}

/** A picker that never finds anything: used when no endpoint is usable. */
export const EMPTY_PICKER: Picker = Object.freeze({ pick: () => undefined });

/** True when `target` is usable for `ctx` (ready, not excluded). Tags are filtered before policies run. */
export function eligible(target: PickTarget, ctx: PickContext): boolean {
  return target.ready && !(ctx.exclude?.has(target.id) ?? false);
}

/**
 * Power of two random choices: two distinct random candidates, the one with the lower cost wins (the first on a
 * tie). Falls back to a scan when the random pair is not eligible, so an eligible target is found if one exists.
 */
export function pickTwoChoices(
  targets: readonly PickTarget[],
  ctx: PickContext,
  random: () => number,
  cost: (t: PickTarget) => number,
): PickTarget | undefined {
  const n = targets.length;
  if (n === 0) return undefined;
  if (n === 1) {
    const only = targets[0];
    return only !== undefined && eligible(only, ctx) ? only : undefined;
  }
  const i = Math.min(n - 1, Math.floor(random() * n));
  let j = Math.min(n - 2, Math.floor(random() * (n - 1)));
  if (j >= i) j++;
  const a = targets[i];
  const b = targets[j];
  const aOk = a !== undefined && eligible(a, ctx);
  const bOk = b !== undefined && eligible(b, ctx);
  if (aOk && bOk) return cost(b) < cost(a) ? b : a;
  if (aOk) return a;
  if (bOk) return b;
  let best: PickTarget | undefined;
  for (const t of targets) {
    if (eligible(t, ctx) && (best === undefined || cost(t) < cost(best))) best = t;
  }
  return best;
}
