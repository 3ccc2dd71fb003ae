// The node arguments that run `spear-mesh ...args`: `spawn(process.execPath, cliArgs(['registry', '--help']))`.
// One process per command.
//
// By default the child runs the TypeScript sources through tsx, the same code the test itself imports. `npm test`
// builds dist/ from these sources first and sets SPEAR_TEST_CLI=dist: its children then run the compiled CLI (what
// users run), which starts with about half the CPU of a tsx start-up; their own children (the spearlets of `up` and
// `drill`) follow, as src/util/self-command.ts makes every child run the same code as its parent.
import { selfCommandArgs } from '../../src/util/self-command.ts';
import { repoPath } from '../../scripts/repo-root.ts';

const COMPILED_MAIN = repoPath('dist/cli/main.js');
const compiled = process.env.SPEAR_TEST_CLI === 'dist';

export function cliArgs(args: readonly string[]): string[] {
  return compiled ? [COMPILED_MAIN, ...args] : selfCommandArgs(args);
}
