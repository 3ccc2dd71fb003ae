// A JWKS kept in a Consul KV key and followed with blocking queries, so a rotated key set reaches every spearlet.
import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff } from '../util/backoff.ts';
import { silentLogger, type Logger } from '../util/logger.ts';
import { ConfigError } from '../errors.ts';
import { createDynamicJwks, parseJwks, type JwksSource } from './jwks.ts';

/** The one Consul call this needs (ConsulClient.kvGet in src/registry fits it). */
export interface KvReader {
  kvGet(
    key: string,
    opts?: { index?: string; wait?: string; signal?: AbortSignal },
  ): Promise<{ value: Buffer | undefined; index: string | undefined }>;
}

export interface ConsulJwksOptions {
  /** Blocking query wait, Consul duration syntax; default 5m. */
  wait?: string;
  logger?: Logger;
}

function parseValue(value: Buffer, key: string): ReturnType<typeof parseJwks> {
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch {
    throw new ConfigError('jwks', `Consul key ${key} does not hold JSON`);
  }
  return parseJwks(json, 'jwks');
}

/**
 * Reads the key once (it must exist and hold a JWKS: a spearlet that cannot verify anything should not start), then
 * follows it in the background. A later bad value is logged and ignored; the last good key set stays in force.
 */
export async function openConsulJwks(kv: KvReader, key: string, options: ConsulJwksOptions = {}): Promise<JwksSource> {
  const log = (options.logger ?? silentLogger()).child({ component: 'consul-jwks', key });
  const first = await kv.kvGet(key);
  if (first.value === undefined) throw new ConfigError('jwks', `Consul key ${key} does not exist`);
  const source = createDynamicJwks(parseValue(first.value, key));
  const controller = new AbortController();
  const backoff = new Backoff({ initialMs: 500, maxMs: 30_000 });
  let index = first.index;
  const stopped = (): boolean => controller.signal.aborted;
  const loop = async (): Promise<void> => {
    while (!stopped()) {
      try {
        const r = await kv.kvGet(key, { index: index ?? '0', wait: options.wait ?? '5m', signal: controller.signal });
        backoff.reset();
        // Consul's rules: an index that goes backwards (or is missing) resets to 0.
        const changed = r.index !== index;
        index = r.index !== undefined && (index === undefined || BigInt(r.index) >= BigInt(index)) ? r.index : '0';
        if (!changed) continue;
        if (r.value === undefined) {
          log.warn('JWKS key deleted; keeping the last key set');
          continue;
        }
        source.update(parseValue(r.value, key));
        log.info('JWKS updated from Consul');
      } catch (err) {
        if (stopped()) return;
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'JWKS watch failed; retrying');
        await sleep(backoff.next(), undefined, { signal: controller.signal, ref: false }).catch(() => undefined);
      }
    }
  };
  const running = loop();
  return {
    getKey: source.getKey,
    close: async () => {
      controller.abort();
      await running;
    },
  };
}
