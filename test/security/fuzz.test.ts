// fast-check fuzzing of what unauthenticated callers control: HELLO bodies on the mesh listener and request bodies
// (with any content type) on the admin API. The spearlet answers each with a typed refusal and keeps serving.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildAdminApp, type AdminTarget } from '../../src/admin/app.ts';
import { ERROR_CODES } from '../../src/errors.ts';
import { MESH_MAGIC, MessageKind, encodeFrame, parseJsonPayload } from '../../src/wire/index.ts';
import { RawClient } from '../spearlet/raw-client.ts';
import { startSpearlet, tcp, token } from '../spearlet/fixture.ts';

const ADMIN_TOKEN = 'fuzz-admin-token-0123456789';

describe('fuzzing what unauthenticated peers send', () => {
  it('HELLO bodies: every one gets a typed ERROR (or WELCOME for a valid token); the spearlet keeps serving', async (t) => {
    const s = await startSpearlet(t, { handshakeTimeoutMs: 5000, maxHelloSize: 4096 });
    const valid = await token();
    const hello = fc.oneof(
      fc
        .uint8Array({ maxLength: 600 })
        .map((b) => Buffer.concat([Buffer.from([MessageKind.HELLO, 0]), Buffer.alloc(8), b])),
      fc
        .record(
          { v: fc.oneof(fc.constant(1), fc.integer(), fc.string()), token: fc.oneof(fc.string(), fc.constant(valid)) },
          { requiredKeys: [] },
        )
        .map((o) =>
          Buffer.concat([Buffer.from([MessageKind.HELLO, 0]), Buffer.alloc(8), Buffer.from(JSON.stringify(o))]),
        ),
      fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b)),
    );
    await fc.assert(
      fc.asyncProperty(hello, async (body) => {
        const c = await RawClient.connect(tcp(s));
        try {
          c.write(MESH_MAGIC);
          c.write(encodeFrame(body));
          const e = await c.next(10_000);
          if (e.type !== 'message') return; // closed without a word: allowed only for garbage frames
          if (e.msg.kind === MessageKind.WELCOME) return;
          assert.equal(e.msg.kind, MessageKind.ERROR);
          const code = parseJsonPayload((e.msg as { payload: Buffer }).payload, 'ERROR').code;
          assert.ok((ERROR_CODES as readonly unknown[]).includes(code), String(code));
        } finally {
          c.destroy();
        }
      }),
      { numRuns: 150 },
    );
    // Still serving a real agent afterwards.
    const { client } = await RawClient.open(tcp(s), valid);
    client.destroy();
  });

  it('admin request bodies and content types: 202, 400, 401 or 415, never 500; only JSON with the token drains', async () => {
    let drains = 0;
    const target: AdminTarget = {
      id: 'fuzz',
      readiness: () => ({ ready: true, reasons: [] }),
      info: () => ({}),
      sessions: () => [],
      metricsText: () => Promise.resolve(''),
      metricsContentType: 'text/plain',
      drain: () => {
        drains++;
        return Promise.resolve();
      },
    };
    const app = buildAdminApp(target, { security: { token: ADMIN_TOKEN } });
    await app.ready();
    try {
      const arb = fc.record({
        type: fc.constantFrom(
          'application/json',
          'application/json; charset=utf-8',
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/jsonx',
          '',
        ),
        body: fc.oneof(fc.string({ maxLength: 200 }), fc.json({ maxDepth: 4 }), fc.constant('{"timeoutMs":5}')),
        auth: fc.constantFrom(`Bearer ${ADMIN_TOKEN}`, `Bearer ${ADMIN_TOKEN}x`, '', `Basic ${ADMIN_TOKEN}`),
      });
      await fc.assert(
        fc.asyncProperty(arb, async ({ type, body, auth }) => {
          const before = drains;
          const res = await app.inject({
            method: 'POST',
            url: '/v1/drain',
            headers: {
              ...(type !== '' ? { 'content-type': type } : {}),
              ...(auth !== '' ? { authorization: auth } : {}),
            },
            payload: body,
          });
          assert.ok([202, 400, 401, 415].includes(res.statusCode), `${res.statusCode} ${res.body}`);
          if (res.statusCode === 202) {
            assert.equal(auth, `Bearer ${ADMIN_TOKEN}`);
            assert.match(type, /^application\/json/);
          } else {
            assert.equal(drains, before, 'a refused request did nothing');
          }
        }),
        { numRuns: 300 },
      );
    } finally {
      await app.close();
    }
  });
});
