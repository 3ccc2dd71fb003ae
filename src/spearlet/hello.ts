// Checks for HELLO and REAUTH payloads: shape, protocol version, token verification and the token's target.
import { AuthError, type ErrorCode } from '../errors.ts';
import type { TokenVerifier, VerifiedToken } from '../auth/verify.ts';
import { targetRefusal } from '../auth/scope.ts';
import { MessageKind, encodeJson, parseJsonPayload } from '../wire/index.ts';
import { FEATURES, PROTOCOL_VERSION } from '../protocol/constants.ts';
import type { HandshakeResult } from '../metrics/spearlet-metrics.ts';

export interface TokenCheckContext {
  readonly verifier: TokenVerifier;
  readonly spearletId: string;
  readonly zone: string | undefined;
}

export type HelloOutcome =
  | { readonly ok: true; readonly token: VerifiedToken; readonly agentName: string | undefined }
  | { readonly ok: false; readonly result: HandshakeResult; readonly code: ErrorCode; readonly message: string };

export type ReauthOutcome =
  | { readonly ok: true; readonly token: VerifiedToken }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

async function verifyFor(ctx: TokenCheckContext, token: string): Promise<VerifiedToken | AuthError> {
  let verified: VerifiedToken;
  try {
    verified = await ctx.verifier.verify(token);
  } catch (err) {
    return err instanceof AuthError ? err : new AuthError('AUTH_FAILED', 'token verification failed', { cause: err });
  }
  const target = targetRefusal(verified, ctx.spearletId, ctx.zone);
  return target === undefined ? verified : new AuthError('FORBIDDEN_SPEARLET', target);
}

/** protocol.md §3.1: what a HELLO payload earns. Never throws for bad input. */
export async function checkHello(ctx: TokenCheckContext, payload: Buffer): Promise<HelloOutcome> {
  let hello: Record<string, unknown>;
  try {
    hello = parseJsonPayload(payload, 'HELLO');
  } catch {
    return { ok: false, result: 'invalid', code: 'HELLO_INVALID', message: 'HELLO is not a JSON object' };
  }
  const { v, token, agent } = hello;
  if (typeof v !== 'number' || typeof token !== 'string') {
    return {
      ok: false,
      result: 'invalid',
      code: 'HELLO_INVALID',
      message: 'HELLO needs a numeric "v" and a string "token"',
    };
  }
  if (v !== PROTOCOL_VERSION) {
    const message = `protocol version ${v} is not supported; this spearlet speaks ${PROTOCOL_VERSION}`;
    return { ok: false, result: 'invalid', code: 'PROTOCOL_VERSION_UNSUPPORTED', message };
  }
  const verified = await verifyFor(ctx, token);
  if (verified instanceof AuthError) {
    const result = verified.code === 'FORBIDDEN_SPEARLET' ? 'forbidden' : 'auth_failed';
    return { ok: false, result, code: verified.code, message: verified.message };
  }
  return { ok: true, token: verified, agentName: typeof agent === 'string' ? agent.slice(0, 200) : undefined };
}

/** protocol.md §3.8: a REAUTH must carry a valid token for the same `sub`. */
export async function checkReauth(
  ctx: TokenCheckContext,
  payload: Buffer,
  currentSub: string | undefined,
): Promise<ReauthOutcome> {
  let token: unknown;
  try {
    token = parseJsonPayload(payload, 'REAUTH').token;
  } catch {
    token = undefined;
  }
  if (typeof token !== 'string')
    return { ok: false, code: 'INVALID_PAYLOAD', message: 'REAUTH needs {"token": string}' };
  const verified = await verifyFor(ctx, token);
  if (verified instanceof AuthError) return { ok: false, code: verified.code, message: verified.message };
  if (verified.sub !== currentSub)
    return { ok: false, code: 'AUTH_FAILED', message: 'REAUTH token is for another subject' };
  return { ok: true, token: verified };
}

/** The settings a WELCOME announces. */
export interface WelcomeSettings {
  readonly spearletId: string;
  readonly zone: string | undefined;
  readonly config: {
    readonly heartbeatMs: number;
    readonly heartbeatTimeoutMs: number;
    readonly maxFrameSize: number;
    readonly maxInFlight: number;
  };
}

/** protocol.md §3.1: the WELCOME frame that opens session `sessionId` for `token`. */
export function welcomeFrame(s: WelcomeSettings, sessionId: string, token: VerifiedToken): Buffer {
  return encodeJson(MessageKind.WELCOME, 0n, {
    v: PROTOCOL_VERSION,
    spearlet: s.spearletId,
    session: sessionId,
    zone: s.zone ?? null,
    heartbeatMs: s.config.heartbeatMs,
    heartbeatTimeoutMs: s.config.heartbeatTimeoutMs,
    maxFrame: s.config.maxFrameSize,
    maxInFlight: s.config.maxInFlight,
    tokenExp: token.exp ?? null,
    features: FEATURES,
  });
}
