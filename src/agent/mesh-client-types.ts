// The public shapes of MeshClient (request options, stats, events) and the small per-request helpers of its fast path.
import type { HandshakeRefusedError } from '../conn/errors.ts';
import type { ConnRequestOptions } from '../conn/mesh-connection.ts';
import type { ResolverState } from '../discovery/resolver.ts';
import type { EndpointStats, RouteContext } from './endpoint-balancer.ts';

export interface MeshRequestOptions {
  /** The request may run more than once: after a lost connection it is retried on another spearlet. */
  readonly idempotent?: boolean;
  /** Overall time for the request, waiting and retries included; sent to the spearlet as its deadline. */
  readonly deadlineMs?: number;
  readonly signal?: AbortSignal;
  /** Requests with the same key go to the same spearlet (policy 'consistent-hash'). */
  readonly affinityKey?: string;
  /** Only spearlets carrying all these tags. */
  readonly tags?: readonly string[];
  /**
   * Only this spearlet (its endpoint id, or the id it announced in WELCOME: for static endpoints the two differ):
   * for work that lives there, such as a task it hosts. The request waits in the queue while that spearlet is not
   * usable and is never moved to another one.
   */
  readonly spearletId?: string;
}

export interface MeshClientStats {
  /** Calls to request(). */
  readonly requests: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Re-sends of requests that were written and may have run (idempotent), taken from the retry budget. */
  readonly retried: number;
  /** Re-sends of requests that did not run (never written, crossed a GOAWAY, answered DRAINING). */
  readonly rerouted: number;
  /** Hedge attempts sent (hedgeAfterMs), taken from the retry budget. */
  readonly hedged: number;
  readonly inFlight: number;
  /** Requests waiting for a usable spearlet. */
  readonly queued: number;
  /** Retries the retry budget allows right now. */
  readonly retryBudgetAvailable: number;
  readonly resolver: ResolverState;
  readonly endpoints: readonly EndpointStats[];
}

export interface MeshClientEvents {
  signal: [name: string, body: Buffer, spearletId: string];
  /**
   * A spearlet refused the handshake for a reason retrying with the same token cannot fix (`err.code`:
   * TOKEN_EXPIRED, ISSUER_MISMATCH, ...; `err.retryable` false). Requests that only that refusal keeps waiting fail
   * with `err`; the connection presents the same token again only after 30 s, and reconnects at once when the token
   * provider returns another token.
   */
  refused: [err: HandshakeRefusedError, spearletId: string];
}

/** The route of a request with no affinity key, tags or pin: one shared object instead of one per request. */
const NO_ROUTE: RouteContext = Object.freeze({ affinityKey: undefined, tags: undefined, spearletId: undefined });

export function routeOf(o: MeshRequestOptions): RouteContext {
  if (o.affinityKey === undefined && o.tags === undefined && o.spearletId === undefined) return NO_ROUTE;
  return { affinityKey: o.affinityKey, tags: o.tags, spearletId: o.spearletId };
}

/** The options of a plain attempt (not idempotent, no deadline, no signal), shared by every such attempt. */
const PLAIN_ATTEMPT: ConnRequestOptions = Object.freeze({ idempotent: false, deadlineAt: 0, signal: undefined });

export function attemptOptions(
  idempotent: boolean,
  deadlineAt: number,
  signal: AbortSignal | undefined,
): ConnRequestOptions {
  if (!idempotent && deadlineAt === 0 && signal === undefined) return PLAIN_ATTEMPT;
  return { idempotent, deadlineAt, signal };
}
