import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  InvalidPayloadError,
  InvalidUtf8Error,
  MessageTruncatedError,
  MethodLengthInvalidError,
  UnknownMessageKindError,
} from '../../src/errors.ts';
import {
  MAX_NAME_BYTES,
  MessageKind,
  RequestFlag,
  Status,
  decodeMessage,
  encodeControl,
  encodeErrorResponse,
  encodeJson,
  encodeRequest,
  encodeResponse,
  encodeSignal,
  messageKindName,
  parseJsonPayload,
  statusForCode,
  type JsonKind,
} from '../../src/wire/message.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** The message body of an encoded frame. */
const bodyOf = (frame: Buffer): Buffer => frame.subarray(8);

describe('golden vectors (hand-written)', () => {
  it('REQUEST id 1, idempotent, deadline 1000 ms, method "echo", body "hi"', () => {
    const expected = hex(`
      16 00 00 00 00 00 00 00
      03 01 01 00 00 00 00 00 00 00
      e8 03 00 00  04 00  65 63 68 6f  68 69`);
    const frame = encodeRequest(1n, RequestFlag.IDEMPOTENT, 1000, 'echo', Buffer.from('hi'));
    assert.deepEqual(frame, expected);
    assert.deepEqual(decodeMessage(bodyOf(expected)), {
      kind: 3,
      flags: 1,
      id: 1n,
      deadlineMs: 1000,
      method: 'echo',
      body: Buffer.from('hi'),
    });
  });

  it('REQUEST with a 2-byte UTF-8 method, no body, no deadline, no-reply, top id', () => {
    const expected = hex(`
      12 00 00 00 00 00 00 00
      03 02 ff ff ff ff ff ff ff ff
      00 00 00 00  02 00  c3 a9`);
    assert.deepEqual(encodeRequest(2n ** 64n - 1n, RequestFlag.NO_REPLY, 0, 'é', new Uint8Array(0)), expected);
    const m = decodeMessage(bodyOf(expected));
    assert.equal(m.id, 18446744073709551615n);
    assert.ok(m.kind === 3 && m.method === 'é' && m.body.length === 0 && m.deadlineMs === 0);
  });

  it('RESPONSE id 0x0102030405060708 status 0 body "ok"', () => {
    const expected = hex(`
      0e 00 00 00 00 00 00 00
      04 00 08 07 06 05 04 03 02 01
      00 00  6f 6b`);
    assert.deepEqual(encodeResponse(0x0102030405060708n, 0, Buffer.from('ok')), expected);
    assert.deepEqual(decodeMessage(bodyOf(expected)), {
      kind: 4,
      flags: 0,
      id: 0x0102030405060708n,
      status: 0,
      body: Buffer.from('ok'),
    });
  });

  it('error RESPONSE 404 carries the JSON error body', () => {
    const json = '{"code":"METHOD_NOT_FOUND","message":"no","retryable":false}';
    const expected = Buffer.concat([
      hex('48 00 00 00 00 00 00 00  04 00 09 00 00 00 00 00 00 00  94 01'),
      Buffer.from(json),
    ]);
    assert.equal(10 + 2 + json.length, 0x48);
    assert.deepEqual(encodeErrorResponse(9n, Status.NOT_FOUND, 'METHOD_NOT_FOUND', 'no', false), expected);
    const m = decodeMessage(bodyOf(expected));
    assert.ok(m.kind === 4);
    assert.equal(m.status, 404);
    assert.deepEqual(parseJsonPayload(m.body, 'error'), { code: 'METHOD_NOT_FOUND', message: 'no', retryable: false });
  });

  it('SIGNAL "tick" with body 01 02', () => {
    const expected = hex(`
      12 00 00 00 00 00 00 00
      05 00 00 00 00 00 00 00 00 00
      04 00  74 69 63 6b  01 02`);
    assert.deepEqual(encodeSignal('tick', new Uint8Array([1, 2])), expected);
    assert.deepEqual(decodeMessage(bodyOf(expected)), {
      kind: 5,
      flags: 0,
      id: 0n,
      name: 'tick',
      body: Buffer.from([1, 2]),
    });
  });

  it('PING 7, PONG 2^64-1, CANCEL 42', () => {
    const ping = hex('0a 00 00 00 00 00 00 00  06 00 07 00 00 00 00 00 00 00');
    const pong = hex('0a 00 00 00 00 00 00 00  07 00 ff ff ff ff ff ff ff ff');
    const cancel = hex('0a 00 00 00 00 00 00 00  0b 00 2a 00 00 00 00 00 00 00');
    assert.deepEqual(encodeControl(MessageKind.PING, 7n), ping);
    assert.deepEqual(encodeControl(MessageKind.PONG, 2n ** 64n - 1n), pong);
    assert.deepEqual(encodeControl(MessageKind.CANCEL, 42n), cancel);
    assert.deepEqual(decodeMessage(bodyOf(ping)), { kind: 6, flags: 0, id: 7n });
    assert.deepEqual(decodeMessage(bodyOf(pong)), { kind: 7, flags: 0, id: 18446744073709551615n });
    assert.deepEqual(decodeMessage(bodyOf(cancel)), { kind: 11, flags: 0, id: 42n });
  });

  it('HELLO {"v":1}', () => {
    const expected = hex(`
      11 00 00 00 00 00 00 00
      01 00 00 00 00 00 00 00 00 00
      7b 22 76 22 3a 31 7d`);
    assert.deepEqual(encodeJson(MessageKind.HELLO, 0n, { v: 1 }), expected);
    const m = decodeMessage(bodyOf(expected));
    assert.ok(m.kind === 1);
    assert.deepEqual(parseJsonPayload(m.payload, 'HELLO'), { v: 1 });
  });

  it('WELCOME, GOAWAY, ERROR, REAUTH carry their kind byte and id', () => {
    const cases: [JsonKind, bigint, string][] = [
      [MessageKind.WELCOME, 0n, '02 00 00 00 00 00 00 00 00 00'],
      [MessageKind.GOAWAY, 5n, '08 00 05 00 00 00 00 00 00 00'],
      [MessageKind.ERROR, 0n, '09 00 00 00 00 00 00 00 00 00'],
      [MessageKind.REAUTH, 3n, '0a 00 03 00 00 00 00 00 00 00'],
    ];
    for (const [kind, id, header] of cases) {
      const json = '{"a":"\u00e9"}';
      const payload = Buffer.from(json, 'utf8');
      const expected = Buffer.concat([hex('00 00 00 00 00 00 00 00'), hex(header), payload]);
      expected.writeUInt32LE(10 + payload.length, 0);
      assert.deepEqual(encodeJson(kind, id, { a: 'é' }), expected, messageKindName(kind));
      assert.deepEqual(decodeMessage(bodyOf(expected)), { kind, flags: 0, id, payload });
    }
  });
});

