// `call --token-secret-file` reads the secret the way the spearlet does: the newline an editor or `echo` leaves at the
// end of the file is not part of the secret (deploy/token-secret.example ends with one; the compose demo relies on it).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRegistry } from '../helpers/dev-registry.ts';
import { AUDIENCE, ISSUER, SECRET, startSpearlet, waitFor } from '../spearlet/fixture.ts';
import { runCli } from './run-cli.ts';

describe('call --token-secret-file', () => {
  it('mints a token the spearlet accepts from a secret file ending in a newline', async (t) => {
    const registry = await startTestRegistry();
    t.after(() => registry.close());
    const s = await startSpearlet(t, { id: 'nl1', consul: { addr: registry.url } });
    await waitFor(() => s.readiness().ready, 20_000, 'registered');
    const dir = await mkdtemp(join(tmpdir(), 'spear-secret-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'token-secret');
    await writeFile(file, `${Buffer.from(SECRET).toString('utf8')}\n`, { mode: 0o600 });

    const call = (secretFile: string, extra: string[] = []): ReturnType<typeof runCli> =>
      runCli(
        [
          'call',
          '--method',
          'echo',
          '--data',
          'hi',
          '--json',
          '--consul',
          registry.url,
          '--token-secret-file',
          secretFile,
        ].concat(['--issuer', ISSUER, '--audience', AUDIENCE], extra),
        { SPEAR_TOKEN: '' },
        60_000,
      );
    const ok = await call(file);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { ok: boolean; body: string }).body, 'hi');

    // The control: a secret that really differs is refused.
    const other = join(dir, 'other-secret');
    await writeFile(other, `${Buffer.from(SECRET).toString('utf8')}x\n`, { mode: 0o600 });
    // Refused handshakes are retried until the request's deadline: 2 s instead of the default 10 s.
    assert.equal((await call(other, ['--deadline-ms', '2000'])).code, 1);
  });
});
