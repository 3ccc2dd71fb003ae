// Entry point of the `spear-mesh` command: dispatches to one module per subcommand, in this process.
import { COMMANDS, usage } from './commands.ts';
import { MeshError } from '../errors.ts';

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

try {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
} catch (err) {
  if (err instanceof MeshError) {
    process.stderr.write(`spear-mesh: ${err.message} (${err.code})\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`spear-mesh: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  }
}
