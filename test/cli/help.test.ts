import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cliArgs } from '../helpers/cli.ts';

const run = promisify(execFile);

describe('spear-mesh command', () => {
  it('--help lists every subcommand', async () => {
    const { stdout } = await run(process.execPath, cliArgs(['--help']));
    for (const name of ['up', 'registry', 'spearlet', 'token', 'task', 'call', 'status', 'drill']) {
      assert.match(stdout, new RegExp(`^  ${name} `, 'm'));
    }
  });

  it('an unknown command exits 2 with a message', async () => {
    await assert.rejects(run(process.execPath, cliArgs(['frobnicate'])), (err: { code?: number; stderr?: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr ?? '', /unknown command 'frobnicate'/);
      return true;
    });
  });
});
