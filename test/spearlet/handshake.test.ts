import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MESH_MAGIC, MessageKind, encodeJson, encodeRequest } from '../../src/wire/index.ts';
import { mintToken } from '../../src/auth/mint.ts';
import { buildJwks, generateSigningKeyPair } from '../../src/auth/keys.ts';
import { createStaticJwks } from '../../src/auth/jwks.ts';
import { RawClient } from './raw-client.ts';
import { AUDIENCE, ISSUER, SECRET, startSpearlet, tcp, token } from './fixture.ts';

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

async function helloExpectingError(port: number, tok: string): Promise<Record<string, unknown>> {
  const c = await RawClient.connect({ port });
  c.write(MESH_MAGIC);
  c.hello(tok);
  return c.expectErrorThenClose();
}

describe('spearlet handshake', () => {
  it('answers a valid HELLO with WELCOME', async (t) => {
    const s = await startSpearlet(t, { zone: 'z1', heartbeatMs: 500, heartbeatTimeoutMs: 2000 });
    const { client, welcome } = await RawClient.open(tcp(s), await token());
    t.after(() => {
      client.destroy();
    });
    assert.equal(welcome.v, 1);
    assert.equal(welcome.spearlet, 's1');
    assert.equal(welcome.heartbeatMs, 500);
    assert.equal(welcome.heartbeatTimeoutMs, 2000);
    assert.equal(welcome.maxFrame, 16 * 1024 * 1024);
    assert.equal(typeof welcome.session, 'string');
    assert.equal(typeof welcome.tokenExp, 'number');
    assert.equal(s.sessions().length, 1);
    assert.equal(s.sessions()[0]?.agent, 'agent-1');
  });

  it('every auth failure class gets its ERROR code, then a close', async (t) => {
    const s = await startSpearlet(t);
    const { port } = tcp(s);
    const now = Date.now();
    const valid = await token();
    const [h, p] = valid.split('.');
    const hmac = (input: string, alg: 'sha256' | 'sha512' = 'sha256'): string =>
      createHmac(alg, SECRET).update(input).digest('base64url');
    const noneToken = `${b64({ alg: 'none' })}.${b64({ sub: 'a', iss: ISSUER, aud: AUDIENCE, exp: now / 1000 + 60 })}.`;
    const cases: [string, string, string][] = [
      ['expired', await token({ now: () => now - 3_600_000 }), 'TOKEN_EXPIRED'],
      ['not yet valid', await token({ notBeforeSec: 3600 }), 'TOKEN_NOT_YET_VALID'],
      ['wrong audience', await token({ aud: 'elsewhere' }), 'AUDIENCE_MISMATCH'],
      ['wrong issuer', await token({ iss: 'mallory' }), 'ISSUER_MISMATCH'],
      ['tampered signature', `${h}.${p}.${hmac('something else')}`, 'TOKEN_INVALID'],
      ['alg none', noneToken, 'ALG_NOT_ALLOWED'],
      ['garbage', 'garbage', 'TOKEN_INVALID'],
      ['spearlet not allowed', await token({ spearlets: ['s2'] }), 'FORBIDDEN_SPEARLET'],
    ];
    for (const [name, tok, code] of cases) {
      const err = await helloExpectingError(port, tok);
      assert.equal(err.code, code, name);
      assert.equal(typeof err.message, 'string');
    }
    const metrics = await s.metricsText();
    assert.match(metrics, /spear_mesh_handshakes_total\{result="auth_failed",spearlet="s1"\} 7/);
    assert.equal(s.sessions().length, 0);
  });

  it('an RS256-only spearlet refuses HS256 tokens and unknown kids', async (t) => {
    const pair = await generateSigningKeyPair('RS256', 'k1');
    const stranger = await generateSigningKeyPair('RS256', 'k2');
    const s = await startSpearlet(t, {
      auth: {
        jwks: createStaticJwks(buildJwks([pair.publicJwk])),
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['RS256'],
      },
    });
    const { port } = tcp(s);
    const base = { sub: 'agent-1', iss: ISSUER, aud: AUDIENCE, expiresInSec: 600 };
    assert.equal(
      (await helloExpectingError(port, await mintToken({ secret: SECRET, kid: 'k1', ...base }))).code,
      'ALG_NOT_ALLOWED',
    );
    assert.equal(
      (await helloExpectingError(port, await mintToken({ privateKey: stranger.privateJwk, ...base }))).code,
      'UNKNOWN_KEY',
    );
    const { client } = await RawClient.open({ port }, await mintToken({ privateKey: pair.privateJwk, ...base }));
    client.destroy();
  });

  it('closes a client that connects and says nothing (handshake timeout)', async (t) => {
    const s = await startSpearlet(t, { handshakeTimeoutMs: 200 });
    const c = await RawClient.connect(tcp(s));
    const started = Date.now();
    await c.expectEnd();
    assert.ok(Date.now() - started < 5000);
    assert.match(await s.metricsText(), /spear_mesh_handshakes_total\{result="timeout",spearlet="s1"\} 1/);
  });

  it('sends HANDSHAKE_TIMEOUT to a client that sent the preface but no HELLO', async (t) => {
    const s = await startSpearlet(t, { handshakeTimeoutMs: 200 });
    const c = await RawClient.connect(tcp(s));
    c.write(MESH_MAGIC);
    assert.equal((await c.expectErrorThenClose()).code, 'HANDSHAKE_TIMEOUT');
  });

  it('closes a garbage preface without a reply and counts it', async (t) => {
    const s = await startSpearlet(t);
    const c = await RawClient.connect(tcp(s));
    c.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await c.expectEnd();
    const d = await RawClient.connect(tcp(s));
    d.write(Buffer.alloc(8, 0xff)); // too large for a legacy secret
    await d.expectEnd();
    assert.match(
      await s.metricsText(),
      /spear_mesh_connections_rejected_total\{reason="invalid_preface",spearlet="s1"\} 2/,
    );
  });

  it('closes a legacy preface when no process runtime claims it', async (t) => {
    const s = await startSpearlet(t);
    const c = await RawClient.connect(tcp(s));
    const pre = Buffer.alloc(8);
    pre.writeBigUInt64LE(1234567890123456789n);
    c.write(pre);
    await c.expectEnd();
    assert.match(await s.metricsText(), /reason="invalid_preface"/);
  });

  it('hands a legacy preface to the legacy hook with the bytes that followed', async (t) => {
    const s = await startSpearlet(t);
    const got = new Promise<{ secret: bigint; first: Buffer }>((resolve) => {
      s.setLegacyHandler((secret, socket, first) => {
        resolve({ secret, first: Buffer.from(first) });
        socket.destroy();
        return true;
      });
    });
    const c = await RawClient.connect(tcp(s));
    const pre = Buffer.alloc(12);
    pre.writeBigUInt64LE(42n);
    pre.write('abcd', 8);
    c.write(pre);
    const { secret, first } = await got;
    assert.equal(secret, 42n);
    assert.equal(first.toString(), 'abcd');
  });

  it('rejects an oversize frame from its header: FRAME_TOO_LARGE then close', async (t) => {
    const s = await startSpearlet(t, { maxFrameSize: 1024 });
    const c = await RawClient.connect(tcp(s));
    const header = Buffer.alloc(8);
    header.writeUInt32LE(1025, 0);
    c.write(Buffer.concat([MESH_MAGIC, header]));
    assert.equal((await c.expectErrorThenClose()).code, 'FRAME_TOO_LARGE');
  });

  it('rejects an oversize frame after the handshake too', async (t) => {
    const s = await startSpearlet(t, { maxFrameSize: 1024 });
    const { client } = await RawClient.open(tcp(s), await token());
    client.request(1n, 'echo', Buffer.alloc(2000));
    assert.equal((await client.expectErrorThenClose()).code, 'FRAME_TOO_LARGE');
  });

  it('HELLO problems: not JSON, missing token, wrong version, a REQUEST first', async (t) => {
    const s = await startSpearlet(t);
    const { port } = tcp(s);
    const send = async (frame: Buffer): Promise<unknown> => {
      const c = await RawClient.connect({ port });
      c.write(Buffer.concat([MESH_MAGIC, frame]));
      return (await c.expectErrorThenClose()).code;
    };
    const notJson = Buffer.concat([
      Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from('{nope'),
    ]);
    notJson.writeUInt32LE(notJson.length - 8, 0);
    assert.equal(await send(notJson), 'HELLO_INVALID');
    assert.equal(await send(encodeJson(MessageKind.HELLO, 0n, { v: 1 })), 'HELLO_INVALID');
    assert.equal(
      await send(encodeJson(MessageKind.HELLO, 0n, { v: 2, token: await token() })),
      'PROTOCOL_VERSION_UNSUPPORTED',
    );
    assert.equal(await send(encodeRequest(1n, 0, 0, 'echo', Buffer.alloc(0))), 'PROTOCOL_ERROR');
  });

  it('refuses sessions beyond the per-agent limit with CONNECTION_LIMIT', async (t) => {
    const s = await startSpearlet(t, { maxConnectionsPerAgent: 2 });
    const tok = await token();
    const a = await RawClient.open(tcp(s), tok);
    const b = await RawClient.open(tcp(s), tok);
    t.after(() => {
      a.client.destroy();
      b.client.destroy();
    });
    assert.equal((await helloExpectingError(tcp(s).port, tok)).code, 'CONNECTION_LIMIT');
    // Another agent is not affected.
    const other = await RawClient.open(tcp(s), await token({ sub: 'agent-2' }));
    other.client.destroy();
  });

  it('refuses connections beyond maxConnections with CONNECTION_LIMIT', async (t) => {
    const s = await startSpearlet(t, { maxConnections: 1 });
    const a = await RawClient.open(tcp(s), await token());
    t.after(() => {
      a.client.destroy();
    });
    assert.equal((await helloExpectingError(tcp(s).port, await token({ sub: 'agent-2' }))).code, 'CONNECTION_LIMIT');
  });

  it('serves the mesh protocol on a Unix socket', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'spearlet-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const s = await startSpearlet(t, { listen: null, socketPath: join(dir, 's.sock') });
    assert.equal(s.tcpAddress, undefined);
    const { client, welcome } = await RawClient.open({ path: join(dir, 's.sock') }, await token());
    assert.equal(welcome.spearlet, 's1');
    client.request(7n, 'echo', 'over unix');
    const msg = await client.nextMessage();
    assert.equal(msg.kind, MessageKind.RESPONSE);
    client.destroy();
  });
});
