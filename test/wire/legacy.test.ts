import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { LegacyEnvelopeInvalidError } from '../../src/errors.ts';
import { FrameDecoder } from '../../src/wire/frame.ts';
import {
  LEGACY_METHOD_NOT_FOUND_CODE,
  LEGACY_METHOD_NOT_FOUND_MESSAGE,
  LegacyMethod,
  LegacySignal,
  decodeCustomRequest,
  decodeCustomResponse,
  decodeLegacyMessage,
  encodeCustomRequest,
  encodeCustomResponse,
  encodeLegacyInvoke,
  encodeLegacyMethodNotFound,
  encodeLegacyRequest,
  encodeLegacyResponse,
  encodeLegacySignal,
  type LegacyMessage,
} from '../../src/wire/legacy/envelope.ts';
import { repoPath } from '../../scripts/repo-root.ts';

const FIXTURES = repoPath('test/wire/fixtures/legacy');
const PYTHON = '/usr/bin/python3';
const PY_CODEC = repoPath('test/fixtures/legacy-agent/legacy_codec.py');

const fixture = (name: string, ext: 'bin' | 'frame'): Buffer => readFileSync(`${FIXTURES}/${name}.${ext}`);
const bodyOf = (frame: Buffer): Buffer => frame.subarray(8);

/** Splits a byte stream into frame bodies with the project's decoder. */
function framesOf(stream: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const decoder = new FrameDecoder({ onFrame: (b) => out.push(b), onClose: () => undefined });
  decoder.push(stream);
  return out;
}

/** Runs the independent Python codec over lines of input. */
function python(mode: 'decode' | 'encode', lines: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [PY_CODEC, mode], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out.trim().split('\n'));
      else reject(new Error(`python exited ${code}: ${err}`));
    });
    child.stdin.end(lines.join('\n') + '\n');
  });
}

function expectRequest(m: LegacyMessage): Extract<LegacyMessage, { type: 'request' }> {
  assert.equal(m.type, 'request');
  return m;
}
function expectResponse(m: LegacyMessage): Extract<LegacyMessage, { type: 'response' }> {
  assert.equal(m.type, 'response');
  return m;
}

describe('legacy envelope: fixtures built by Python flatbuffers', () => {
  it('request_custom_handle', () => {
    for (const body of [
      fixture('request_custom_handle', 'bin'),
      ...framesOf(fixture('request_custom_handle', 'frame')),
    ]) {
      const m = expectRequest(decodeLegacyMessage(body));
      assert.equal(m.id, 1n);
      assert.equal(m.method, LegacyMethod.Custom);
      assert.deepEqual(decodeCustomRequest(m.request), { methodStr: 'handle', paramsStr: '{"x":1}' });
    }
  });

  it('response_custom_ok', () => {
    for (const body of [fixture('response_custom_ok', 'bin'), ...framesOf(fixture('response_custom_ok', 'frame'))]) {
      const m = expectResponse(decodeLegacyMessage(body));
      assert.equal(m.id, 1n);
      assert.equal(m.code, 0);
      assert.equal(m.message, '');
      assert.equal(decodeCustomResponse(m.response).toString('utf8'), 'legacy:{"x":1}');
    }
  });

  it('request_unknown_method', () => {
    for (const body of [
      fixture('request_unknown_method', 'bin'),
      ...framesOf(fixture('request_unknown_method', 'frame')),
    ]) {
      const m = expectRequest(decodeLegacyMessage(body));
      assert.equal(m.id, 0n);
      assert.equal(m.method, 99);
      assert.equal(m.request.toString('utf8'), 'nothing');
    }
  });

  it('response_method_not_found', () => {
    for (const body of [
      fixture('response_method_not_found', 'bin'),
      ...framesOf(fixture('response_method_not_found', 'frame')),
    ]) {
      const m = expectResponse(decodeLegacyMessage(body));
      assert.equal(m.id, 0n);
      assert.equal(m.code, LEGACY_METHOD_NOT_FOUND_CODE);
      assert.equal(m.message, LEGACY_METHOD_NOT_FOUND_MESSAGE);
      assert.equal(m.response.length, 0);
    }
  });

  it('signal_terminate', () => {
    for (const body of [fixture('signal_terminate', 'bin'), ...framesOf(fixture('signal_terminate', 'frame'))]) {
      assert.deepEqual(decodeLegacyMessage(body), {
        type: 'signal',
        method: LegacySignal.Terminate,
        payload: Buffer.alloc(0),
      });
    }
  });

  it('each .frame is the .bin behind a u64 LE length', () => {
    const index = JSON.parse(readFileSync(`${FIXTURES}/index.json`, 'utf8')) as Record<string, unknown>;
    for (const name of Object.keys(index).filter((n) => !n.startsWith('preface'))) {
      const frames = framesOf(fixture(name, 'frame'));
      assert.equal(frames.length, 1, name);
      assert.deepEqual(frames[0], fixture(name, 'bin'), name);
    }
  });
});

