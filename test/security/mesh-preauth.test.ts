// The mesh listener of a real spearlet process against unauthenticated peers: an oversized HELLO, silent sockets
// holding every slot, one address hoarding handshakes, and a byte trickle posing as liveness.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { mintToken } from '../../src/auth/mint.ts';
import { MESH_MAGIC, MessageKind, parseJsonPayload, writeFrameHeader } from '../../src/wire/index.ts';
import { spawnSpearlet, TEST_AUDIENCE, TEST_ISSUER, type SpearletChild } from '../helpers/spearlet.ts';
import { RawClient } from '../spearlet/raw-client.ts';
import { makeSecrets, type Secrets } from './harness.ts';

function header(length: number): Buffer {
  const b = Buffer.alloc(8);
  writeFrameHeader(b, 0, length);
  return b;
}

/** The code of the ERROR the spearlet sends before closing, or 'closed' when it closes without one. */
async function closingCode(c: RawClient, timeoutMs = 20_000): Promise<string> {
  for (;;) {
    const e = await c.next(timeoutMs);
    if (e.type === 'end') return 'closed';
    if (e.type === 'message' && e.msg.kind === MessageKind.ERROR)
      return String(parseJsonPayload(e.msg.payload, 'ERROR').code);
  }
}

describe('mesh listener: limits before authentication', () => {
  let secrets: Secrets;
  let s: SpearletChild;
  let token: string;
  const open: RawClient[] = [];
  before(async () => {
    secrets = await makeSecrets();
    const secret = new Uint8Array(await readFile(secrets.secretFile));
    token = await mintToken({ secret, sub: 'good-agent', iss: TEST_ISSUER, aud: TEST_AUDIENCE, expiresInSec: 600 });
    s = await spawnSpearlet({
      id: 'sec-mesh',
      secretFile: secrets.secretFile,
      args: [
        '--no-consul',
        '--max-connections',
        '4',
        '--max-pending-handshakes-per-source',
        '12',
        '--heartbeat-ms',
        '200',
        '--heartbeat-timeout-ms',
        '1000',
        '--handshake-timeout-ms',
        '30000',
      ],
    });
  });
  after(async () => {
    for (const c of open) c.destroy();
    await s.stop();
    await secrets.cleanup();
  });

  it('a HELLO announcing more than --max-hello-size gets FRAME_TOO_LARGE from its header alone', async () => {
    const c = await RawClient.connect(s.tcp);
    open.push(c);
    c.write(MESH_MAGIC);
    // 16 MiB announced, 100 bytes sent: the answer must not wait for the body.
    c.write(Buffer.concat([header(16 * 1024 * 1024), Buffer.alloc(100)]));
    assert.equal(await closingCode(c), 'FRAME_TOO_LARGE');
    await c.closed;
  });

  it('silent sockets beyond --max-connections do not lock out a valid agent', async () => {
    for (let i = 0; i < 10; i++) {
      const c = await RawClient.connect(s.tcp);
      open.push(c);
      c.write(MESH_MAGIC); // and then nothing
    }
    const { client, welcome } = await RawClient.open(s.tcp, token);
    open.push(client);
    assert.equal(welcome.spearlet, 'sec-mesh');
  });

  it('one source address cannot hold more than --max-pending-handshakes-per-source handshakes', async () => {
    // 10 silent ones are still pending from the test above; 2 more fill the per-source cap of 12.
    for (let i = 0; i < 2; i++) open.push(await RawClient.connect(s.tcp));
    const extra = await RawClient.connect(s.tcp);
    open.push(extra);
    extra.write(MESH_MAGIC);
    assert.equal(await closingCode(extra), 'closed');
    // Once they go, the address may handshake again.
    for (const c of open.splice(0)) c.destroy();
    // Wait (bounded) until the spearlet has seen those sockets close: only the earlier session remains.
    const until = Date.now() + 20_000;
    for (;;) {
      const info = (await (await fetch(`${s.adminUrl}/v1/info`)).json()) as { connections: number };
      if (info.connections <= 1) break;
      assert.ok(Date.now() < until, `connections still ${info.connections}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const again = await RawClient.open(s.tcp, token);
    open.push(again.client);
  });

  it('a peer trickling the bytes of one endless frame is closed by the heartbeat timeout', async () => {
    const { client } = await RawClient.open(s.tcp, token);
    open.push(client);
    client.write(header(1024 * 1024));
    const started = Date.now();
    const trickle = setInterval(() => {
      client.write(Buffer.from([0x61]));
    }, 100);
    try {
      const code = await closingCode(client, 20_000);
      assert.equal(code, 'HEARTBEAT_TIMEOUT');
      assert.ok(Date.now() - started < 15_000, 'closed after about the heartbeat timeout, not kept alive');
    } finally {
      clearInterval(trickle);
    }
  });
});
