// How the `spear-mesh` command reports a failure: one line per problem (cause, code, hint) on stderr; the stack and
// causes only with --verbose; a JSON object instead with --json.
import { MeshError, type ErrorCode } from '../errors.ts';

const HINTS: Partial<Record<ErrorCode, string>> = {
  CONFIG_INVALID: "fix the named option; 'spear-mesh <command> --help' lists them",
  REGISTRY_UNAVAILABLE: 'is Consul (or spear-mesh up) running? check CONSUL_HTTP_ADDR or --consul',
  REGISTRY_HTTP_ERROR: 'for 403, check CONSUL_HTTP_TOKEN and its ACL policy',
  REGISTRY_BAD_RESPONSE: 'check that CONSUL_HTTP_ADDR points at a Consul agent',
  NO_SPEARLET_AVAILABLE: "run 'spear-mesh status' to see the spearlets Consul knows",
  CONNECT_FAILED: 'check the spearlet address, and the token against its --issuer, --audience and secret',
  TOKEN_EXPIRED: 'mint a fresh token',
  TOKEN_INVALID: "mint the token with the spearlets' secret or key (spear-mesh token mint)",
  AUDIENCE_MISMATCH: "mint the token with --aud equal to the spearlets' --audience",
  ISSUER_MISMATCH: "mint the token with --iss equal to the spearlets' --issuer (spear-local for spear-mesh up)",
  TASK_NOT_FOUND: "list the tasks with 'spear-mesh task list --admin URL'",
  JWKS_UNAVAILABLE: 'check the --jwks path, URL or Consul key',
};

export interface ErrorReport {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
}

/** What the user is told about `err`: its code, message and a hint where there is one. */
export function describeError(err: unknown): ErrorReport {
  if (err instanceof MeshError) {
    const own = (err as MeshError & { hint?: unknown }).hint;
    const hint = typeof own === 'string' ? own : HINTS[err.code];
    return { code: err.code, message: err.message, ...(hint !== undefined ? { hint } : {}) };
  }
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  return {
    code: typeof errno === 'string' ? errno : 'UNEXPECTED',
    message: err instanceof Error ? err.message : String(err),
    hint: 'this looks like a bug or an environment problem: run again with --verbose for the details',
  };
}

export interface ErrorOutputOptions {
  /** The subcommand, for the line's prefix. */
  readonly command?: string;
  readonly json: boolean;
  readonly verbose: boolean;
}

/** The text written to stderr for `err`. */
export function formatError(err: unknown, o: ErrorOutputOptions): string {
  const report = describeError(err);
  if (o.json) return `${JSON.stringify({ error: report })}\n`;
  const prefix = o.command === undefined ? 'spear-mesh' : `spear-mesh ${o.command}`;
  const hint = report.hint === undefined ? '' : ` (hint: ${report.hint})`;
  let text = `${prefix}: ${report.message} [${report.code}]${hint}\n`;
  if (o.verbose) {
    for (let e: unknown = err, depth = 0; e !== undefined && depth < 5; depth++) {
      text += `${depth === 0 ? '' : 'caused by: '}${e instanceof Error ? (e.stack ?? e.message) : JSON.stringify(e)}\n`;
      e = e instanceof Error ? e.cause : undefined;
    }
  }
  return text;
}