describe('legacy envelope: encoders', () => {
  it('round-trips requests, responses and signals through the decoder', () => {
    const payload = Buffer.from([0, 1, 2, 250, 255]);
    const req = expectRequest(decodeLegacyMessage(bodyOf(encodeLegacyRequest(42n, 7, payload))));
    assert.deepEqual(
      { ...req, request: Buffer.from(req.request) },
      { type: 'request', id: 42n, method: 7, request: payload },
    );

    for (const id of [-(1n << 63n), -1n, 0n, (1n << 63n) - 1n]) {
      assert.equal(expectRequest(decodeLegacyMessage(bodyOf(encodeLegacyRequest(id, 0, new Uint8Array(0))))).id, id);
    }
    assert.equal(
      expectRequest(decodeLegacyMessage(bodyOf(encodeLegacyRequest(1n, 0xffff_ffff, payload)))).method,
      0xffff_ffff,
    );

    const res = expectResponse(decodeLegacyMessage(bodyOf(encodeLegacyResponse(-5n, -3, 'échec ✓', payload))));
    assert.deepEqual(
      { ...res, response: Buffer.from(res.response) },
      { type: 'response', id: -5n, code: -3, message: 'échec ✓', response: payload },
    );

    assert.deepEqual(decodeLegacyMessage(bodyOf(encodeLegacySignal(LegacySignal.StreamData, payload))), {
      type: 'signal',
      method: 2,
      payload,
    });
    assert.deepEqual(decodeLegacyMessage(bodyOf(encodeLegacySignal(LegacySignal.Terminate))), {
      type: 'signal',
      method: 1,
      payload: Buffer.alloc(0),
    });
  });

  it('method-not-found answer', () => {
    assert.deepEqual(decodeLegacyMessage(bodyOf(encodeLegacyMethodNotFound(4n))), {
      type: 'response',
      id: 4n,
      code: LEGACY_METHOD_NOT_FOUND_CODE,
      message: LEGACY_METHOD_NOT_FOUND_MESSAGE,
      response: Buffer.alloc(0),
    });
  });

  it('encoders return a complete frame', () => {
    const frame = encodeLegacySignal(LegacySignal.Terminate);
    assert.equal(frame.readBigUInt64LE(0), BigInt(frame.length - 8));
  });

  it('round-trips a large payload', () => {
    const big = Buffer.alloc(300_000, 0x5a);
    const m = expectRequest(decodeLegacyMessage(bodyOf(encodeLegacyRequest(9n, 11, big))));
    assert.ok(m.request.equals(big));
  });

  it('Custom request and response payloads', () => {
    assert.deepEqual(decodeCustomRequest(encodeCustomRequest('handle', '{"x":1}')), {
      methodStr: 'handle',
      paramsStr: '{"x":1}',
    });
    assert.deepEqual(decodeCustomRequest(encodeCustomRequest('', '')), { methodStr: '', paramsStr: '' });
    assert.equal(decodeCustomResponse(encodeCustomResponse(Buffer.from('data'))).toString(), 'data');
    assert.equal(decodeCustomResponse(encodeCustomResponse(new Uint8Array(0))).length, 0);
    const invoke = expectRequest(decodeLegacyMessage(bodyOf(encodeLegacyInvoke(3n, 'handle', 'p'))));
    assert.equal(invoke.method, LegacyMethod.Custom);
    assert.deepEqual(decodeCustomRequest(invoke.request), { methodStr: 'handle', paramsStr: 'p' });
  });

  it('rejects out-of-range ids, methods and codes with TypeError', () => {
    const empty = new Uint8Array(0);
    assert.throws(() => encodeLegacyRequest(1n << 63n, 0, empty), TypeError);
    assert.throws(() => encodeLegacyRequest(-(1n << 63n) - 1n, 0, empty), TypeError);
    assert.throws(() => encodeLegacyRequest(1n, -1, empty), TypeError);
    assert.throws(() => encodeLegacyRequest(1n, 2 ** 32, empty), TypeError);
    assert.throws(() => encodeLegacyResponse(1n, 2 ** 31, '', empty), TypeError);
    assert.throws(() => encodeLegacySignal(1.5), TypeError);
  });
});

