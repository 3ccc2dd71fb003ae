// Parsers for the JSON payloads a client receives: WELCOME, GOAWAY and error bodies (docs/protocol.md §3).
import { InvalidPayloadError } from '../errors.ts';
import { DEFAULT_MAX_FRAME_SIZE, parseJsonPayload } from '../wire/index.ts';

export const DEFAULT_HEARTBEAT_MS = 1_000;

export interface WelcomeInfo {
  readonly spearlet: string;
  readonly session: string;
  readonly heartbeatMs: number;
  /** undefined when the spearlet did not say; the client then uses 3 x heartbeatMs. */
  readonly heartbeatTimeoutMs: number | undefined;
  readonly maxFrame: number;
  readonly maxInFlight: number;
  /** Token expiry in seconds since the epoch, or null when the token has none. */
  readonly tokenExp: number | null;
  readonly features: readonly string[];
}

export interface GoawayInfo {
  readonly reason: string;
  readonly retryAfterMs: number;
  /** The highest request id the spearlet accepted. */
  readonly lastId: bigint;
}

const positive = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined;

export function parseWelcome(payload: Buffer): WelcomeInfo {
  const o = parseJsonPayload(payload, 'WELCOME');
  if (o.v !== 1) throw new InvalidPayloadError('WELCOME', new TypeError(`unsupported protocol version ${String(o.v)}`));
  return {
    spearlet: typeof o.spearlet === 'string' ? o.spearlet : '',
    session: typeof o.session === 'string' ? o.session : '',
    heartbeatMs: positive(o.heartbeatMs) ?? DEFAULT_HEARTBEAT_MS,
    heartbeatTimeoutMs: positive(o.heartbeatTimeoutMs),
    maxFrame: positive(o.maxFrame) ?? DEFAULT_MAX_FRAME_SIZE,
    maxInFlight: positive(o.maxInFlight) ?? Infinity,
    tokenExp: positive(o.tokenExp) ?? null,
    features: Array.isArray(o.features) ? o.features.filter((f): f is string => typeof f === 'string') : [],
  };
}

export function parseGoaway(lastId: bigint, payload: Buffer): GoawayInfo {
  let o: Record<string, unknown> = {};
  try {
    o = parseJsonPayload(payload, 'GOAWAY');
  } catch {
    // A GOAWAY we cannot read is still a GOAWAY: stop sending here either way.
  }
  return {
    reason: typeof o.reason === 'string' ? o.reason : 'unknown',
    retryAfterMs: typeof o.retryAfterMs === 'number' && o.retryAfterMs >= 0 ? o.retryAfterMs : 0,
    lastId,
  };
}
