import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { methodAllowed, parseScopeClaim, targetRefusal } from '../../src/auth/scope.ts';

describe('methodAllowed', () => {
  it('absent scope allows everything', () => {
    assert.equal(methodAllowed(undefined, 'anything'), true);
  });
  it('* allows everything, exact names and prefixes match', () => {
    assert.equal(methodAllowed(['*'], 'x.y'), true);
    assert.equal(methodAllowed(['echo'], 'echo'), true);
    assert.equal(methodAllowed(['echo'], 'echo2'), false);
    assert.equal(methodAllowed(['task.*'], 'task.start'), true);
    assert.equal(methodAllowed(['task.*'], 'task'), false);
    assert.equal(methodAllowed(['task.*'], 'taskx.start'), false);
    assert.equal(methodAllowed([], 'echo'), false);
  });
  it('parses space-separated and array scopes', () => {
    assert.deepEqual(parseScopeClaim('echo  sleep'), ['echo', 'sleep']);
    assert.deepEqual(parseScopeClaim(['a']), ['a']);
    assert.equal(parseScopeClaim(undefined), undefined);
    assert.equal(parseScopeClaim(3), null);
  });
});

describe('targetRefusal', () => {
  it('checks spearlet ids and zones', () => {
    assert.equal(targetRefusal({}, 's1', undefined), undefined);
    assert.equal(targetRefusal({ spearlets: ['s1'] }, 's1', undefined), undefined);
    assert.match(targetRefusal({ spearlets: ['s2'] }, 's1', undefined) ?? '', /spearlet s1/);
    assert.equal(targetRefusal({ zones: ['a'] }, 's1', 'a'), undefined);
    assert.match(targetRefusal({ zones: ['a'] }, 's1', 'b') ?? '', /zone b/);
    assert.match(targetRefusal({ zones: ['a'] }, 's1', undefined) ?? '', /zone/);
  });
});
