// A key set fetched from an http(s) URL: fetched once at start (readiness waits for it), refetched on an unknown kid
// or after a failure at most once per cooldown, with a bounded wait so a hanging key server fails a HELLO with
// JWKS_UNAVAILABLE instead of stalling it into a handshake timeout.
import { createLocalJWKSet, errors as joseErrors, type CryptoKey, type JWTVerifyGetKey } from 'jose';
import { AuthError, ConfigError } from '../errors.ts';
import { silentLogger, type Logger } from '../util/logger.ts';
import { DEFAULT_JWKS_COOLDOWN_MS, parseJwks, type JwksSource } from './jwks.ts';

/** A fetch longer than this is abandoned (and counts as a failure). */
export const DEFAULT_REMOTE_JWKS_TIMEOUT_MS = 3_000;
/** How long a HELLO waits for a fetch already in flight before it is refused with JWKS_UNAVAILABLE. */
export const DEFAULT_REMOTE_JWKS_WAIT_MS = 2_000;

export interface RemoteJwksOptions {
  cooldownMs?: number;
  timeoutMs?: number;
  waitMs?: number;
  logger?: Logger;
  now?: () => number;
}

export interface RemoteJwksSource extends JwksSource {
  /** True once a valid key set has arrived. */
  readonly loaded: boolean;
  /** Fetches made so far (successful or not). */
  readonly fetches: number;
  /** Settles when the first fetch is over (whatever its outcome). */
  readonly firstFetch: Promise<void>;
}

function isNoMatchingKey(err: unknown): boolean {
  return err instanceof joseErrors.JOSEError && err.code === joseErrors.JWKSNoMatchingKey.code;
}

export function createRemoteJwks(url: string | URL, options: RemoteJwksOptions = {}): RemoteJwksSource {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('jwks', `not a URL: ${String(url)}`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new ConfigError('jwks', 'must be http(s)');
  const cooldownMs = options.cooldownMs ?? DEFAULT_JWKS_COOLDOWN_MS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_REMOTE_JWKS_TIMEOUT_MS;
  const waitMs = options.waitMs ?? DEFAULT_REMOTE_JWKS_WAIT_MS;
  const now = options.now ?? Date.now;
  const log = (options.logger ?? silentLogger()).child({ component: 'jwks', url: parsed.origin + parsed.pathname });
  let local: ReturnType<typeof createLocalJWKSet> | undefined;
  let lastAttempt = Number.NEGATIVE_INFINITY;
  let lastError = 'not fetched yet';
  let inFlight: Promise<void> | undefined;
  let fetches = 0;
  const controller = new AbortController();

  const fetchOnce = async (): Promise<void> => {
    fetches++;
    lastAttempt = now();
    try {
      const res = await fetch(parsed, {
        signal: AbortSignal.any([controller.signal, AbortSignal.timeout(timeoutMs)]),
        headers: { accept: 'application/json' },
      });
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      const jwks = parseJwks(await res.json(), 'jwks');
      if (jwks.keys.length === 0) throw new Error('the key set is empty');
      local = createLocalJWKSet(jwks);
      log.info({ keys: jwks.keys.length }, 'JWKS fetched');
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
      // Keep the last good set; say why the fetch failed (the cause of any JWKS_UNAVAILABLE that follows).
      log.warn({ cause: lastError, cooldownMs }, 'JWKS fetch failed');
    }
  };
  const refetch = (): Promise<void> => {
    inFlight ??= fetchOnce().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
  const waitBounded = async (p: Promise<void>): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      p,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, waitMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  };
  const unavailable = (): AuthError =>
    new AuthError('JWKS_UNAVAILABLE', `key set at ${parsed.href} unavailable: ${lastError}`, { retryable: true });

  const firstFetch = refetch();
  const getKey: JWTVerifyGetKey = async (header, token): Promise<CryptoKey> => {
    if (local === undefined) {
      if (inFlight === undefined && now() - lastAttempt >= cooldownMs) void refetch();
      if (inFlight !== undefined) await waitBounded(inFlight);
      // `local` may have been set by the fetch awaited above; TypeScript cannot see that.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
      if (local === undefined) throw unavailable();
    }
    try {
      return await local(header, token);
    } catch (err) {
      if (!isNoMatchingKey(err) || now() - lastAttempt < cooldownMs) throw err;
      await waitBounded(refetch());
      return local(header, token);
    }
  };
  return {
    getKey,
    get loaded() {
      return local !== undefined;
    },
    get fetches() {
      return fetches;
    },
    firstFetch,
    close: () => {
      controller.abort();
      return Promise.resolve();
    },
  };
}
