// Turns the outcomes of a drill's steady load into its report: counts, detection and recovery, latency by phase.
import type { RequestOutcome } from './steady-load.ts';
import { percentile } from '../util/latency-window.ts';

export const FAULTS = ['kill', 'freeze', 'drain', 'partition', 'registry-down', 'slow', 'error', 'flap'] as const;
/** Gray faults: the spearlet stays up and connected but misbehaves. */
export const GRAY: ReadonlySet<Fault> = new Set(['slow', 'error', 'flap']);
export type Fault = (typeof FAULTS)[number];

export interface PhaseLatency {
  readonly count: number;
  readonly p50Ms: number | null;
  readonly p90Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
}

export interface TimelinePoint {
  /** Start of the bucket, in ms since the load started. */
  readonly tMs: number;
  readonly ok: number;
  readonly failed: number;
}

export interface DrillReport {
  readonly fault: Fault;
  readonly target: string;
  readonly ratePerSec: number;
  readonly durationMs: number;
  /** When the fault was injected, in ms since the load started. */
  readonly faultAtMs: number;
  /**
   * Fault to the client no longer picking the target (for gray faults: to the last new request it sent the target
   * before the fault ended); null when it never stopped (or the fault is not about one spearlet).
   */
  readonly detectionMs: number | null;
  /** Fault to the end of the last failed or slow request: from then on, traffic was back to normal. */
  readonly recoveryMs: number;
  readonly sent: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly retried: number;
  /** Requests that never settled: sent, but neither a response nor an error came back. */
  readonly lost: number;
  /** Requests that settled more than once or got another request's answer. */
  readonly duplicated: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly latency: {
    readonly before: PhaseLatency;
    readonly during: PhaseLatency;
    readonly after: PhaseLatency;
    /** Every successful request of the drill. */
    readonly overall: PhaseLatency;
  };
  readonly timeline: readonly TimelinePoint[];
  /**
   * Successful requests per second before the fault (after the first 500 ms) and while it lasted (to the heal, or
   * the end of the load for permanent faults), and their ratio: the load is open-loop at a fixed rate, so this is
   * the share of the healthy rate the mesh kept serving.
   */
  readonly throughput: {
    readonly healthyPerSec: number | null;
    readonly faultPerSec: number | null;
    readonly ratio: number | null;
  };
  /** drain: nothing lost and nothing failed; other faults: nothing lost. */
  readonly passed: boolean;
}

export interface ReportInput {
  fault: Fault;
  target: string;
  ratePerSec: number;
  durationMs: number;
  faultAtMs: number;
  /** When the fault was healed (freeze, partition, registry-down), else undefined. */
  healedAtMs: number | undefined;
  detectedAtMs: number | undefined;
  sent: number;
  retried: number;
  duplicated: number;
  outcomes: readonly RequestOutcome[];
  bucketMs?: number;
}

/** A request slower than max(this, 3 x the p99 before the fault) counts as disturbed by the fault. */
export const SLOW_FLOOR_MS = 50;

function phase(outcomes: readonly RequestOutcome[]): PhaseLatency {
  const lat = outcomes
    .filter((o) => o.ok)
    .map((o) => o.endMs - o.startMs)
    .sort((a, b) => a - b);
  return {
    count: lat.length,
    p50Ms: percentile(lat, 50),
    p90Ms: percentile(lat, 90),
    p99Ms: percentile(lat, 99),
    maxMs: lat.at(-1) ?? null,
  };
}