describe('decodeMessage errors', () => {
  it('MESSAGE_TRUNCATED for short headers and short per-kind prefixes', () => {
    for (const body of [
      Buffer.alloc(0),
      hex('03 00 01 00 00 00 00 00 00'),
      hex('03 00 01 00 00 00 00 00 00 00 00 00 00 00 00'),
      hex('04 00 01 00 00 00 00 00 00 00 00'),
      hex('05 00 00 00 00 00 00 00 00 00 01'),
    ]) {
      assert.throws(
        () => decodeMessage(body),
        (err: unknown) => err instanceof MessageTruncatedError && err.code === 'MESSAGE_TRUNCATED',
      );
    }
  });

  it('UNKNOWN_MESSAGE_KIND for 0, 12 and 255', () => {
    for (const kind of [0, 12, 255]) {
      const body = Buffer.alloc(10);
      body[0] = kind;
      assert.throws(
        () => decodeMessage(body),
        (err: unknown) =>
          err instanceof UnknownMessageKindError && err.kind === kind && err.code === 'UNKNOWN_MESSAGE_KIND',
      );
    }
  });

  it('METHOD_LENGTH_INVALID when a method or signal name runs past the body', () => {
    const request = hex('03 00 01 00 00 00 00 00 00 00  00 00 00 00  05 00  61 62 63 64');
    const signal = hex('05 00 00 00 00 00 00 00 00 00  ff ff  61');
    for (const body of [request, signal]) {
      assert.throws(
        () => decodeMessage(body),
        (err: unknown) => err instanceof MethodLengthInvalidError && err.code === 'METHOD_LENGTH_INVALID',
      );
    }
  });

  it('INVALID_UTF8 for a method or name that is not UTF-8 (short and long)', () => {
    const bad = [
      hex('ff'),
      hex('c3'),
      hex('ed a0 80'), // an encoded surrogate
      hex('c0 af'), // overlong
      Buffer.concat([Buffer.alloc(100, 0x61), hex('80')]), // past the ASCII fast path
    ];
    for (const name of bad) {
      const len = Buffer.alloc(2);
      len.writeUInt16LE(name.length);
      const request = Buffer.concat([hex('03 00 01 00 00 00 00 00 00 00  00 00 00 00'), len, name]);
      const signal = Buffer.concat([hex('05 00 00 00 00 00 00 00 00 00'), len, name]);
      for (const body of [request, signal]) {
        assert.throws(
          () => decodeMessage(body),
          (err: unknown) => err instanceof InvalidUtf8Error && err.code === 'INVALID_UTF8',
        );
      }
    }
  });

  it('ignores undefined flag bits and trailing bytes of empty-payload kinds', () => {
    const m = decodeMessage(hex('06 ff 01 00 00 00 00 00 00 00 aa bb'));
    assert.deepEqual(m, { kind: 6, flags: 0xff, id: 1n });
  });

  it('payload fields are views into the body, not copies', () => {
    const body = bodyOf(encodeRequest(3n, 0, 0, 'm', Buffer.from('xyz')));
    const m = decodeMessage(body);
    assert.ok(m.kind === 3);
    assert.equal(m.body.buffer, body.buffer);
  });
});

