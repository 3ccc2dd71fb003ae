// `npm test`: builds dist/ (incremental), then runs the type check, the linter, the Prettier check and the layer
// rules side by side, then the tests. The tests' output streams as it comes; each check's output is printed when it
// ends. Exits non-zero if any part failed.
// `npm run test:unit` (this script with `unit`) runs only the fast unit subset.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';

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
const testArgs = ['--import', 'tsx', '--test', '--test-concurrency=3', '--test-timeout=300000', ...files];

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
const t0 = performance.now();
const built = unit ? true : await run('build', ...npx('tsc', ['-p', 'tsconfig.build.json']), { stream: false });
const checks = unit
  ? []
  : [
      run(
        'typecheck',
        ...npx('tsc', [
          '-p',
          'tsconfig.json',
          '--noEmit',
          '--incremental',
          '--tsBuildInfoFile',
          'node_modules/.cache/tsc/typecheck.tsbuildinfo',
        ]),
        { stream: false },
      ),
      run('lint', ...npx('eslint', ['--cache', '--cache-location', 'node_modules/.cache/eslint/', '.']), {
        stream: false,
      }),
      run('format', ...npx('prettier', ['--check', '--log-level', 'warn', '.']), { stream: false }),
      run('layers', ...npx('depcruise', ['src', '--config', 'dependency-cruiser.config.js']), { stream: false }),
    ];
// The checks finish before the tests start: on a 2-core machine CPU-bound checks beside the tests would slow the
// timing-sensitive ones (spearlet processes, heartbeats) enough to fail them.
const checked = (await Promise.all(checks)).every(Boolean);
// The tests' `spear-mesh` child processes run dist/, compiled above from the same sources (test/helpers/cli.ts).
if (!unit) process.env.SPEAR_TEST_CLI = 'dist';
const tests = built ? await run('tests', process.execPath, testArgs, { stream: true }) : false;
const ok = built && checked && tests;
process.stdout.write(`npm test: ${ok ? 'ok' : 'FAILED'} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
process.exitCode = ok ? 0 : 1;
