// The table of subcommands. Each is loaded lazily so `--help` and small commands start fast.
export interface CommandModule {
  /** Runs the command with its own arguments; resolves to the process exit code. */
  run(argv: readonly string[]): Promise<number>;
}

export interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  readonly load: () => Promise<CommandModule>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'up',
    summary: 'run a local mesh: dev registry, spearlets and a demo agent',
    load: () => import('./commands/up.ts'),
  },
  {
    name: 'registry',
    summary: 'run the embedded Consul-compatible dev registry',
    load: () => import('./commands/registry.ts'),
  },
  {
    name: 'spearlet',
    summary: 'run a spearlet (mesh server) registered in Consul',
    load: () => import('./commands/spearlet.ts'),
  },
  { name: 'token', summary: 'mint JWTs, generate key pairs and a JWKS', load: () => import('./commands/token.ts') },
  {
    name: 'task',
    summary: 'start, list, stop and invoke agent processes on a spearlet',
    load: () => import('./commands/task.ts'),
  },
  {
    name: 'call',
    summary: 'discover spearlets through Consul and send requests',
    load: () => import('./commands/call.ts'),
  },
  {
    name: 'status',
    summary: 'show the spearlets Consul knows, with health and load',
    load: () => import('./commands/status.ts'),
  },
  { name: 'dashboard', summary: 'serve a live web dashboard of a mesh', load: () => import('./commands/dashboard.ts') },
  {
    name: 'drill',
    summary: 'inject a fault into a spearlet under load and report',
    load: () => import('./commands/drill.ts'),
  },
];

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: spear-mesh <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    "Run 'spear-mesh <command> --help' for the options of a command.",
    '',
  ].join('\n');
}
