import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES, FrameTooLargeError, MeshError, isErrorCode } from '../src/errors.ts';

describe('errors', () => {
  it('every code is unique and upper snake case', () => {
    assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length);
    for (const code of ERROR_CODES) assert.match(code, /^[A-Z][A-Z0-9_]+$/);
  });

  it('subclasses carry a stable code, a name and JSON form', () => {
    const err = new FrameTooLargeError(20, 10);
    assert.ok(err instanceof MeshError);
    assert.equal(err.code, 'FRAME_TOO_LARGE');
    assert.equal(err.name, 'FrameTooLargeError');
    assert.deepEqual(err.toJSON(), { code: 'FRAME_TOO_LARGE', message: err.message, retryable: false });
  });

  it('wraps a cause', () => {
    const cause = new Error('low level');
    const err = new MeshError('REGISTRY_UNAVAILABLE', 'down', { cause, retryable: true });
    assert.equal(err.cause, cause);
    assert.equal(err.retryable, true);
  });

  it('isErrorCode accepts only known codes', () => {
    assert.equal(isErrorCode('OVERLOADED'), true);
    assert.equal(isErrorCode('NOPE'), false);
    assert.equal(isErrorCode(42), false);
  });
});
