// Compiles a bench entry point and the sources it imports with tsc (the package's own compiler settings) into
// .tmp/bench-build, so a child process runs plain JavaScript as an installed spear-mesh does. Under the tsx loader a
// process carries a second V8 isolate for the loader (about 34 MiB RSS) and every closure gets a name-setting helper
// call, which inflates the CPU and memory a benchmark reports.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUT = join(ROOT, '.tmp', 'bench-build');
const built = new Map<string, Promise<string>>();

/** The compiled JavaScript path of `entry` (an absolute .ts path inside the repository); built once per process. */
export function compiledEntry(entry: string): Promise<string> {
  let p = built.get(entry);
  if (p === undefined) {
    p = build(entry);
    built.set(entry, p);
  }
  return p;
}

async function build(entry: string): Promise<string> {
  await mkdir(OUT, { recursive: true });
  const name = relative(ROOT, entry).replace(/[^\w]+/gu, '_');
  const config = join(OUT, `tsconfig.${name}.json`);
  await writeFile(
    config,
    JSON.stringify({
      extends: join(ROOT, 'tsconfig.json'),
      compilerOptions: {
        noEmit: false,
        declaration: false,
        sourceMap: false,
        incremental: false,
        rootDir: ROOT,
        outDir: OUT,
      },
      include: [],
      files: [entry],
    }),
  );
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await promisify(execFile)(process.execPath, [tsc, '-p', config], { cwd: ROOT });
  return join(OUT, dirname(relative(ROOT, entry)), `${basename(entry)}.js`);
}

function basename(path: string): string {
  const file = path.slice(path.lastIndexOf('/') + 1);
  return file.endsWith('.ts') ? file.slice(0, -3) : file;
}
