// The documentation is part of the contract: every error code is documented, and nothing else is.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { ERROR_CODES } from '../src/errors.ts';
import { repoPath } from '../scripts/repo-root.ts';

const read = (path: string): Promise<string> => readFile(repoPath(path), 'utf8');

describe('docs', () => {
  it('docs/errors.md documents exactly the codes in src/errors.ts', async () => {
    const doc = await read('docs/errors.md');
    const documented = new Set([...doc.matchAll(/^\| `([A-Z0-9_]+)` +\|/gm)].map((m) => m[1]));
    const missing = ERROR_CODES.filter((c) => !documented.has(c));
    const stale = [...documented].filter((c) => !(ERROR_CODES as readonly (string | undefined)[]).includes(c));
    assert.deepEqual(missing, [], 'codes missing from docs/errors.md');
    assert.deepEqual(stale, [], 'codes documented but not defined');
  });

  it('the README quick start is exactly the two documented commands', async () => {
    const readme = await read('README.md');
    const quick = /## Quick start\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
    const commands = [...quick.matchAll(/```sh\n([^\n]+)\n```/g)].map((m) => m[1]);
    assert.deepEqual(commands, ['npm ci && npm start', 'npm ci && npm test']);
  });

  it('README links resolve to files in the repository', async () => {
    const readme = await read('README.md');
    for (const [, target] of readme.matchAll(/\]\(((?:docs|deploy|examples)\/[^)#]+)\)/g)) {
      await assert.doesNotReject(read(target!), `README links to missing ${target}`);
    }
  });
});
