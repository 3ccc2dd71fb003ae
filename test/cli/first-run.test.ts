// First-run errors: a port another process holds, reported as one line naming the flag, exit 2, nothing left behind.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliResult } from './run-cli.ts';
import { TEST_AUDIENCE, TEST_ISSUER } from '../helpers/spearlet.ts';

function assertOneLine(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0] ?? '', pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
}

describe('first-run errors', () => {
  let holder: Server;
  let port = 0;
  let dir = '';

  before(async () => {
    // A real listener holds the port, as a Consul agent or another `npm start` would.
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    port = (holder.address() as { port: number }).port;
    dir = await mkdtemp(join(tmpdir(), 'first-run-'));
    await writeFile(join(dir, 'secret'), Buffer.alloc(32, 1));
  });
  after(async () => {
    await new Promise<void>((resolve) =>
      holder.close(() => {
        resolve();
      }),
    );
    await rm(dir, { recursive: true, force: true });
  });

  it('up on a taken registry port names it, suggests --registry-port 0 and removes its temporary directory', async () => {
    const tmp = join(dir, 'tmp');
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp);
    const r = await runCli(['up', '--registry-port', String(port)], { TMPDIR: tmp });
    assertOneLine(
      r,
      new RegExp(`^spear-mesh up: --registry-port 127\\.0\\.0\\.1:${port} .*\\[ADDRESS_IN_USE\\].*--registry-port 0`),
    );
    // (tsx, which runs the CLI from its sources here, keeps its cache there too.)
    const left = (await readdir(tmp)).filter((name) => name.startsWith('spear-mesh-'));
    assert.deepEqual(left, [], 'the directory holding the token secret is gone');
  });

  for (const flag of ['--listen', '--admin'] as const) {
    it(`spearlet with ${flag} on a taken port exits 2 naming ${flag}`, async () => {
      const r = await runCli([
        'spearlet',
        ...['--id', 's1', '--no-consul', '--issuer', TEST_ISSUER, '--audience', TEST_AUDIENCE],
        ...['--token-secret-file', join(dir, 'secret'), flag, `127.0.0.1:${port}`],
      ]);
      assertOneLine(r, new RegExp(`^spear-mesh spearlet: ${flag} 127\\.0\\.0\\.1:${port} .*\\[ADDRESS_IN_USE\\]`));
    });
  }

  it('--json reports the error as one JSON object; --verbose adds the stack', async () => {
    const json = await runCli(['status', '--json', '--frobnicate']);
    assert.equal(json.code, 2, json.stderr);
    const parsed = JSON.parse(json.stderr) as { error: { code: string; message: string } };
    assert.equal(parsed.error.code, 'CONFIG_INVALID');
    const verbose = await runCli(['up', '--verbose', '--spearlets', 'many']);
    assert.equal(verbose.code, 2);
    assert.match(verbose.stderr, /^spear-mesh up: --spearlets: .*\[CONFIG_INVALID\]/);
    assert.match(verbose.stderr, /^\s+at /m);
  });
});
