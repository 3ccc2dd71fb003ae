// Runs the Python legacy agent fixture against a tiny in-test server that speaks only the wire codecs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { FrameDecoder } from '../../src/wire/frame.ts';
import {
  LEGACY_METHOD_NOT_FOUND_CODE,
  LegacySignal,
  decodeCustomResponse,
  decodeLegacyMessage,
  encodeLegacyInvoke,
  encodeLegacyMethodNotFound,
  encodeLegacySignal,
  type LegacyMessage,
} from '../../src/wire/legacy/envelope.ts';
import { classifyPreface, PREFACE_BYTES } from '../../src/wire/preface.ts';
import { repoPath } from '../../scripts/repo-root.ts';

const AGENT = repoPath('test/fixtures/legacy-agent/agent.py');
const SECRET = 1234567890123456789n;
const TIMEOUT_MS = 20_000;

/** A queue of decoded legacy messages from one socket, after its preface. */
class LegacyPeer {
  readonly preface: Promise<Buffer>;
  readonly closed: Promise<void>;
  readonly #messages: LegacyMessage[] = [];
  #waiter: (() => void) | null = null;

  constructor(socket: Socket) {
    let resolvePreface!: (b: Buffer) => void;
    let resolveClosed!: () => void;
    this.preface = new Promise((r) => (resolvePreface = r));
    this.closed = new Promise((r) => (resolveClosed = r));
    const decoder = new FrameDecoder({
      onFrame: (body) => {
        this.#messages.push(decodeLegacyMessage(body));
        this.#waiter?.();
      },
      onClose: () => {
        resolveClosed();
      },
    });
    let head = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      if (head.length < PREFACE_BYTES) {
        head = Buffer.concat([head, chunk]);
        if (head.length < PREFACE_BYTES) return;
        resolvePreface(head.subarray(0, PREFACE_BYTES));
        chunk = head.subarray(PREFACE_BYTES);
      }
      decoder.push(chunk);
    });
  }

  async next(): Promise<LegacyMessage> {
    while (this.#messages.length === 0) {
      await new Promise<void>((r) => (this.#waiter = r));
      this.#waiter = null;
    }
    return this.#messages.shift()!;
  }
}

describe('legacy agent fixture (Python) against the wire codecs', () => {
  it(
    'connects with its secret, answers "handle", gets code 2 for method 99, stops on Terminate',
    { timeout: TIMEOUT_MS },
    async (t) => {
      const sockets = new Set<Socket>();
      const server = createServer((s) => sockets.add(s));
      t.after(() => {
        for (const s of sockets) s.destroy();
        server.close();
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as AddressInfo;

      const child = spawn('/usr/bin/python3', [AGENT], {
        env: {
          ...process.env,
          SERVICE_ADDR: `127.0.0.1:${port}`,
          SECRET: SECRET.toString(),
          PYTHONDONTWRITEBYTECODE: '1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      t.after(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
      child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
      const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;

      const [socket] = (await once(server, 'connection')) as [Socket];
      const peer = new LegacyPeer(socket);
      assert.deepEqual(classifyPreface(await peer.preface), { type: 'legacy', secret: SECRET });

      // The agent's own request for an unknown method: answer as a spearlet does.
      const probe = await peer.next();
      assert.equal(probe.type, 'request');
      assert.equal(probe.method, 99);
      socket.write(encodeLegacyMethodNotFound(probe.id));

      socket.write(encodeLegacyInvoke(7n, 'handle', '{"x":1}'));
      const reply = await peer.next();
      assert.equal(reply.type, 'response');
      assert.equal(reply.id, 7n);
      assert.equal(reply.code, 0);
      assert.equal(decodeCustomResponse(reply.response).toString('utf8'), 'legacy:{"x":1}');

      socket.write(encodeLegacyInvoke(8n, 'other', ''));
      const missing = await peer.next();
      assert.equal(missing.type, 'response');
      assert.equal(missing.code, LEGACY_METHOD_NOT_FOUND_CODE);

      socket.write(encodeLegacySignal(LegacySignal.Terminate));
      await peer.closed;
      const [code] = await exited;
      assert.equal(code, 0, stderr);
      assert.match(stdout, /method 99 answered code=2 message=method not found/);
      assert.match(stdout, /legacy-agent: terminate/);
    },
  );
});
