// The one line a command prints for a failure: every error a handshake refusal, the registry wait or the frame check
// can end a `call` with has a hint, and the line names cause, code and hint in that order.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeError, formatError } from '../../src/cli/error-output.ts';
import { HandshakeRefusedError, NON_RETRYABLE_REFUSALS, RequestTooLargeError } from '../../src/conn/errors.ts';
import { isErrorCode, RegistryUnavailableError } from '../../src/errors.ts';

it('gives every non-retryable refusal, REGISTRY_UNAVAILABLE and REQUEST_TOO_LARGE a hint', () => {
  const errors = [
    ...[...NON_RETRYABLE_REFUSALS].map((code) => {
      assert.ok(isErrorCode(code), code);
      return new HandshakeRefusedError('s1', code, 'refused');
    }),
    new RegistryUnavailableError('no answer from the registry within 5000 ms'),
    new RequestTooLargeError('s1', "request 'echo'", 5000, 4096),
  ];
  for (const err of errors) assert.equal(typeof describeError(err).hint, 'string', err.code);
  const line = formatError(new HandshakeRefusedError('s1', 'TOKEN_EXPIRED', 'token has expired'), {
    command: 'call',
    json: false,
    verbose: false,
  });
  assert.equal(
    line,
    'spear-mesh call: spearlet s1 refused the handshake: token has expired [TOKEN_EXPIRED] (hint: mint a fresh token)\n',
  );
});