describe('parseJsonPayload', () => {
  it('accepts objects and rejects everything else with INVALID_PAYLOAD', () => {
    assert.deepEqual(parseJsonPayload(Buffer.from('{"a":[1]}'), 'x'), { a: [1] });
    for (const text of ['', '[]', '1', 'null', '"s"', '{', '{"a":1}x']) {
      assert.throws(
        () => parseJsonPayload(Buffer.from(text), 'HELLO'),
        (err: unknown) =>
          err instanceof InvalidPayloadError && err.code === 'INVALID_PAYLOAD' && err.message.includes('HELLO'),
      );
    }
    assert.throws(() => parseJsonPayload(hex('7b ff 7d'), 'x'), InvalidPayloadError);
  });
});

describe('encoder validation', () => {
  it('rejects bad ids, flags, deadlines and names with TypeError', () => {
    const empty = new Uint8Array(0);
    assert.throws(() => encodeRequest(0n, 0, 0, 'm', empty), TypeError);
    assert.throws(() => encodeRequest(-1n, 0, 0, 'm', empty), TypeError);
    assert.throws(() => encodeRequest(2n ** 64n, 0, 0, 'm', empty), TypeError);
    assert.throws(() => encodeRequest(1 as unknown as bigint, 0, 0, 'm', empty), TypeError);
    assert.throws(() => encodeRequest(1n, 256, 0, 'm', empty), TypeError);
    assert.throws(() => encodeRequest(1n, 0, -1, 'm', empty), TypeError);
    assert.throws(() => encodeRequest(1n, 0, 2 ** 32, 'm', empty), TypeError);
    assert.throws(() => encodeRequest(1n, 0, 1.5, 'm', empty), TypeError);
    assert.throws(() => encodeRequest(1n, 0, 0, 'x'.repeat(MAX_NAME_BYTES + 1), empty), TypeError);
    assert.throws(() => encodeRequest(1n, 0, 0, 'é'.repeat(40000), empty), TypeError);
    assert.throws(() => encodeRequest(1n, 0, 0, 'a\ud800', empty), TypeError);
    assert.throws(() => encodeSignal('x'.repeat(MAX_NAME_BYTES + 1), empty), TypeError);
    assert.throws(() => encodeResponse(1n, 65536, empty), TypeError);
    assert.throws(() => encodeResponse(-1n, 0, empty), TypeError);
    assert.throws(() => encodeErrorResponse(1n, 0, 'X', 'y', false), TypeError);
    assert.throws(() => encodeControl(3 as 6, 1n), TypeError);
    assert.throws(() => encodeJson(3 as 1, 0n, {}), TypeError);
    assert.throws(() => encodeJson(1, 0n, [1]), TypeError);
    assert.throws(() => encodeJson(1, 0n, undefined), TypeError);
    assert.throws(() => encodeJson(1, 0n, 'str'), TypeError);
  });

  it('accepts a name of exactly 65535 bytes and round-trips it', () => {
    const name = 'n'.repeat(MAX_NAME_BYTES);
    const m = decodeMessage(bodyOf(encodeRequest(1n, 0, 0, name, Buffer.from('b'))));
    assert.ok(m.kind === 3 && m.method === name && m.body.toString() === 'b');
  });

  it('the name cache returns the same bytes on repeated use', () => {
    for (let i = 0; i < 2000; i++) {
      const method = `m${i % 700}`;
      const m = decodeMessage(bodyOf(encodeRequest(BigInt(i + 1), 0, 0, method, new Uint8Array(0))));
      assert.ok(m.kind === 3 && m.method === method);
    }
  });
});

