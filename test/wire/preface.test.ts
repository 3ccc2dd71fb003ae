import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  MESH_MAGIC,
  MESH_MAGIC_U64,
  PREFACE_BYTES,
  classifyPreface,
  encodeLegacyPreface,
  isValidLegacySecret,
} from '../../src/wire/preface.ts';
import { repoPath } from '../../scripts/repo-root.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const FIXTURE = repoPath('test/wire/fixtures/legacy/preface_secret_1234567890123456789.bin');

describe('preface', () => {
  it('the mesh magic is ASCII SPEARMS1 and its u64 LE value is the documented one', () => {
    assert.equal(PREFACE_BYTES, 8);
    assert.deepEqual(MESH_MAGIC, hex('53 50 45 41 52 4D 53 31'));
    assert.equal(MESH_MAGIC_U64, 3554269546603171923n);
    assert.deepEqual(classifyPreface(MESH_MAGIC), { type: 'mesh' });
  });

  it('golden: SECRET 1234567890123456789 is sent as 15 81 e9 7d f4 10 22 11', () => {
    const expected = hex('15 81 e9 7d f4 10 22 11');
    assert.deepEqual(encodeLegacyPreface(1234567890123456789n), expected);
    assert.deepEqual(classifyPreface(expected), { type: 'legacy', secret: 1234567890123456789n });
    assert.deepEqual(readFileSync(FIXTURE), expected);
  });

  it('accepts a Uint8Array view at an offset', () => {
    const backing = new Uint8Array(12);
    backing.set(MESH_MAGIC, 3);
    assert.deepEqual(classifyPreface(backing.subarray(3, 11)), { type: 'mesh' });
  });

  it('boundary secrets', () => {
    assert.deepEqual(classifyPreface(Buffer.alloc(8)), { type: 'legacy', secret: 0n });
    const max = (1n << 63n) - 1n;
    assert.deepEqual(classifyPreface(encodeLegacyPreface(max)), { type: 'legacy', secret: max });
    const top = classifyPreface(hex('00 00 00 00 00 00 00 80'));
    assert.equal(top.type, 'invalid');
    assert.equal(classifyPreface(hex('ff ff ff ff ff ff ff ff')).type, 'invalid');
  });

  it('a near miss of the magic is a legacy secret, not the mesh', () => {
    const bytes = Buffer.from('SPEARMS2', 'latin1');
    assert.equal(classifyPreface(bytes).type, 'legacy');
  });

  it('classifyPreface needs exactly 8 bytes', () => {
    assert.throws(() => classifyPreface(Buffer.alloc(7)), TypeError);
    assert.throws(() => classifyPreface(Buffer.alloc(9)), TypeError);
  });

  it('encodeLegacyPreface refuses secrets a spearlet never issues', () => {
    for (const bad of [-1n, 1n << 63n, 1n << 64n, MESH_MAGIC_U64]) {
      assert.throws(() => encodeLegacyPreface(bad), TypeError);
      assert.equal(isValidLegacySecret(bad), false);
    }
    assert.throws(() => encodeLegacyPreface(5 as unknown as bigint), TypeError);
    assert.equal(isValidLegacySecret(42n), true);
  });
});
