// Where the repository is, for the tests and the benchmarks, whether they run from their TypeScript sources (tsx) or
// compiled into .tmp/test-build (`npm test`). Files that are not compiled (fixtures, docs, dist/, bin/) are always
// read from the repository itself; a TypeScript entry point that a test starts as a child process runs compiled when
// the test itself does.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm test` compiles the repository's TypeScript (tsconfig.test.json). */
export const TEST_BUILD_DIR = join('.tmp', 'test-build');

function findRoot(): string {
  // The nearest directory holding tsconfig.json: the repository from either place (the build holds no tsconfig).
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'tsconfig.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no tsconfig.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return dir;
}

/** The repository root. */
export const ROOT = findRoot();

/** True when this process runs the compiled test build. */
export const COMPILED = import.meta.url.endsWith('.js');

/** An absolute path inside the repository: `repoPath('test', 'fixtures', 'x.py')`. */
export function repoPath(...parts: string[]): string {
  return join(ROOT, ...parts);
}

/**
 * The node arguments that run a TypeScript entry point of the repository (`test/fixtures/tree-agent.ts`): its compiled
 * JavaScript when this process runs compiled, else the source under tsx.
 */
export function nodeEntryArgs(relativeTsPath: string): string[] {
  return COMPILED
    ? [join(ROOT, TEST_BUILD_DIR, relativeTsPath.replace(/\.ts$/u, '.js'))]
    : ['--import', 'tsx', join(ROOT, relativeTsPath)];
}
