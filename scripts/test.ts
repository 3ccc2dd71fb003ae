// `npm test`: builds dist/ (incremental), then runs the type check (which also compiles every TypeScript file of the
// repository into .tmp/test-build, tsconfig.test.json), the linter, the Prettier check and the layer rules side by
// side, then the tests from that compiled tree with plain node: a test process then starts without a TypeScript
// loader (tsx costs about half a second of CPU per process, and the suite starts a few hundred). The tests' output
// streams as it comes; each check's output is printed when it ends. Exits non-zero if any part failed.
// `npm run test:unit` (this script with `unit`) runs only the fast unit subset, from the sources under tsx.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { TEST_BUILD_DIR } from './repo-root.ts';

/** Test files under `dirs`, sorted (Node 20's test runner does not expand globs itself). */
function testFiles(dirs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    if (statSync(p).isDirectory()) {
      for (const name of readdirSync(p)) if (name !== 'node_modules') walk(join(p, name));
    } else if (p.endsWith('.test.ts')) out.push(p);
  };
  for (const d of dirs) walk(d);
  return out.sort();
}

// Pure logic and in-process loopback tests: no child processes, no long timers.
const UNIT = [
  'test/wire/frame.test.ts',
  'test/wire/message.test.ts',
  'test/wire/preface.test.ts',
  'test/wire/property.test.ts',
  'test/auth',
  'test/balancer',
  'test/util',
  'test/discovery',
  'test/errors.test.ts',
  'test/docs.test.ts',
];

// The longest files (measured: each over 40 s on a loaded 2-core machine) start first, so that none of them starts
// last and runs alone while the other runner slots sit idle.
const SLOW_FIRST = [
  'test/cli/drill.test.ts',
  'test/bench/bench-smoke.test.ts',
  'test/package/consumer.test.ts',
  'test/agent/failover.test.ts',
  'test/cli/gray-drills.test.ts',
  'test/spearlet/cli.test.ts',
  'test/cli/up.test.ts',
  'test/dashboard/dashboard-browser.test.ts',
  'test/cli/first-run.test.ts',
  'test/cli/parent-death.test.ts',
  'test/registry/registration-integration.test.ts',
];
const slowFirst = (list: string[]): string[] => [
  ...SLOW_FIRST.filter((f) => list.includes(f)),
  ...list.filter((f) => !SLOW_FIRST.includes(f)),
];

const unit = process.argv.includes('unit');
const files = unit ? testFiles(UNIT) : slowFirst(testFiles(['test', 'examples']));
// The full run takes each test file's compiled twin; the unit subset runs the sources under tsx (no build step).
const testArgs = unit
  ? ['--import', 'tsx', '--test', '--test-concurrency=3', '--test-timeout=300000', ...files]
  : [
      '--test',
      '--test-concurrency=3',
      '--test-timeout=300000',
      ...files.map((f) => join(TEST_BUILD_DIR, f.replace(/\.ts$/u, '.js'))),
    ];

function run(
  name: string,
  command: string,
  args: readonly string[],
  { stream }: { stream: boolean },
): Promise<boolean> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: stream ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (output += d));
    // This script's own end (Ctrl-C, a CI timeout) ends its children too.
    const stop = (): void => {
      child.kill('SIGTERM');
    };
    process.once('SIGINT', stop).once('SIGTERM', stop);
    child.once('exit', (code, signal) => {
      process.off('SIGINT', stop).off('SIGTERM', stop);
      const seconds = ((performance.now() - t0) / 1000).toFixed(1);
      if (output !== '') process.stdout.write(`\n--- ${name} ---\n${output}`);
      process.stdout.write(`${name}: ${code === 0 ? 'ok' : `FAILED (${signal ?? String(code)})`} in ${seconds} s\n`);
      resolve(code === 0);
    });
  });
}

const npx = (bin: string, args: readonly string[]): [string, readonly string[]] => [
  join('node_modules', '.bin', bin),
  args,
];
const ESLINT_CACHE = 'node_modules/.cache/eslint/';
const t0 = performance.now();
const built = unit ? true : await run('build', ...npx('tsc', ['-p', 'tsconfig.build.json']), { stream: false });
const checks = unit
  ? []
  : [
      run('typecheck', ...npx('tsc', ['-p', 'tsconfig.test.json']), { stream: false }),
      // Without a lint cache (a fresh clone) two linter threads: the type-aware lint is then the longest check (about
      // 65 s of CPU), and on one thread it ran alone with a core idle after the others had finished; the second thread
      // costs about 8 s more CPU. With a cache ESLint itself advises one thread.
      run(
        'lint',
        ...npx('eslint', [
          `--concurrency=${existsSync(ESLINT_CACHE) ? 'off' : '2'}`,
          '--cache',
          '--cache-location',
          ESLINT_CACHE,
          '.',
        ]),
        { stream: false },
      ),
      run('format', ...npx('prettier', ['--check', '--log-level', 'warn', '.']), { stream: false }),
      run('layers', ...npx('depcruise', ['src', '--config', 'dependency-cruiser.config.js']), { stream: false }),
    ];
// The checks finish before the tests start: on a 2-core machine CPU-bound checks beside the tests would slow the
// timing-sensitive ones (spearlet processes, heartbeats) enough to fail them.
const checked = (await Promise.all(checks)).every(Boolean);
// The tests' `spear-mesh` child processes run dist/, compiled above from the same sources (test/helpers/cli.ts).
if (!unit) process.env.SPEAR_TEST_CLI = 'dist';
// Files the compiled modules read next to themselves (the dashboard's static files) come along.
cpSync(join('src', 'dashboard', 'public'), join(TEST_BUILD_DIR, 'src', 'dashboard', 'public'), { recursive: true });
const tests = built ? await run('tests', process.execPath, testArgs, { stream: true }) : false;
const ok = built && checked && tests;
process.stdout.write(`npm test: ${ok ? 'ok' : 'FAILED'} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
process.exitCode = ok ? 0 : 1;
