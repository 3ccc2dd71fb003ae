import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/spear-mesh.js', import.meta.url));

describe('spear-mesh command', () => {
  it('--help lists every subcommand', async () => {
    const { stdout } = await run(process.execPath, [bin, '--help']);
    for (const name of ['up', 'registry', 'spearlet', 'token', 'task', 'call', 'status', 'drill']) {
      assert.match(stdout, new RegExp(`^  ${name} `, 'm'));
    }
  });

  it('an unknown command exits 2 with a message', async () => {
    await assert.rejects(run(process.execPath, [bin, 'frobnicate']), (err: { code?: number; stderr?: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr ?? '', /unknown command 'frobnicate'/);
      return true;
    });
  });
});
