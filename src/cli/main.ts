// Entry point of the `spear-mesh` command: dispatches to one module per subcommand, in this process, and reports a
// failure as one line (src/cli/error-output.ts). Only the chosen subcommand's modules are loaded.
import { COMMANDS, usage } from './commands.ts';

/** Global flags, read before `--` (task start passes a command line after it): --verbose and --json. */
function globalFlags(argv: readonly string[]): { args: string[]; verbose: boolean; json: boolean } {
  const end = argv.indexOf('--');
  const head = end === -1 ? argv : argv.slice(0, end);
  const tail = end === -1 ? [] : argv.slice(end);
  return {
    args: [...head.filter((a) => a !== '--verbose'), ...tail],
    verbose: head.includes('--verbose'),
    json: head.includes('--json'),
  };
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 1 : 0;
  }
  if (name === '--version' || name === '-v') {
    const { VERSION } = await import('../version.ts');
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    process.stderr.write(`spear-mesh: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const mod = await command.load();
  return mod.run(rest);
}

const flags = globalFlags(process.argv.slice(2));
// --verbose: debug logs (with stack traces) unless SPEAR_LOG_LEVEL says otherwise.
if (flags.verbose) process.env.SPEAR_LOG_LEVEL ??= 'debug';
try {
  process.exitCode = await main(flags.args);
} catch (err) {
  const { formatError } = await import('./error-output.ts');
  const { MeshError } = await import('../errors.ts');
  process.stderr.write(formatError(err, { command: flags.args[0], json: flags.json, verbose: flags.verbose }));
  process.exitCode = err instanceof MeshError ? 2 : 1;
}
