// The package as npm delivers it: `npm pack` (which runs the prepare build), install the tarball with --omit=dev into
// an empty project, then use it as a consumer would: plain Node ESM, TypeScript against the shipped types (nodenext
// and bundler resolution), the installed `spear-mesh` bin; publint and arethetypeswrong check the tarball.
// Dependencies come from the npm cache when present (--prefer-offline), else from the registry.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../scripts/repo-root.ts';

const BIN_DIR = join(ROOT, 'node_modules', '.bin');
const TIMEOUT_MS = 240_000;
const execFileAsync = promisify(execFile);

function run(
  file: string,
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ stdout: string; stderr: string }> {
  // Killed (SIGTERM, then the test fails) if it outlives TIMEOUT_MS; never left behind.
  return execFileAsync(file, args, {
    cwd,
    timeout: TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
    env: { ...process.env, npm_config_update_notifier: 'false', ...env },
  });
}

/** Runs a check and fails the test with the tool's own output when it exits non-zero. */
async function check(label: string, file: string, args: readonly string[], cwd: string): Promise<void> {
  try {
    await run(file, args, cwd);
  } catch (err: unknown) {
    const e = err as { stdout?: string; stderr?: string; message?: string };
    assert.fail(`${label} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}${e.message ?? ''}`);
  }
}

const npm = (args: readonly string[], cwd: string): Promise<{ stdout: string; stderr: string }> =>
  run('npm', [...args, '--no-audit', '--no-fund'], cwd);

// What a consumer's TypeScript sees: every kind of export, used as the README uses it.
const CONSUMER_TS = `import { MeshClient, MeshError, Spearlet, startDevRegistry, mintToken, VERSION, type ErrorCode, type MeshClientOptions } from 'spear-mesh';

const options: MeshClientOptions = { endpoints: ['127.0.0.1:1'], token: 't', policy: 'least-outstanding' };
const code: ErrorCode = 'CONFIG_INVALID';
export async function use(): Promise<string> {
  const registry = await startDevRegistry({ port: 0 });
  await registry.close();
  const token: string = await mintToken({ secret: Buffer.alloc(32), sub: 'a', iss: 'i', aud: 'a', expiresInSec: 60 });
  const spearlet = new Spearlet({
    id: 'x',
    consul: null,
    auth: { secret: Buffer.alloc(32), issuer: 'i', audience: 'a' },
  });
  spearlet.handle('echo', ({ body }) => body);
  await using mesh = await MeshClient.connect(options);
  try {
    const answer: Buffer = await mesh.request('echo', token, { idempotent: true, deadlineMs: 10 });
    return answer.toString() + VERSION + code;
  } catch (err) {
    if (err instanceof MeshError) return err.code;
    throw err;
  }
}
`;

// Plain Node, no loader: a spearlet and a MeshClient talk over loopback through the compiled package.
const CONSUMER_MJS = `import assert from 'node:assert/strict';
import { MeshClient, Spearlet, mintToken, MeshError, VERSION, serveAdmin } from 'spear-mesh';

const secret = Buffer.alloc(32, 7);
const spearlet = new Spearlet({
  id: 'consumer-1',
  consul: null,
  listen: { host: '127.0.0.1', port: 0 },
  auth: { secret, issuer: 'consumer', audience: 'spear-mesh' },
});
spearlet.handle('echo', ({ body }) => body);
const admin = await serveAdmin(spearlet, { listen: { host: '127.0.0.1', port: 0 } });
await spearlet.start();
const health = await fetch('http://127.0.0.1:' + admin.address.port + '/health');
assert.equal(health.status, 200);
const { host, port } = spearlet.tcpAddress;
const token = await mintToken({ secret, sub: 'consumer', iss: 'consumer', aud: 'spear-mesh', expiresInSec: 60 });
const mesh = await MeshClient.connect({ endpoints: [host + ':' + port], token });
const answer = await mesh.request('echo', 'hello', { deadlineMs: 10_000 });
assert.equal(answer.toString(), 'hello');
assert.ok(new MeshError('CONFIG_INVALID', 'x') instanceof Error);
await mesh.close();
await spearlet.close();
await admin.close();
console.log('consumer ok ' + VERSION);
`;

