// What a task may run and see: the command allowlist, an environment built from nothing, and the uid/gid it runs as.
import { readFileSync } from 'node:fs';
import { isAbsolute, posix } from 'node:path';
import { ConfigError, MeshError } from '../../errors.ts';

/** Variables a task inherits from the spearlet's environment unless --task-env-allow adds more. */
export const DEFAULT_TASK_ENV_ALLOW: readonly string[] = ['PATH', 'HOME', 'LANG', 'TZ'];

/** Never handed to a task, whatever the allowlist or the task spec says: the spearlet's own configuration, Consul's. */
const FORBIDDEN_ENV = /^(SPEARLET_|CONSUL_|SPEAR_ADMIN_TOKEN)/;

export interface TaskUser {
  readonly uid: number;
  readonly gid: number;
  /** The user's home directory (HOME for its tasks), when known. */
  readonly home?: string;
}

export interface TaskPolicy {
  /** Absolute paths or globs (`*` within one path segment, `**` across segments); absent = any command. */
  readonly commandAllow?: readonly string[];
  /** Further variable names (or `PREFIX_*`) copied from the spearlet's environment. */
  readonly envAllow?: readonly string[];
  readonly user?: TaskUser;
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Validates --task-command-allow entries (each an absolute path or glob). */
export function parseCommandAllow(list: string, option = '--task-command-allow'): string[] {
  const entries = list
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (entries.length === 0) throw new ConfigError(option, 'needs at least one absolute path or glob');
  for (const e of entries) if (!isAbsolute(e)) throw new ConfigError(option, `'${e}' is not an absolute path`);
  return entries;
}

/** Validates --task-env-allow entries: variable names or PREFIX_*; never the spearlet's or Consul's variables. */
export function parseEnvAllow(list: string, option = '--task-env-allow'): string[] {
  const entries = list
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  for (const e of entries) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*\*?$/.test(e)) throw new ConfigError(option, `'${e}' is not a variable name`);
    if (FORBIDDEN_ENV.test(e) || 'SPEARLET_'.startsWith(e.replace('*', '')) || 'CONSUL_'.startsWith(e.replace('*', '')))
      throw new ConfigError(option, `'${e}' would hand the spearlet's own configuration or secrets to tasks`);
  }
  return entries;
}

/** Throws TASK_COMMAND_NOT_ALLOWED unless `command` is an absolute, normalised path the allowlist matches. */
export function checkCommand(command: string, allow: readonly string[] | undefined): void {
  if (allow === undefined) return;
  if (!isAbsolute(command) || posix.normalize(command) !== command)
    throw new MeshError(
      'TASK_COMMAND_NOT_ALLOWED',
      `command ${JSON.stringify(command)} is not a normalised absolute path`,
    );
  if (!allow.some((entry) => globToRegExp(entry).test(command)))
    throw new MeshError('TASK_COMMAND_NOT_ALLOWED', `command ${command} is not in --task-command-allow`);
}

/** Spec variables a task may not set: the same names the spearlet never hands out. */
export function checkSpecEnv(env: Readonly<Record<string, string>> | undefined): void {
  for (const key of Object.keys(env ?? {})) {
    if (FORBIDDEN_ENV.test(key))
      throw new MeshError('INVALID_PAYLOAD', `a task's env may not set ${key} (reserved for the spearlet)`);
  }
}

/**
 * The task's environment: allowlisted variables from `parent`, then the spec's `env`, then the SPEAR variables.
 * Nothing else of the spearlet's environment reaches the task.
 */
export function buildTaskEnv(
  parent: NodeJS.ProcessEnv,
  policy: TaskPolicy,
  specEnv: Readonly<Record<string, string>> | undefined,
  spear: Readonly<Record<string, string>>,
): Record<string, string> {
  const allow = [...DEFAULT_TASK_ENV_ALLOW, ...(policy.envAllow ?? [])];
  const exact = new Set(allow.filter((a) => !a.endsWith('*')));
  const prefixes = allow.filter((a) => a.endsWith('*')).map((a) => a.slice(0, -1));
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(parent)) {
    if (value === undefined || FORBIDDEN_ENV.test(key)) continue;
    if (exact.has(key) || prefixes.some((p) => key.startsWith(p))) env[key] = value;
  }
  if (policy.user?.home !== undefined) env.HOME = policy.user.home;
  for (const [key, value] of Object.entries(specEnv ?? {})) if (!FORBIDDEN_ENV.test(key)) env[key] = value;
  return Object.assign(env, spear);
}

function lookup(file: string, name: string): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name) return fields;
  }
  return undefined;
}

/**
 * `USER[:GROUP]` (names or numbers) to uid/gid, from /etc/passwd and /etc/group. Only root can switch users, so a
 * spearlet that is not root refuses the flag rather than failing every task start.
 */
export function parseTaskUser(spec: string, option = '--task-user', isRoot = process.getuid?.() === 0): TaskUser {
  const m = /^([^:\s]+)(?::([^:\s]+))?$/.exec(spec);
  if (m === null) throw new ConfigError(option, `must be USER or USER:GROUP, got '${spec}'`);
  const [, user = '', group] = m;
  let uid: number;
  let gid: number | undefined;
  let home: string | undefined;
  if (/^\d+$/.test(user)) {
    uid = Number(user);
  } else {
    const pw = lookup('/etc/passwd', user);
    if (pw === undefined) throw new ConfigError(option, `no user '${user}' in /etc/passwd`);
    uid = Number(pw[2]);
    gid = Number(pw[3]);
    home = pw[5];
  }
  if (group !== undefined) {
    if (/^\d+$/.test(group)) gid = Number(group);
    else {
      const gr = lookup('/etc/group', group);
      if (gr === undefined) throw new ConfigError(option, `no group '${group}' in /etc/group`);
      gid = Number(gr[2]);
    }
  }
  if (gid === undefined) throw new ConfigError(option, `give a group for the numeric user ${user} (USER:GROUP)`);
  if (!isRoot) throw new ConfigError(option, 'only a spearlet running as root can start tasks as another user');
  return { uid, gid, ...(home !== undefined && home !== '' ? { home } : {}) };
}
