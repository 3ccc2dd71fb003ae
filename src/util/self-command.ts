// How to start another `spear-mesh` process running the same code as this one (one process per command).
// Compiled (dist/), the child runs dist/cli/main.js; from the TypeScript sources (tests, development) it loads the
// same sources through tsx, so a parent and its children never mix compiled and source code.
import { fileURLToPath } from 'node:url';

const FROM_SOURCE = import.meta.url.endsWith('.ts');
const MAIN = fileURLToPath(new URL(FROM_SOURCE ? '../cli/main.ts' : '../cli/main.js', import.meta.url));

/** `node` arguments that run `spear-mesh ...args`; spawn them with `process.execPath`. */
export function selfCommandArgs(args: readonly string[]): string[] {
  return FROM_SOURCE ? ['--import', 'tsx', MAIN, ...args] : [MAIN, ...args];
}