function tsconfig(moduleResolution: 'nodenext' | 'bundler'): string {
  return JSON.stringify({
    compilerOptions: {
      target: 'ES2023',
      lib: ['ES2023', 'ESNext.Disposable'],
      module: moduleResolution === 'nodenext' ? 'nodenext' : 'esnext',
      moduleResolution,
      strict: true,
      noEmit: true,
      // The shipped .d.ts files are checked too (no skipLibCheck): they must compile for a strict consumer.
      skipLibCheck: false,
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules', '@types')],
    },
    files: ['consumer.ts'],
  });
}

// The checks after the install are independent: two at a time (this suite runs on 2-core machines).
describe('the published package', { timeout: 2 * TIMEOUT_MS, concurrency: 2 }, () => {
  let dir = '';
  let tarball = '';
  let project = '';
  let installLog = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'spear-mesh-pack-'));
    const { stdout } = await npm(['pack', '--json', '--pack-destination', dir], ROOT);
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    assert.ok(packed !== undefined);
    tarball = join(dir, packed.filename);
    project = join(dir, 'consumer');
    await mkdir(project);
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }),
    );
    installLog = (await npm(['install', '--omit=dev', '--prefer-offline', tarball], project)).stderr;
  });
  after(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('ships dist, bin, sources and the licence, and no tests, benchmarks or build state', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball], dir);
    const files = stdout
      .split('\n')
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ''));
    for (const f of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'bin/spear-mesh.js', 'dist/index.js']) {
      assert.ok(files.includes(f), `${f} is in the tarball`);
    }
    for (const f of ['dist/index.d.ts', 'dist/index.js.map', 'dist/index.d.ts.map', 'dist/cli/main.js']) {
      assert.ok(files.includes(f), `${f} is in the tarball`);
    }
    const unwanted = files.filter((f) =>
      /^(test|bench|examples|deploy|docs|\.ci)\/|tsbuildinfo|results.*\.json$/.test(f),
    );
    assert.deepEqual(unwanted, []);
    const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    assert.ok(!('tsx' in manifest.dependencies), 'tsx is a devDependency only');
  });

  it('installs with --omit=dev without engine warnings and runs from plain Node', async () => {
    assert.doesNotMatch(installLog, /EBADENGINE/);
    await writeFile(join(project, 'consumer.mjs'), CONSUMER_MJS);
    const { stdout } = await run(process.execPath, ['consumer.mjs'], project);
    assert.match(stdout, /^consumer ok \d+\.\d+\.\d+/);
    const tsxInstalled = await readFile(join(project, 'node_modules', 'tsx', 'package.json')).then(
      () => true,
      () => false,
    );
    assert.equal(tsxInstalled, false, 'a production install has no TypeScript loader');
  });

  it('the installed spear-mesh bin runs compiled JavaScript', async () => {
    const bin = join(project, 'node_modules', '.bin', 'spear-mesh');
    const { stdout } = await run(bin, ['--help'], project);
    assert.match(stdout, /^Usage: spear-mesh <command>/);
    const version = await run(bin, ['--version'], project);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  for (const resolution of ['nodenext', 'bundler'] as const) {
    it(`type-checks a consumer against the shipped types (moduleResolution ${resolution})`, async () => {
      const sub = join(project, `ts-${resolution}`);
      await mkdir(sub, { recursive: true });
      await writeFile(join(sub, 'package.json'), JSON.stringify({ type: 'module', private: true }));
      await writeFile(join(sub, 'consumer.ts'), CONSUMER_TS);
      await writeFile(join(sub, 'tsconfig.json'), tsconfig(resolution));
      // Resolves 'spear-mesh' from the consumer project's node_modules (the parent folder).
      await check('tsc', join(BIN_DIR, 'tsc'), ['-p', 'tsconfig.json'], sub);
    });
  }

  it('passes publint and arethetypeswrong (ESM only)', async () => {
    await check('publint', join(BIN_DIR, 'publint'), ['run', tarball, '--strict', '--pack', 'false'], dir);
    const attwArgs = [tarball, '--profile', 'esm-only', '--no-definitely-typed', '--format', 'ascii'];
    await check('arethetypeswrong', join(BIN_DIR, 'attw'), attwArgs, dir);
  });
});
