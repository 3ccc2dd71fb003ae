// `spear-mesh call` as users run it (a child process) when it cannot succeed: a token the spearlets refuse, and a
// Consul address where nothing listens. It must end promptly with one human line (cause, code, hint) on stderr,
// no log lines unless --verbose, and JSON only with --json.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { mintToken } from '../../src/auth/mint.ts';
import type { Spearlet } from '../../src/spearlet/spearlet.ts';
import { startTestRegistry, type DevRegistry } from '../helpers/dev-registry.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { AUDIENCE, ISSUER, SECRET } from '../spearlet/fixture.ts';
import { Spearlet as SpearletClass } from '../../src/spearlet/spearlet.ts';
import { runCli } from './run-cli.ts';

/** The default deadline would end a hanging call after 10 s: a minute makes "prompt" unmistakable. */
const DEADLINE = ['--deadline-ms', '60000'];

let registry: DevRegistry;
let spearlet: Spearlet;

before(async () => {
  registry = await startTestRegistry();
  spearlet = new SpearletClass({
    id: 'cli-s1',
    listen: { host: '127.0.0.1', port: 0 },
    auth: { secret: SECRET, issuer: ISSUER, audience: AUDIENCE },
    consul: registry.url,
  });
  await spearlet.start();
  await waitFor(async () => {
    const res = await fetch(`${registry.url}/v1/health/service/spearlet?passing`);
    return ((await res.json()) as unknown[]).length === 1;
  }, 20_000);
});

after(async () => {
  await spearlet.close();
  await registry.close();
});

const foreignToken = (): Promise<string> =>
  mintToken({ secret: SECRET, sub: 'cli', iss: 'someone-else', aud: AUDIENCE, expiresInSec: 600 });

describe('spear-mesh call errors', () => {
  it('ends promptly with one line for a token the spearlets refuse', async () => {
    const started = performance.now();
    const r = await runCli(['call', '--method', 'echo', '--consul', registry.url, ...DEADLINE], {
      SPEAR_TOKEN: await foreignToken(),
      SPEAR_LOG_LEVEL: undefined,
    });
    const elapsedMs = performance.now() - started;
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] ?? '',
      /^spear-mesh call: spearlet cli-s1 refused the handshake: token issuer does not match \[ISSUER_MISMATCH\] \(hint: .*--iss.*\)$/,
    );
    assert.ok(elapsedMs < 40_000, `took ${elapsedMs} ms`);
  });

  it('prints JSON with --json and logs with --verbose', async () => {
    const env = { SPEAR_TOKEN: await foreignToken(), SPEAR_LOG_LEVEL: undefined };
    const json = await runCli(['call', '--method', 'echo', '--consul', registry.url, '--json', ...DEADLINE], env);
    assert.equal(json.code, 1);
    assert.equal(json.stderr, '');
    const out = JSON.parse(json.stdout) as { ok: boolean; error: { code: string; retryable: boolean } };
    assert.equal(out.ok, false);
    assert.equal(out.error.code, 'ISSUER_MISMATCH');
    assert.equal(out.error.retryable, false);
    const verbose = await runCli(['--verbose', 'call', '--method', 'echo', '--consul', registry.url, ...DEADLINE], env);
    assert.equal(verbose.code, 1);
    assert.match(verbose.stderr, /"msg":"handshake refused/);
    assert.match(verbose.stderr, /\[ISSUER_MISMATCH\]/);
  });

  it('ends with one REGISTRY_UNAVAILABLE line when nothing listens at the Consul address', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const started = performance.now();
    const r = await runCli(['call', '--method', 'echo', '--consul', `http://127.0.0.1:${port}`, ...DEADLINE], {
      SPEAR_TOKEN: await foreignToken(),
      SPEAR_LOG_LEVEL: undefined,
    });
    const elapsedMs = performance.now() - started;
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] ?? '',
      /^spear-mesh call: no answer from the registry within 5000 ms \(.*ECONNREFUSED.*\) \[REGISTRY_UNAVAILABLE\] \(hint: /,
    );
    assert.ok(elapsedMs >= 5_000 && elapsedMs < 40_000, `took ${elapsedMs} ms`);
  });
});
