#!/usr/bin/env node
// The spear-mesh command. Loads the TypeScript sources through tsx in this same
// process (never a child), so this PID is the server's and signals reach it.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
