// What a spearlet session needs from its spearlet, and what it reports about itself.
import type { ErrorCode } from '../errors.ts';
import type { TokenVerifier, VerifiedToken } from '../auth/verify.ts';
import type { SpearletMetrics } from '../metrics/spearlet-metrics.ts';
import type { Logger } from '../util/logger.ts';
import type { DeadlineSweep } from './deadline-sweep.ts';
import type { FaultHooks } from './fault-hooks.ts';
import type { HandlerRegistry } from './handlers.ts';
import type { MeshSession } from './session.ts';

export interface SessionConfig {
  readonly heartbeatMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly maxFrameSize: number;
  readonly maxInFlight: number;
  readonly writeHighWaterMark: number;
  /** After GOAWAY, how long the connection stays open for requests crossing it on the wire. */
  readonly goAwayGraceMs: number;
  readonly retryAfterMs: number;
}

/** What a session needs from its spearlet. */
export interface SessionHost {
  readonly spearletId: string;
  readonly zone: string | undefined;
  readonly config: SessionConfig;
  readonly verifier: TokenVerifier;
  readonly handlers: HandlerRegistry<MeshSession>;
  readonly metrics: SpearletMetrics;
  readonly logger: Logger;
  readonly now: () => number;
  /** The coarse timer that expires inbound request deadlines (one per spearlet). */
  readonly deadlines: DeadlineSweep;
  /** Drill fault hooks; undefined in production. */
  readonly faults: FaultHooks | undefined;
  /** Whether a verified agent may open a session now; a refusal is sent as ERROR and the socket closed. */
  admit(session: MeshSession, token: VerifiedToken): { code: ErrorCode; message: string } | undefined;
  sessionOpened(session: MeshSession): void;
  sessionClosed(session: MeshSession): void;
  signalReceived(session: MeshSession, name: string, body: Buffer): void;
}

export type SessionState = 'handshake' | 'open' | 'going_away' | 'closing' | 'closed';

export interface SessionSnapshot {
  readonly session: string;
  readonly agent: string | undefined;
  readonly agentName: string | undefined;
  readonly remote: string;
  readonly state: SessionState;
  readonly inFlight: number;
  readonly requests: number;
  readonly tokenExp: number | null;
  readonly openedAt: string;
  readonly lastReceivedMsAgo: number;
  readonly missedHeartbeats: number;
}
