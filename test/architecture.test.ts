// docs/architecture.md's layer table lists the layers in the order the layer checker enforces.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { repoPath } from '../scripts/repo-root.ts';

const read = (path: string): string => readFileSync(repoPath(path), 'utf8');

describe('architecture doc', () => {
  it('lists every layer of dependency-cruiser.config.js, in the same order', () => {
    const config = read('dependency-cruiser.config.js');
    const list = config.slice(config.indexOf('export const LAYERS'), config.indexOf('];'));
    const layers = [...list.matchAll(/^\s*\['([a-z]+)', /gm)].map((m) => m[1]);
    assert.ok(layers.length >= 10, `found ${layers.length} layers in the config`);
    const doc = read('docs/architecture.md');
    const section = doc.slice(doc.indexOf('## Layers'), doc.indexOf('## Process model'));
    const rows = [...section.matchAll(/^\| ([a-z]+) +\| /gm)].map((m) => m[1]);
    assert.deepEqual(rows.slice(1), layers); // the first row is the header
  });
});