describe('legacy envelope: cross-check with Debian python3-flatbuffers', () => {
  it('Python decodes what TypeScript encodes', async () => {
    const frames = [
      encodeLegacyInvoke(7n, 'handle', '{"y":2}'),
      encodeLegacyRequest(-1n, 99, Buffer.from('nothing')),
      encodeLegacyResponse(7n, 0, '', encodeCustomResponse(Buffer.from('legacy:ok'))),
      encodeLegacyResponse(0n, 2, 'method not found', new Uint8Array(0)),
      encodeLegacySignal(LegacySignal.Terminate),
    ];
    const lines = await python(
      'decode',
      frames.map((f) => bodyOf(f).toString('hex')),
    );
    const decoded = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(decoded[0], {
      type: 'request',
      id: 7,
      method: 11,
      request: Buffer.from(encodeCustomRequest('handle', '{"y":2}')).toString('hex'),
      method_str: 'handle',
      params_str: '{"y":2}',
    });
    assert.deepEqual(decoded[1], {
      type: 'request',
      id: -1,
      method: 99,
      request: Buffer.from('nothing').toString('hex'),
    });
    assert.equal(decoded[2]!.data, Buffer.from('legacy:ok').toString('hex'));
    assert.deepEqual(decoded[3], { type: 'response', id: 0, code: 2, message: 'method not found', response: '' });
    assert.deepEqual(decoded[4], { type: 'signal', method: 1, payload: '' });
  });

  it('TypeScript decodes what Python encodes', async () => {
    const specs = [
      { type: 'invoke', id: 11, method_str: 'handle', params_str: 'π' },
      { type: 'reply', id: 11, data: Buffer.from('legacy:π').toString('hex') },
      { type: 'request', id: 12, method: 99, request: '' },
      { type: 'response', id: 12, code: 2, message: 'method not found', response: '' },
      { type: 'signal', method: 2, payload: 'abcd' },
    ];
    const frames = (
      await python(
        'encode',
        specs.map((s) => JSON.stringify(s)),
      )
    ).map((hex) => Buffer.from(hex, 'hex'));
    const [invoke, reply, request, response, signal] = framesOf(Buffer.concat(frames)).map(decodeLegacyMessage);
    const inv = expectRequest(invoke!);
    assert.equal(inv.id, 11n);
    assert.deepEqual(decodeCustomRequest(inv.request), { methodStr: 'handle', paramsStr: 'π' });
    assert.equal(decodeCustomResponse(expectResponse(reply!).response).toString(), 'legacy:π');
    assert.equal(expectRequest(request!).method, 99);
    assert.equal(expectResponse(response!).message, 'method not found');
    assert.deepEqual(signal, { type: 'signal', method: 2, payload: Buffer.from('abcd', 'hex') });
  });
});

describe('legacy envelope: garbage', () => {
  const isTyped = (err: unknown): boolean =>
    err instanceof LegacyEnvelopeInvalidError && err.code === 'LEGACY_ENVELOPE_INVALID';

  it('rejects short, empty and unknown-tag bodies', () => {
    assert.throws(() => decodeLegacyMessage(Buffer.alloc(0)), isTyped);
    assert.throws(() => decodeLegacyMessage(Buffer.from([1, 2, 3])), isTyped);
    assert.throws(() => decodeLegacyMessage(Buffer.from([0xff, 0xff, 0xff, 0x7f])), isTyped);
    const tagged = Buffer.from(fixture('signal_terminate', 'bin'));
    tagged[0x13] = 4; // union tag: not a known member
    assert.throws(() => decodeLegacyMessage(tagged), /union tag 4/);
    tagged[0x13] = 0;
    assert.throws(() => decodeLegacyMessage(tagged), isTyped);
    assert.throws(() => decodeCustomRequest(Buffer.from('garbage!')), isTyped);
    assert.throws(() => decodeCustomResponse(new Uint8Array(2)), isTyped);
  });

  it('rejects invalid UTF-8 in a string field', () => {
    const body = Buffer.from(fixture('response_method_not_found', 'bin'));
    const at = body.indexOf('method not found');
    body[at] = 0xff;
    assert.throws(() => decodeLegacyMessage(body), /not valid UTF-8/);
  });

  it('random bytes only ever raise LegacyEnvelopeInvalidError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeLegacyMessage(Buffer.from(bytes));
        } catch (err) {
          assert.ok(isTyped(err), String(err));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated and truncated fixtures decode or fail typed, and never read outside the body', () => {
    const names = [
      'request_custom_handle',
      'response_custom_ok',
      'request_unknown_method',
      'response_method_not_found',
      'signal_terminate',
    ];
    const bins = names.map((n) => fixture(n, 'bin'));
    fc.assert(
      fc.property(
        fc.constantFrom(...bins),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        (original, flips, cut) => {
          // Embed the body in a larger buffer, as a frame inside a socket chunk would be.
          const backing = Buffer.alloc(original.length + 64, 0xee);
          original.copy(backing, 32);
          const body = backing.subarray(32, 32 + original.length);
          for (const [at, value] of flips) body[at % body.length] = value;
          const truncated = body.subarray(0, cut % (body.length + 1));
          for (const candidate of [body, truncated]) {
            let m: LegacyMessage;
            try {
              m = decodeLegacyMessage(candidate);
            } catch (err) {
              assert.ok(isTyped(err), String(err));
              continue;
            }
            const view = m.type === 'request' ? m.request : m.type === 'response' ? m.response : m.payload;
            if (view.length > 0) {
              assert.ok(view.byteOffset >= candidate.byteOffset);
              assert.ok(view.byteOffset + view.length <= candidate.byteOffset + candidate.length);
            }
            if (m.type === 'request' && m.method === LegacyMethod.Custom) {
              try {
                decodeCustomRequest(m.request);
              } catch (err) {
                assert.ok(isTyped(err), String(err));
              }
            }
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
