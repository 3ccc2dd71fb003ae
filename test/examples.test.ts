// The examples are product: each runs here, as a user would run it, against the dev registry.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { MeshClient, mintToken, startDevRegistry, type DevRegistry } from '../src/index.ts';
import { ROOT } from '../scripts/repo-root.ts';

const root = ROOT;
const run = promisify(execFile);

describe('examples', () => {
  let registry: DevRegistry;
  let secret: Buffer;
  let secretDir: string;
  let stopSpearlet: (() => Promise<void>) | undefined;
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, CONSUL_HTTP_ADDR: registry.url, SPEAR_LOG_LEVEL: 'warn' });
  const token = (sub: string): Promise<string> =>
    mintToken({ secret, sub, iss: 'spear-local', aud: 'spear-mesh', expiresInSec: 600 });

  before(async () => {
    registry = await startDevRegistry({ port: 0 });
    // As `spear-mesh up` writes it: 32 random bytes, not text.
    secret = randomBytes(32);
    secretDir = await mkdtemp(join(tmpdir(), 'examples-secret-'));
    await writeFile(join(secretDir, 'token-secret'), secret, { mode: 0o600 });
  });
  after(async () => {
    await stopSpearlet?.();
    await registry.close();
    await rm(secretDir, { recursive: true, force: true });
  });

  it('custom-spearlet.ts joins with the binary secret file spear-mesh up writes, registers and serves reverse', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/custom-spearlet.ts'], {
      cwd: root,
      env: { ...env(), SPEARLET_TOKEN_SECRET_FILE: join(secretDir, 'token-secret'), SPEARLET_ID: 'custom-1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    stopSpearlet = async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        assert.equal(await exited, 0, 'the example drains and exits 0 on SIGTERM');
      }
    };
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (/custom spearlet custom-1 listening tcp=/.test(line)) resolve();
      });
      void exited.then((code) => {
        reject(new Error(`example exited with ${code}`));
      });
    });
    await using mesh = await MeshClient.connect({
      consul: { addr: registry.url },
      token: await token('tester'),
      tags: ['reverse'],
    });
    const answer = await mesh.request('reverse', 'mesh é👍');
    assert.equal(answer.toString('utf8'), '👍é hsem (for tester)');
  });

  it('agent.ts discovers the spearlet through Consul and calls it', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/agent.ts'], {
      cwd: root,
      env: { ...env(), SPEAR_TOKEN: await token('example-agent'), EXAMPLE_REQUESTS: '10' },
    });
    assert.match(stdout, /^connected; first answer from custom-1$/m);
    assert.match(stdout, /^echo: hello, mesh$/m);
    assert.match(stdout, /^requests per spearlet: \{"custom-1":10\}$/m);
  });

  it('drill.sh runs a drill and writes its report and chart', async () => {
    const out = await mkdtemp(join(tmpdir(), 'drill-example-'));
    try {
      await run('bash', ['examples/drill.sh', 'kill'], {
        cwd: root,
        env: { ...process.env, DRILL_OUT: out, DRILL_DURATION: '3s', DRILL_RATE: '100' },
      });
      const report = JSON.parse(await readFile(join(out, 'kill.json'), 'utf8')) as { lost: number; passed: boolean };
      assert.deepEqual([report.lost, report.passed], [0, true]);
      assert.match(await readFile(join(out, 'kill.svg'), 'utf8'), /^<svg /);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
