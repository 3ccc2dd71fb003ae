// `npm run bench [-- --quick] [--only NAME[,NAME]] [--in-process] [--out FILE]`: runs the suites, prints a table and
// writes bench/results.json (every comparing figure is a ratio of two sides measured in this same run).
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatTable, type Figure } from './lib/report.ts';
import { SUITES } from './suites.ts';

const USAGE = `usage: npm run bench -- [--quick] [--only NAME[,NAME...]] [--in-process] [--out FILE]
  --quick      small counts and short windows (a smoke run; do not quote its figures)
  --only       run only these suites: ${SUITES.map((s) => s.name).join(', ')}
  --in-process run the echo servers (mesh, peers suites) in this process (default: each in a child process)
  --out        where to write the JSON results (default bench/results.json)
`;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
    'in-process': { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const only = (values.only ?? [])
  .flatMap((s) => s.split(','))
  .map((s) => s.trim())
  .filter((s) => s !== '');
const unknown = only.filter((n) => !SUITES.some((s) => s.name === n));
if (unknown.length > 0) {
  process.stderr.write(`unknown suite ${unknown.join(', ')}\n${USAGE}`);
  process.exit(2);
}
const selected = only.length === 0 ? SUITES : SUITES.filter((s) => only.includes(s.name));
const ctx = { quick: values.quick, inProcess: values['in-process'] };
const out = values.out ?? fileURLToPath(new URL('./results.json', import.meta.url));

const figures: Figure[] = [];
const details: Record<string, unknown> = {};
const errors: Record<string, string> = {};
const startedAt = new Date().toISOString();
const loadBefore = loadavg();
for (const suite of selected) {
  process.stderr.write(`bench: ${suite.name}: ${suite.about}...\n`);
  const t0 = performance.now();
  try {
    const r = await suite.run(ctx);
    figures.push(...r.figures);
    details[suite.name] = r.detail;
  } catch (err) {
    errors[suite.name] = err instanceof Error ? err.message : String(err);
    process.stderr.write(`bench: ${suite.name} failed: ${errors[suite.name] ?? ''}\n`);
  }
  process.stderr.write(`bench: ${suite.name} took ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

/** The commit measured, with '+dirty' when the work tree has changes; 'unknown' outside a git checkout. */
function commit(): string {
  try {
    const git = (args: string[]): string =>
      execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return `${git(['rev-parse', '--short', 'HEAD'])}${git(['status', '--porcelain', '--', 'src', 'bench']) === '' ? '' : '+dirty'}`;
  } catch {
    return 'unknown';
  }
}

const meta = {
  commit: commit(),
  startedAt,
  finishedAt: new Date().toISOString(),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  loadAverageBefore: loadBefore.map((x) => Math.round(x * 100) / 100),
  loadAverageAfter: loadavg().map((x) => Math.round(x * 100) / 100),
  quick: ctx.quick,
  echoServers: ctx.inProcess ? 'in-process' : 'child-process',
  suites: selected.map((s) => s.name),
};
await writeFile(out, `${JSON.stringify({ meta, figures, details, errors }, null, 2)}\n`);
process.stdout.write(
  `${formatTable(figures)}\n\n` +
    `commit ${meta.commit}, node ${meta.node}, ${meta.cpus} cpus, load average ${meta.loadAverageBefore.join(' ')} -> ${meta.loadAverageAfter.join(' ')}, echo servers ${meta.echoServers}${ctx.quick ? ', QUICK run' : ''}\n` +
    `results written to ${out}\n`,
);
if (Object.keys(errors).length > 0) process.exitCode = 1;
