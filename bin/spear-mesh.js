#!/usr/bin/env node
// The spear-mesh command: runs the compiled CLI in this same process (never a child), so this PID is the server's
// and signals reach it. dist/ is built by `npm run build` (`npm ci` runs it through the prepare script).
import process from 'node:process';
import { URL } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
try {
  await import(main.href);
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes(main.pathname)) {
    process.stderr.write('spear-mesh: dist/ is missing (ERR_MODULE_NOT_FOUND): run `npm run build` first\n');
    process.exitCode = 1;
  } else {
    throw err;
  }
}
