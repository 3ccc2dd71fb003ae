// The admin fault endpoint a drill uses against spearlets it cannot signal: only with --enable-drills,
// and each fault does to the real process what it says.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCli, type LiveCli } from './run-cli.ts';

const started: LiveCli[] = [];
let dir = '';

async function spearlet(...extra: string[]): Promise<{ cli: LiveCli; admin: string }> {
  if (dir === '') {
    dir = await mkdtemp(join(tmpdir(), 'faults-'));
    await writeFile(join(dir, 'secret'), randomBytes(32));
  }
  const cli = startCli([
    'spearlet',
    '--id',
    `f${started.length}`,
    '--no-consul',
    '--token-secret-file',
    join(dir, 'secret'),
    '--issuer',
    'i',
    '--audience',
    'a',
    ...extra,
  ]);
  started.push(cli);
  const admin = `http://${(await cli.waitForLine(/admin=(\S+)/))[1]!}`;
  return { cli, admin };
}

const post = (url: string, body: unknown): Promise<Response> =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('admin fault endpoint', () => {
  after(async () => {
    for (const cli of started) {
      if (cli.child.exitCode === null && cli.child.signalCode === null) {
        cli.child.kill('SIGKILL');
        await cli.exited;
      }
    }
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('does not exist without --enable-drills', async () => {
    const { admin } = await spearlet();
    assert.equal((await post(`${admin}/v1/faults`, { fault: 'kill', durationMs: 0 })).status, 404);
  });

  it('freeze blocks the whole process for its duration, then it answers again', async () => {
    const { admin } = await spearlet('--enable-drills');
    assert.equal((await post(`${admin}/v1/faults`, { fault: 'freeze', durationMs: 3000 })).status, 202);
    // The freeze starts right after the answer: probe until the process stops answering (it cannot, blocked).
    let frozen = false;
    for (let i = 0; i < 20 && !frozen; i++) {
      try {
        await fetch(`${admin}/health`, { signal: AbortSignal.timeout(400) });
      } catch (err) {
        assert.equal((err as Error).name, 'TimeoutError');
        frozen = true;
      }
    }
    assert.ok(frozen, 'the spearlet stopped answering');
    const res = await fetch(`${admin}/health`, { signal: AbortSignal.timeout(20_000) });
    assert.equal(res.status, 200);
  });

  it('kill ends the process as SIGKILL would; unknown faults are refused', async () => {
    const { cli, admin } = await spearlet('--enable-drills');
    assert.equal((await post(`${admin}/v1/faults`, { fault: 'meteor', durationMs: 0 })).status, 400);
    assert.equal((await post(`${admin}/v1/faults`, { fault: 'kill', durationMs: 0 })).status, 202);
    assert.deepEqual(await cli.exited, { code: null, signal: 'SIGKILL' });
  });
});
