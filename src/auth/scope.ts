// Token scope and target checks: which methods a token may call, which spearlets and zones it may reach.

/** True when `method` is allowed by `scope`: absent scope allows all; `*` all; `task.*` a prefix; else exact. */
export function methodAllowed(scope: readonly string[] | undefined, method: string): boolean {
  if (scope === undefined) return true;
  for (const entry of scope) {
    if (entry === '*' || entry === method) return true;
    if (entry.endsWith('.*') && method.startsWith(entry.slice(0, -1))) return true;
  }
  return false;
}

/** Parses a `scope` claim: a space-separated string or an array of strings; undefined when absent. */
export function parseScopeClaim(value: unknown): readonly string[] | undefined | null {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return Object.freeze(value.split(/\s+/).filter((s) => s.length > 0));
  if (Array.isArray(value) && value.every((v): v is string => typeof v === 'string')) return Object.freeze([...value]);
  return null;
}

/** Parses an optional claim that must be an array of strings; null when it is present but malformed. */
export function parseStringListClaim(value: unknown): readonly string[] | undefined | null {
  if (value === undefined) return undefined;
  if (Array.isArray(value) && value.every((v): v is string => typeof v === 'string')) return Object.freeze([...value]);
  return null;
}

export interface TokenTarget {
  readonly spearlets?: readonly string[] | undefined;
  readonly zones?: readonly string[] | undefined;
}

/**
 * Why a token may not connect to this spearlet, or undefined when it may. A `zones` restriction on a spearlet
 * without a zone refuses the connection: the token asked for a place this spearlet cannot prove it is in.
 */
export function targetRefusal(token: TokenTarget, spearletId: string, zone: string | undefined): string | undefined {
  if (token.spearlets !== undefined && !token.spearlets.includes(spearletId)) {
    return `token does not allow spearlet ${spearletId}`;
  }
  if (token.zones !== undefined && (zone === undefined || !token.zones.includes(zone))) {
    return `token does not allow zone ${zone ?? '(none)'}`;
  }
  return undefined;
}
