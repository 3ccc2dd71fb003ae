// The method registry of a spearlet and its built-in methods: echo, sleep (for drills) and info.
import { MeshError } from '../errors.ts';

/** What a handler gets for one REQUEST. `body` is a view of the frame: copy it if kept after the handler returns. */
export interface HandlerRequest<S = unknown> {
  readonly body: Buffer;
  readonly method: string;
  /** Fires on CANCEL, on the request's deadline, on connection loss and at the end of a bounded drain. */
  readonly signal: AbortSignal;
  /** The token's `sub`. */
  readonly agent: string;
  readonly requestId: bigint;
  /** True when the client flagged the request idempotent. */
  readonly idempotent: boolean;
  readonly session: S;
}

export type HandlerResult = Uint8Array | string | undefined;
// `void` lets handlers be written as plain async functions that return nothing.
// eslint-disable-next-line @typescript-eslint/no-invalid-void-type
export type Handler<S = unknown> = (req: HandlerRequest<S>) => Promise<HandlerResult | void> | HandlerResult | void;

const METHOD_NAME = /^[\w.:/-]{1,200}$/u;

export class HandlerRegistry<S = unknown> {
  readonly #handlers = new Map<string, Handler<S>>();

  /** Registers (or replaces) the handler for `method`. */
  set(method: string, handler: Handler<S>): void {
    if (typeof method !== 'string' || !METHOD_NAME.test(method))
      throw new TypeError(`invalid method name ${JSON.stringify(method)}`);
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    this.#handlers.set(method, handler);
  }

  delete(method: string): boolean {
    return this.#handlers.delete(method);
  }

  get(method: string): Handler<S> | undefined {
    return this.#handlers.get(method);
  }

  has(method: string): boolean {
    return this.#handlers.has(method);
  }

  names(): string[] {
    return [...this.#handlers.keys()].sort();
  }
}

/** The result of a handler as response bytes. */
export function resultBytes(result: unknown): Uint8Array {
  if (result === undefined || result === null) return EMPTY;
  if (result instanceof Uint8Array) return result;
  if (typeof result === 'string') return Buffer.from(result, 'utf8');
  throw new TypeError('a handler must return a Uint8Array, a string or nothing');
}

const EMPTY = new Uint8Array(0);
export const MAX_SLEEP_MS = 10 * 60 * 1000;

/** `{"ms": n}` or a decimal number. */
export function parseSleepMs(body: Buffer): number {
  const text = body.toString('utf8').trim();
  let ms: unknown;
  if (text.startsWith('{')) {
    try {
      ms = (JSON.parse(text) as { ms?: unknown }).ms;
    } catch {
      ms = undefined;
    }
  } else if (/^\d+(\.\d+)?$/u.test(text)) {
    ms = Number(text);
  }
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_SLEEP_MS) {
    throw new MeshError(
      'INVALID_PAYLOAD',
      `sleep wants {"ms": n} or a decimal number of milliseconds up to ${MAX_SLEEP_MS}`,
    );
  }
  return ms;
}

/** Resolves after `ms`, or rejects with the signal's reason when it fires first. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export interface InfoSource {
  info(): Record<string, unknown>;
}

/** Registers echo, sleep and info. */
export function registerBuiltins<S>(registry: HandlerRegistry<S>, source: InfoSource): void {
  registry.set('echo', (req) => req.body);
  registry.set('sleep', async (req) => {
    await abortableSleep(parseSleepMs(req.body), req.signal);
    return req.body;
  });
  registry.set('info', () => JSON.stringify(source.info()));
}
