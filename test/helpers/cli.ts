// The node arguments that run `spear-mesh ...args` from the TypeScript sources (through tsx), the same code the test
// itself imports: `spawn(process.execPath, cliArgs(['registry', '--help']))`. One process per command.
export { selfCommandArgs as cliArgs } from '../../src/util/self-command.ts';
