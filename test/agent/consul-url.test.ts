// The `consul` option takes an address string as well as an options object (MeshClient, Spearlet, createConsulClient).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeshClient } from '../../src/agent/mesh-client.ts';
import { mintToken } from '../../src/auth/mint.ts';
import { ConfigError } from '../../src/errors.ts';
import { resolveConsulOptions } from '../../src/registry/consul-options.ts';
import { startTestRegistry } from '../helpers/dev-registry.ts';
import { spawnSpearlet, TEST_AUDIENCE, TEST_ISSUER } from '../helpers/spearlet.ts';

describe('consul: an address string', () => {
  it('resolves like { addr }, still merged over the environment', () => {
    const env = { CONSUL_HTTP_TOKEN: 'tok' };
    assert.deepEqual(resolveConsulOptions('10.0.0.5:8500', env), resolveConsulOptions({ addr: '10.0.0.5:8500' }, env));
    assert.equal(resolveConsulOptions('https://c:8501', {}).ssl, true);
    assert.throws(
      () => resolveConsulOptions('ftp://x:1', {}),
      (e: unknown) => e instanceof ConfigError && /consul\.addr/.test(e.message),
    );
    assert.throws(
      () => resolveConsulOptions(42 as unknown as string, {}),
      (e: unknown) => e instanceof ConfigError && e.option === 'consul',
    );
  });

  it('MeshClient.connect({ consul: URL }) discovers a spearlet process and calls it', async (t) => {
    const registry = await startTestRegistry();
    t.after(() => registry.close());
    const dir = await mkdtemp(join(tmpdir(), 'consul-url-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const secret = randomBytes(32);
    await writeFile(join(dir, 'secret'), secret, { mode: 0o600 });
    const url = `http://127.0.0.1:${registry.port}`;
    const spearlet = await spawnSpearlet({ id: 's1', consul: url, secretFile: join(dir, 'secret') });
    t.after(() => spearlet.stop());
    const token = await mintToken({ secret, sub: 'agent', iss: TEST_ISSUER, aud: TEST_AUDIENCE, expiresInSec: 600 });
    const client = await MeshClient.connect({ consul: url, token, readyTimeoutMs: 30_000 });
    t.after(() => client.close());
    const answer = await client.request('echo', 'via a consul URL', { idempotent: true, deadlineMs: 10_000 });
    assert.equal(answer.toString(), 'via a consul URL');
  });
});
