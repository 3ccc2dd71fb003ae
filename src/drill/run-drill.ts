// Runs one drill: steady idempotent load through a MeshClient, one fault injected into one spearlet,
// then the report. The fault itself is done by a FaultInjector (local signals or the admin fault endpoint).
import type { MeshClient } from '../agent/mesh-client.ts';
import { buildReport, GRAY, type DrillReport, type Fault } from './report.ts';
import { SteadyLoad, type RequestOutcome } from './steady-load.ts';

export interface FaultInjector {
  /** Injects the fault; resolves once it is in effect. */
  inject(fault: Fault, target: string): Promise<void>;
  /** Ends a temporary fault (freeze, partition, registry-down); a no-op for the others. */
  heal(fault: Fault, target: string): Promise<void>;
  /** Checks the target can be reached, before the load starts. */
  prepare(target: string): Promise<void>;
}

export interface DrillOptions {
  client: MeshClient;
  injector: FaultInjector;
  fault: Fault;
  target: string;
  ratePerSec: number;
  durationMs: number;
  /** When to inject, in ms after the load starts (default a third of the duration). */
  faultAtMs?: number;
  /** How long temporary faults last (default 2000 ms). */
  faultForMs?: number;
  deadlineMs?: number;
  /** Progress callback, called about every 500 ms. */
  onProgress?: (p: { elapsedMs: number; sent: number; failed: number; phase: 'before' | 'fault' | 'after' }) => void;
}

const TEMPORARY: ReadonlySet<Fault> = new Set(['freeze', 'partition', 'registry-down', 'slow', 'error', 'flap']);

export async function runDrill(options: DrillOptions): Promise<DrillReport> {
  const { client, injector, fault, target } = options;
  const faultAtMs = options.faultAtMs ?? Math.round(options.durationMs / 3);
  const faultForMs = options.faultForMs ?? 2000;
  const deadlineMs = options.deadlineMs ?? 5000;
  const outcomes: RequestOutcome[] = [];
  let duplicated = 0;
  let failed = 0;
  const retriedBefore = client.stats().retried;

  const load = new SteadyLoad({
    ratePerSec: options.ratePerSec,
    maxInFlight: 10_000,
    send: async (seq) => {
      const body = Buffer.from(`drill-${seq}`);
      const answer = await client.request('echo', body, { idempotent: true, deadlineMs });
      // An echo that is not our own body means a response was delivered to the wrong request.
      if (!answer.equals(body)) duplicated++;
    },
    onOutcome: (o) => {
      outcomes.push(o);
      if (!o.ok) failed++;
    },
  });

  let phase: 'before' | 'fault' | 'after' = 'before';
  let detectedAtMs: number | undefined;
  let healedAtMs: number | undefined;
  const isTargetPicked = (): boolean =>
    client.stats().endpoints.some((e) => e.id === target && e.state === 'READY' && !e.ejected);
  // Attempts the client has given the target so far (settled or not): grows whenever it picks the target.
  const picksOfTarget = (): number => client.stats().endpoints.find((x) => x.id === target)?.attempts ?? 0;

  // Before the load, not at the fault: the injectors' first fetch() loads Node's HTTP client, which blocked this
  // process for 1.7 s on a crowded machine and turned the drill's timeline into a stall and a burst.
  await options.injector.prepare(options.target);
  load.start();
  const progress = setInterval(() => {
    options.onProgress?.({ elapsedMs: load.elapsedMs(), sent: load.issued, failed, phase });
  }, 500);
  try {
    await sleep(faultAtMs);
    const injectedAt = load.elapsedMs();
    phase = 'fault';
    await injector.inject(fault, target);
    // Watch the client's own view: detection is the moment it stops picking the target.
    const watchUntil = injectedAt + Math.max(faultForMs, 10_000);
    let lastPickAt: number | undefined;
    const watcher = (async () => {
      if (fault === 'registry-down') return;
      if (GRAY.has(fault)) {
        // A gray fault leaves the target connected: detection is the last new request it got while the fault lasted.
        let picks = picksOfTarget();
        while (healedAtMs === undefined && load.elapsedMs() < watchUntil) {
          const now = picksOfTarget();
          if (now !== picks) lastPickAt = load.elapsedMs();
          picks = now;
          await sleep(5);
        }
        return;
      }
      while (detectedAtMs === undefined && load.elapsedMs() < watchUntil) {
        if (!isTargetPicked()) detectedAtMs = load.elapsedMs();
        else await sleep(2);
      }
    })();
    if (TEMPORARY.has(fault)) {
      await sleep(faultForMs);
      await injector.heal(fault, target);
      healedAtMs = load.elapsedMs();
    }
    phase = 'after';
    const remaining = options.durationMs - load.elapsedMs();
    if (remaining > 0) await sleep(remaining);
    load.stopIssuing();
    await watcher;
    if (GRAY.has(fault)) {
      // Still picked in the last 500 ms of the fault: it never stopped receiving requests.
      const end = healedAtMs ?? load.elapsedMs();
      detectedAtMs = lastPickAt === undefined ? injectedAt : lastPickAt < end - 500 ? lastPickAt : undefined;
    }
    // Every request has a deadline, so all settle within it; what has not settled by then is lost.
    // The bound's timer is cleared as soon as the load settles: left pending it kept the drill's process alive for
    // deadlineMs + 5 s after its report.
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([
      load.stop(),
      new Promise<void>((resolve) => {
        bound = setTimeout(resolve, deadlineMs + 5000);
      }),
    ]).finally(() => {
      clearTimeout(bound);
    });
    return buildReport({
      fault,
      target,
      ratePerSec: options.ratePerSec,
      durationMs: options.durationMs,
      faultAtMs: injectedAt,
      healedAtMs,
      detectedAtMs,
      sent: load.issued,
      retried: client.stats().retried - retriedBefore,
      duplicated,
      outcomes,
    });
  } finally {
    clearInterval(progress);
    load.stopIssuing();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
