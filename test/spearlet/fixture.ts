// In-process spearlet fixtures for tests: an HS256 secret, no Consul, short timers, cleanup registered on the test.
import type { TestContext } from 'node:test';
import { serveAdmin, type AdminServer } from '../../src/admin/serve.ts';
import { mintToken, type MintTokenOptions } from '../../src/auth/mint.ts';
import { Spearlet } from '../../src/spearlet/spearlet.ts';
import type { SpearletOptions } from '../../src/spearlet/options.ts';

export const SECRET = new TextEncoder().encode('spearlet-test-secret-0123456789abcdef');
export const ISSUER = 'spear-test';
export const AUDIENCE = 'spear-mesh';

export function token(extra: Partial<MintTokenOptions> = {}): Promise<string> {
  return mintToken({ secret: SECRET, sub: 'agent-1', iss: ISSUER, aud: AUDIENCE, expiresInSec: 600, ...extra });
}

/** The test spearlet: s1 on a loopback port, the test secret, no Consul, then `extra`. */
function newSpearlet(extra: Partial<SpearletOptions>): Spearlet {
  return new Spearlet({
    id: 's1',
    listen: { host: '127.0.0.1', port: 0 },
    auth: { secret: SECRET, issuer: ISSUER, audience: AUDIENCE },
    consul: null,
    ...extra,
  });
}

export async function startSpearlet(t: TestContext, extra: Partial<SpearletOptions> = {}): Promise<Spearlet> {
  const s = newSpearlet(extra);
  await s.start();
  t.after(() => s.close());
  return s;
}

/** A spearlet with its admin API served on a port of its own, composed the way the CLI does it. */
export async function startSpearletWithAdmin(
  t: TestContext,
  extra: Partial<SpearletOptions> = {},
): Promise<{ spearlet: Spearlet; admin: AdminServer }> {
  const s = newSpearlet(extra);
  const admin = await serveAdmin(s, { listen: { host: '127.0.0.1', port: 0 } });
  t.after(() => admin.close());
  await s.start();
  t.after(() => s.close());
  return { spearlet: s, admin };
}

export function tcp(s: Spearlet): { port: number; host: string } {
  const a = s.tcpAddress;
  if (a === undefined) throw new Error('no TCP listener');
  return { port: a.port, host: a.host };
}

/** Promise.withResolvers for Node 20. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Polls `cond` until true; for state the spearlet updates after the peer already saw the effect (socket close). */
export { waitFor } from '../helpers/wait-for.ts';