describe('decoded name cache', () => {
  it('names sharing a cache slot still decode to their own text', () => {
    // Same length, first, middle and last byte: the same slot, different names.
    for (let i = 0; i < 5; i++) {
      for (const method of ['axcxe', 'aycye', 'azcze']) {
        const m = decodeMessage(bodyOf(encodeRequest(1n, 0, 0, method, new Uint8Array(0))));
        assert.ok(m.kind === 3);
        assert.equal(m.method, method);
      }
    }
  });

  it('a frame mutated after decoding does not poison later decodes', () => {
    const body = bodyOf(encodeRequest(1n, 0, 0, 'cache.me', new Uint8Array(0)));
    decodeMessage(body);
    body.write('cache.ME', 16, 'latin1');
    const m = decodeMessage(body);
    assert.ok(m.kind === 3);
    assert.equal(m.method, 'cache.ME');
  });

  it('a cached name does not mask invalid UTF-8 in a same-slot name', () => {
    const good = bodyOf(encodeRequest(1n, 0, 0, 'aa', new Uint8Array(0)));
    decodeMessage(good);
    const bad = Buffer.from(good);
    bad[16] = 0xff;
    bad[17] = 0xff;
    assert.throws(() => decodeMessage(bad), InvalidUtf8Error);
  });
});

describe('statusForCode', () => {
  it('follows the table of protocol.md §3.3', () => {
    const table: [string, number][] = [
      ['INVALID_PAYLOAD', 400],
      ['PROTOCOL_ERROR', 400],
      ['TOKEN_EXPIRED', 401],
      ['TOKEN_NOT_YET_VALID', 401],
      ['TOKEN_INVALID', 401],
      ['AUDIENCE_MISMATCH', 401],
      ['ISSUER_MISMATCH', 401],
      ['ALG_NOT_ALLOWED', 401],
      ['UNKNOWN_KEY', 401],
      ['AUTH_FAILED', 401],
      ['FORBIDDEN_METHOD', 403],
      ['FORBIDDEN_SPEARLET', 403],
      ['METHOD_NOT_FOUND', 404],
      ['TASK_NOT_FOUND', 404],
      ['DEADLINE_EXCEEDED', 408],
      ['OVERLOADED', 429],
      ['CANCELLED', 499],
      ['HANDLER_ERROR', 500],
      ['SOMETHING_ELSE', 500],
      ['DRAINING', 503],
    ];
    for (const [code, status] of table) assert.equal(statusForCode(code), status, code);
  });
});
