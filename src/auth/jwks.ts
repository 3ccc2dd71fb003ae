// Key sets for JWT verification: a static set, a file (reloaded on change or on an unknown kid), a URL, a function.
import { watchFile, unwatchFile, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import {
  createLocalJWKSet,
  errors as joseErrors,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
  type CryptoKey,
} from 'jose';
import { AuthError, ConfigError } from '../errors.ts';

export const DEFAULT_JWKS_COOLDOWN_MS = 30_000;
export const DEFAULT_JWKS_FILE_POLL_MS = 2_000;

/** Where a verifier finds public keys. `getKey` picks the key for a token's header (by `kid` and `alg`). */
export interface JwksSource {
  readonly getKey: JWTVerifyGetKey;
  /** Stops watching files or remote sets; idempotent. */
  close(): Promise<void>;
}

/** A source whose key set is replaced from outside (a Consul KV watch, a test). */
export interface DynamicJwksSource extends JwksSource {
  update(jwks: JSONWebKeySet): void;
  readonly loaded: boolean;
}

/** Checks that a parsed JSON value looks like `{keys: [...]}` holding public keys only. */
export function parseJwks(value: unknown, what: string): JSONWebKeySet {
  if (typeof value !== 'object' || value === null || !Array.isArray((value as { keys?: unknown }).keys)) {
    throw new ConfigError(what, 'not a JSON Web Key Set ({"keys": [...]})');
  }
  const keys = (value as { keys: unknown[] }).keys;
  for (const k of keys) {
    if (typeof k !== 'object' || k === null) throw new ConfigError(what, 'a key is not an object');
    if ('d' in k || (k as { kty?: unknown }).kty === 'oct')
      throw new ConfigError(what, 'a key set must hold public keys only');
  }
  return value as JSONWebKeySet;
}

function isNoMatchingKey(err: unknown): boolean {
  return err instanceof joseErrors.JOSEError && err.code === joseErrors.JWKSNoMatchingKey.code;
}

export function createStaticJwks(jwks: JSONWebKeySet): JwksSource {
  const local = createLocalJWKSet(jwks);
  return { getKey: (header, token) => local(header, token), close: () => Promise.resolve() };
}

export function createDynamicJwks(initial?: JSONWebKeySet): DynamicJwksSource {
  let local = initial === undefined ? undefined : createLocalJWKSet(initial);
  return {
    getKey: (header, token): Promise<CryptoKey> => {
      if (local === undefined) {
        return Promise.reject(new AuthError('JWKS_UNAVAILABLE', 'key set not loaded yet', { retryable: true }));
      }
      return local(header, token);
    },
    update(jwks: JSONWebKeySet): void {
      local = createLocalJWKSet(jwks);
    },
    get loaded(): boolean {
      return local !== undefined;
    },
    close: () => Promise.resolve(),
  };
}

export interface FunctionJwksOptions {
  /** Least time between two loads triggered by unknown kids. */
  cooldownMs?: number;
  now?: () => number;
}

/**
 * A source that calls `load` on first use and again when a token names a kid it does not know (at most once per
 * cooldown), so rotated keys are picked up without a restart.
 */
export function createFunctionJwks(
  load: () => Promise<JSONWebKeySet>,
  options: FunctionJwksOptions = {},
): JwksSource & {
  reload(): Promise<void>;
} {
  const cooldownMs = options.cooldownMs ?? DEFAULT_JWKS_COOLDOWN_MS;
  const now = options.now ?? Date.now;
  let local: ReturnType<typeof createLocalJWKSet> | undefined;
  let lastLoad = -Infinity;
  let pending: Promise<void> | undefined;

  const reload = (): Promise<void> => {
    pending ??= (async () => {
      try {
        lastLoad = now();
        local = createLocalJWKSet(await load());
      } catch (err) {
        if (local === undefined)
          throw new AuthError('JWKS_UNAVAILABLE', 'key set unavailable', { cause: err, retryable: true });
        // Keep the last good set when a reload fails.
      } finally {
        pending = undefined;
      }
    })();
    return pending;
  };

  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (local === undefined) await reload();
    try {
      return await (local as NonNullable<typeof local>)(header, token);
    } catch (err) {
      if (!isNoMatchingKey(err) || now() - lastLoad < cooldownMs) throw err;
      await reload();
      return (local as NonNullable<typeof local>)(header, token);
    }
  };
  return { getKey, reload, close: () => Promise.resolve() };
}

export interface FileJwksOptions extends FunctionJwksOptions {
  /** How often the file's mtime is polled for changes; 0 turns watching off. */
  pollMs?: number;
}

/** A key set read from a JSON file, re-read when the file changes or when a token names an unknown kid. */
export async function openFileJwks(path: string, options: FileJwksOptions = {}): Promise<JwksSource> {
  const load = async (): Promise<JSONWebKeySet> => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new ConfigError('jwks', `cannot read ${path}: ${(err as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ConfigError('jwks', `${path} is not valid JSON`);
    }
    return parseJwks(json, 'jwks');
  };
  // Read once up front so a bad file fails at startup, not on the first HELLO.
  const first = await load();
  let served = false;
  const source = createFunctionJwks(() => {
    if (!served) {
      served = true;
      return Promise.resolve(first);
    }
    return load();
  }, options);
  const pollMs = options.pollMs ?? DEFAULT_JWKS_FILE_POLL_MS;
  let watching = false;
  const onChange = (curr: Stats, prev: Stats): void => {
    if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size) source.reload().catch(() => undefined);
  };
  if (pollMs > 0) {
    watchFile(path, { interval: pollMs, persistent: false }, onChange);
    watching = true;
  }
  await source.reload();
  return {
    getKey: source.getKey,
    close: () => {
      if (watching) {
        unwatchFile(path, onChange);
        watching = false;
      }
      return Promise.resolve();
    },
  };
}