export function buildReport(input: ReportInput): DrillReport {
  const { outcomes, faultAtMs } = input;
  const settled = new Map<number, number>();
  for (const o of outcomes) settled.set(o.seq, (settled.get(o.seq) ?? 0) + 1);
  const repeatSettles = [...settled.values()].reduce((n, c) => n + (c - 1), 0);
  const succeeded = outcomes.filter((o) => o.ok).length;
  const failed = outcomes.length - succeeded;
  const errors: Record<string, number> = {};
  for (const o of outcomes) if (!o.ok && o.code !== null) errors[o.code] = (errors[o.code] ?? 0) + 1;

  const before = outcomes.filter((o) => o.endMs < faultAtMs);
  const faultEnd = Math.max(faultAtMs, input.healedAtMs ?? faultAtMs);
  const beforeP99 = phase(before).p99Ms ?? 0;
  const slowMs = Math.max(SLOW_FLOOR_MS, 3 * beforeP99);
  let lastBadEnd = faultAtMs;
  for (const o of outcomes) {
    if (o.endMs < faultAtMs) continue;
    if (!o.ok || o.endMs - o.startMs > slowMs) lastBadEnd = Math.max(lastBadEnd, o.endMs);
  }
  const recoveredAt = lastBadEnd;
  const during = outcomes.filter((o) => o.endMs >= faultAtMs && o.endMs <= Math.max(recoveredAt, faultEnd));
  const after = outcomes.filter((o) => o.endMs > Math.max(recoveredAt, faultEnd));

  const bucketMs = input.bucketMs ?? 100;
  // Whole buckets only: a last, partial bucket would read as a drop in throughput. Requests settling after the
  // load stopped are in the counts, not in the timeline.
  const buckets = Math.max(1, Math.floor(input.durationMs / bucketMs));
  const timeline: TimelinePoint[] = Array.from({ length: buckets }, (_, i) => ({
    tMs: i * bucketMs,
    ok: 0,
    failed: 0,
  }));
  for (const o of outcomes) {
    const point = timeline[Math.floor(o.endMs / bucketMs)];
    if (point === undefined) continue;
    if (o.ok) (point as { ok: number }).ok++;
    else (point as { failed: number }).failed++;
  }

  const healthyFrom = Math.min(500, faultAtMs / 2);
  const faultTo = input.healedAtMs ?? input.durationMs;
  const rate = (from: number, to: number): number | null =>
    to - from <= 0
      ? null
      : (1000 * outcomes.filter((o) => o.ok && o.endMs >= from && o.endMs < to).length) / (to - from);
  const healthyPerSec = rate(healthyFrom, faultAtMs);
  const faultPerSec = rate(faultAtMs, faultTo);
  const throughput = {
    healthyPerSec,
    faultPerSec,
    ratio: healthyPerSec === null || faultPerSec === null || healthyPerSec === 0 ? null : faultPerSec / healthyPerSec,
  };

  const lost = Math.max(0, input.sent - settled.size);
  const duplicated = input.duplicated + repeatSettles;
  return {
    fault: input.fault,
    target: input.target,
    ratePerSec: input.ratePerSec,
    durationMs: input.durationMs,
    faultAtMs,
    detectionMs: input.detectedAtMs === undefined ? null : Math.max(0, input.detectedAtMs - faultAtMs),
    recoveryMs: recoveredAt - faultAtMs,
    sent: input.sent,
    succeeded,
    failed,
    retried: input.retried,
    lost,
    duplicated,
    errors,
    latency: { before: phase(before), during: phase(during), after: phase(after), overall: phase(outcomes) },
    timeline,
    throughput,
    passed: lost === 0 && duplicated === 0 && (input.fault !== 'drain' || failed === 0),
  };
}

export function formatReport(r: DrillReport): string {
  const ms = (v: number | null): string => (v === null ? '-' : `${v.toFixed(1)}ms`);
  const lat = (p: PhaseLatency): string =>
    `n=${p.count} p50 ${ms(p.p50Ms)} p90 ${ms(p.p90Ms)} p99 ${ms(p.p99Ms)} max ${ms(p.maxMs)}`;
  // A fault that disturbed no request has no recovery and, unless it lasted a while, no "during" phase to show.
  const disturbed = r.failed > 0 || r.recoveryMs > 0;
  return [
    `drill ${r.fault} on ${r.target}: ${r.passed ? 'PASSED' : 'FAILED'}`,
    `  load        ${r.ratePerSec} req/s for ${(r.durationMs / 1000).toFixed(1)}s, fault at ${(r.faultAtMs / 1000).toFixed(1)}s`,
    `  detection   ${ms(r.detectionMs)}`,
    `  recovery    ${disturbed ? ms(r.recoveryMs) : 'none needed (no failed or slow request)'}`,
    `  requests    sent ${r.sent}  succeeded ${r.succeeded}  failed ${r.failed}  retried ${r.retried}  lost ${r.lost}  duplicated ${r.duplicated}`,
    ...(Object.keys(r.errors).length > 0 ? [`  errors      ${JSON.stringify(r.errors)}`] : []),
    `  before      ${lat(r.latency.before)}`,
    ...(r.latency.during.count > 0 ? [`  during      ${lat(r.latency.during)}`] : []),
    `  after       ${lat(r.latency.after)}`,
    '',
  ].join('\n');
}
