import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openConsulJwks, type KvReader } from '../../src/auth/consul-jwks.ts';
import { createTokenVerifier } from '../../src/auth/verify.ts';
import { mintToken } from '../../src/auth/mint.ts';
import { buildJwks, generateSigningKeyPair } from '../../src/auth/keys.ts';
import { AuthError, ConfigError } from '../../src/errors.ts';

/** A scripted KV: blocking reads wait until the value changes (or the signal aborts). */
class FakeKv implements KvReader {
  value: Buffer | undefined;
  index = 1;
  reads = 0;
  #wake: (() => void)[] = [];

  set(value: Buffer | undefined): void {
    this.value = value;
    this.index++;
    for (const w of this.#wake.splice(0)) w();
  }

  async kvGet(
    _key: string,
    opts: { index?: string; signal?: AbortSignal } = {},
  ): Promise<{ value: Buffer | undefined; index: string }> {
    this.reads++;
    if (opts.index !== undefined && Number(opts.index) >= this.index) {
      await new Promise<void>((resolve, reject) => {
        this.#wake.push(resolve);
        opts.signal?.addEventListener('abort', () => {
          reject(new Error('aborted'));
        });
      });
    }
    return { value: this.value, index: String(this.index) };
  }
}

const claims = { sub: 'agent-1', iss: 'iss', aud: 'aud', expiresInSec: 600 } as const;

describe('openConsulJwks', () => {
  it('refuses a missing key at start', async () => {
    await assert.rejects(openConsulJwks(new FakeKv(), 'spear/jwks'), ConfigError);
  });

  it('follows updates, keeps the last good set on a bad value or a deleted key, closes promptly', async () => {
    const a = await generateSigningKeyPair('EdDSA', 'a');
    const b = await generateSigningKeyPair('EdDSA', 'b');
    const kv = new FakeKv();
    kv.set(Buffer.from(JSON.stringify(buildJwks([a.publicJwk]))));
    const jwks = await openConsulJwks(kv, 'spear/jwks');
    const verifier = createTokenVerifier({ jwks, issuer: 'iss', audience: 'aud' });
    const tokenA = await mintToken({ privateKey: a.privateJwk, ...claims });
    const tokenB = await mintToken({ privateKey: b.privateJwk, ...claims });
    assert.equal((await verifier.verify(tokenA)).sub, 'agent-1');
    await assert.rejects(verifier.verify(tokenB), (e: unknown) => e instanceof AuthError && e.code === 'UNKNOWN_KEY');

    kv.set(Buffer.from('not json'));
    kv.set(undefined);
    kv.set(Buffer.from(JSON.stringify(buildJwks([b.publicJwk]))));
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await verifier.verify(tokenB);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    await assert.rejects(verifier.verify(tokenA), (e: unknown) => e instanceof AuthError && e.code === 'UNKNOWN_KEY');
    const started = Date.now();
    await jwks.close();
    assert.ok(Date.now() - started < 2000);
  });
});
