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
  TOKEN_NOT_YET_VALID: "the token's nbf or iat is in the future: check the clocks of this host and the minting one",
  ALG_NOT_ALLOWED:
    'sign the token with an algorithm the spearlets accept (HS256 with their secret, or their JWKS keys)',
  UNKNOWN_KEY: "publish the signing key (its kid) in the spearlets' JWKS before minting with it",
  AUTH_FAILED: "the spearlet log says why; check the token against the spearlets' --issuer, --audience and key",
  FORBIDDEN_SPEARLET: "the token's spearlets or zones claim does not include this spearlet: widen it or pick another",
  FORBIDDEN_METHOD: "the token's scope does not allow this method: mint it with a wider --scope",
  HELLO_INVALID: 'this client and the spearlet disagree on the handshake: upgrade the older one',
  PROTOCOL_VERSION_UNSUPPORTED: 'this client and the spearlet speak different protocol versions: upgrade the older one',
  REQUEST_TOO_LARGE: "send a smaller body, or raise the spearlets' --max-frame-size",
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
