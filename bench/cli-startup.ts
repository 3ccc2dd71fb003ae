// CLI start-up: `spear-mesh --help` and `spear-mesh status --json` (against a live dev registry) beside `node -e 0`,
// each run as a fresh process from the compiled dist/ (what npm installs), interleaved so load hits every side alike.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startDevRegistry } from '../src/devregistry/index.ts';
import { figure } from './lib/report.ts';
import type { Suite } from './suites.ts';

const BIN = fileURLToPath(new URL('../bin/spear-mesh.js', import.meta.url));
const DIST_MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const run = promisify(execFile);

async function timeMs(args: readonly string[]): Promise<number> {
  const t0 = performance.now();
  await run(process.execPath, args, { env: { PATH: process.env.PATH ?? '' }, timeout: 60_000 });
  return performance.now() - t0;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

export const cliStartupSuite: Suite = {
  name: 'startup',
  about: 'CLI start-up: spear-mesh --help and status --json (live dev registry) against node -e 0, medians',
  async run({ quick }) {
    if (!existsSync(DIST_MAIN)) throw new Error('dist/ is missing: run `npm run build` first');
    const rounds = quick ? 3 : 15;
    await using registry = await startDevRegistry({ host: '127.0.0.1', port: 0 });
    const sides = {
      node: ['-e', '0'],
      help: [BIN, '--help'],
      status: [BIN, 'status', '--json', '--consul', registry.url],
    } as const;
    const samples: Record<keyof typeof sides, number[]> = { node: [], help: [], status: [] };
    await timeMs(sides.help); // warm the file cache
    for (let i = 0; i < rounds; i++) {
      for (const side of ['node', 'help', 'status'] as const) samples[side].push(await timeMs(sides[side]));
    }
    const ms = { node: median(samples.node), help: median(samples.help), status: median(samples.status) };
    const detail = {
      rounds,
      medianMs: { node: round(ms.node, 1), help: round(ms.help, 1), status: round(ms.status, 1) },
    };
    const figures = [
      figure(
        'startup',
        `spear-mesh --help / node -e 0 (${detail.medianMs.help} / ${detail.medianMs.node} ms)`,
        round(ms.help / ms.node),
        'x',
        {
          op: '<=',
          value: 1.5,
        },
      ),
      figure(
        'startup',
        `spear-mesh status --json / node -e 0 (${detail.medianMs.status} / ${detail.medianMs.node} ms)`,
        round(ms.status / ms.node),
        'x',
      ),
    ];
    return { detail, figures };
  },
};
