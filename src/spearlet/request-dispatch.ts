// Decides what happens to one REQUEST an agent sent: refused (draining, scope, unknown method, overload, a drill
// fault) or run by its handler.
import { setTimeout as delay } from 'node:timers/promises';
import type { VerifiedToken } from '../auth/verify.ts';
import { methodAllowed } from '../auth/scope.ts';
import type { RequestMessage } from '../wire/index.ts';
import type { Handler } from './handlers.ts';
import type { InboundRequests } from './inbound-requests.ts';
import type { MeshSession } from './session.ts';
import type { SessionHost } from './session-types.ts';

/** `startedAt`: performance.now() when the request arrived (the frames of one received chunk share one reading). */
export function dispatchRequest(
  msg: RequestMessage,
  startedAt: number,
  inbound: InboundRequests<MeshSession>,
  host: SessionHost,
  open: boolean,
  token: VerifiedToken | undefined,
  session: MeshSession,
): void {
  if (!open) {
    inbound.refuse(msg, startedAt, 'DRAINING', 'this connection accepts no new requests (GOAWAY sent)', true);
    return;
  }
  if (!methodAllowed(token?.scope, msg.method)) {
    inbound.refuse(msg, startedAt, 'FORBIDDEN_METHOD', `token scope does not allow ${msg.method}`, false);
    return;
  }
  let handler = host.handlers.get(msg.method);
  const fault = host.faults?.beforeDispatch?.(msg.method);
  if (fault !== undefined && handler !== undefined) {
    if ('error' in fault) {
      const e = fault.error;
      inbound.refuse(msg, startedAt, e.code, e.message, e.retryable);
      return;
    }
    handler = delayed(handler, fault.delayMs);
  }
  if (handler === undefined) {
    const message = `no method ${msg.method} on spearlet ${host.spearletId}`;
    inbound.refuse(msg, startedAt, 'METHOD_NOT_FOUND', message, false);
    return;
  }
  const limit = host.config.maxInFlight;
  if (inbound.size >= limit) {
    const message = `session has ${inbound.size} requests in flight (limit ${limit})`;
    inbound.refuse(msg, startedAt, 'OVERLOADED', message, true);
    return;
  }
  inbound.run(msg, startedAt, handler, session, token?.sub ?? '');
}

/** A drill's slow fault: the handler starts `delayMs` late (the request counts as in flight meanwhile). */
function delayed(handler: Handler<MeshSession>, delayMs: number): Handler<MeshSession> {
  // The wait ends early when the request does (deadline, CANCEL, drain), like a real slow handler would.
  return async (req) => {
    await delay(delayMs, undefined, { signal: req.signal, ref: false });
    return handler(req);
  };
}
