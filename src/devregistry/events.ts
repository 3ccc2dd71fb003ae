// User events: PUT /v1/event/fire/:name and GET /v1/event/list, as one Consul agent sees them: the agent's filters
// decide whether it keeps an event, it keeps the last 256, and the list's index is derived from the newest event's
// ID (not a raft index), so it blocks until that ID changes.
import { randomUUID } from 'node:crypto';
import type { ClientGone } from './blocking.ts';
import type { RegistryState } from './context.ts';
import { badRequest, serverError } from './http-error.ts';
import { json, type Endpoint, type Reply, type RequestCtx } from './http.ts';
import { parseWaitAndIndex } from './query.ts';

export const EVENT_TOPIC = 'event';
/** Events an agent remembers (Consul's eventBuf). */
export const EVENT_BUFFER_SIZE = 256;
/** The event list's wait cap and its default when an index is given (it has no 5 m default and no jitter). */
export const EVENT_MAX_QUERY_MS = 600_000;
/** Consul's remote-exec event: handled by the agent, never listed. */
const REMOTE_EXEC = '_rexec';

export interface UserEvent {
  ID: string;
  Name: string;
  Payload: Buffer | null;
  NodeFilter: string;
  ServiceFilter: string;
  TagFilter: string;
  Version: number;
  LTime: number;
}

/**
 * Consul's uuidToUint64: the first 64 bits of the UUID's hex XORed with the last 64. Not monotonic: a blocking
 * list returns as soon as the index differs from the one asked for.
 */
export function eventIndex(id: string): bigint {
  const low = BigInt(`0x${id.slice(0, 8)}${id.slice(9, 13)}${id.slice(14, 18)}`);
  const high = BigInt(`0x${id.slice(19, 23)}${id.slice(24, 36)}`);
  return low ^ high;
}

const render = (e: UserEvent): Record<string, unknown> => ({
  ...e,
  Payload: e.Payload === null ? null : e.Payload.toString('base64'),
});

function compile(what: string, pattern: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch (err) {
    throw serverError(`Invalid ${what} filter: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function eventRoutes(state: RegistryState): Endpoint[] {
  const ring: (UserEvent | undefined)[] = new Array<UserEvent | undefined>(EVENT_BUFFER_SIZE);
  let next = 0;
  let ltime = 0;

  const recent = (): UserEvent[] => {
    const out: UserEvent[] = [];
    for (let i = 0; i < EVENT_BUFFER_SIZE; i++) {
      const e = ring[(next + i) % EVENT_BUFFER_SIZE];
      if (e !== undefined) out.push(e);
    }
    return out;
  };

  /** shouldProcessUserEvent: this agent keeps an event only if its node and service filters match here. */
  const matchesHere = (e: UserEvent): boolean => {
    if (e.NodeFilter !== '' && !new RegExp(e.NodeFilter).test(state.nodeName)) return false;
    if (e.ServiceFilter === '') return true;
    const svcRe = new RegExp(e.ServiceFilter);
    const tagRe = e.TagFilter === '' ? undefined : new RegExp(e.TagFilter);
    return state.agent
      .services()
      .some((s) => svcRe.test(s.Service) && (tagRe === undefined || s.Tags.some((tag) => tagRe.test(tag))));
  };

  const fire = (ctx: RequestCtx): Reply => {
    const dc = ctx.query.get('dc');
    const name = ctx.rest;
    if (name === '') throw badRequest('Missing name');
    const e: UserEvent = {
      ID: '',
      Name: name,
      Payload: ctx.body !== undefined && ctx.body.length > 0 ? Buffer.from(ctx.body) : null,
      NodeFilter: ctx.query.get('node'),
      ServiceFilter: ctx.query.get('service'),
      TagFilter: ctx.query.get('tag'),
      Version: 1,
      LTime: 0,
    };
    if (e.TagFilter !== '' && e.ServiceFilter === '')
      throw serverError('Cannot provide tag filter without service filter');
    if (e.NodeFilter !== '') compile('node', e.NodeFilter);
    if (e.ServiceFilter !== '') compile('service', e.ServiceFilter);
    if (e.TagFilter !== '') compile('tag', e.TagFilter);
    if (dc !== '' && dc !== state.datacenter) throw serverError('No path to datacenter');
    e.ID = randomUUID();
    // The fire answer is the request as sent (LTime 0); the gossiped copy this agent keeps gets the Lamport time.
    const reply = json(render(e));
    ltime += 1;
    if (e.Name !== REMOTE_EXEC && matchesHere(e)) {
      ring[next] = { ...e, LTime: ltime };
      next = (next + 1) % EVENT_BUFFER_SIZE;
      state.ix.hub.notify([EVENT_TOPIC]);
    }
    return reply;
  };

  const list = async (ctx: RequestCtx): Promise<Reply> => {
    const { waitMs, minIndex } = parseWaitAndIndex(ctx.query);
    const name = ctx.query.get('name');
    const snapshot = (): { events: UserEvent[]; index: bigint } => {
      const events = recent().filter((e) => name === '' || e.Name === name);
      const last = events[events.length - 1];
      return { events, index: last === undefined ? 1n : eventIndex(last.ID) };
    };
    let snap = snapshot();
    if (minIndex > 0n) {
      const ms = waitMs <= 0 || waitMs > EVENT_MAX_QUERY_MS ? EVENT_MAX_QUERY_MS : waitMs;
      const deadline = state.clock.now() + ms;
      while (snap.index === minIndex && !state.ix.hub.closed && !ctx.signal.aborted) {
        const left = deadline - state.clock.now();
        if (left <= 0) break;
        await waitForEvent(state, left, ctx.signal);
        snap = snapshot();
      }
    }
    return json(snap.events.map(render), { 'X-Consul-Index': snap.index.toString() });
  };

  return [
    { pattern: '/v1/event/fire/', methods: ['PUT'], handler: fire },
    { pattern: '/v1/event/list', methods: ['GET'], handler: list },
  ];
}

function waitForEvent(state: RegistryState, ms: number, signal: ClientGone): Promise<void> {
  return state.ix.hub.wait([EVENT_TOPIC], ms, state.clock, signal);
}
