// `--config-file FILE`: the parts of a Consul JSON agent configuration the dev registry can honour. Keys it cannot
// honour are reported as warnings, never fatal, so a config written for `consul agent` loads as it is.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.ts';
import type { DevRegistryOptions } from './index.ts';

export interface AgentConfig {
  readonly options: Pick<
    DevRegistryOptions,
    'host' | 'port' | 'node' | 'datacenter' | 'aclToken' | 'enableScriptChecks' | 'enableLocalScriptChecks'
  >;
  /** One line per ignored key, naming it. */
  readonly warnings: readonly string[];
}

const OPTION = '--config-file';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const mistyped = (key: string, type: string, v: unknown): ConfigError =>
  new ConfigError(OPTION, `${key} must be a ${type}, got ${JSON.stringify(v)}`);

function wantString(v: unknown, key: string): string {
  if (typeof v !== 'string') throw mistyped(key, 'string', v);
  return v;
}

function wantBool(v: unknown, key: string): boolean {
  if (typeof v !== 'boolean') throw mistyped(key, 'boolean', v);
  return v;
}

function wantNumber(v: unknown, key: string): number {
  if (typeof v !== 'number') throw mistyped(key, 'number', v);
  return v;
}

/** Reads and interprets a Consul JSON agent config (HCL is not read). */
export function loadAgentConfig(path: string): AgentConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(OPTION, `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(
      OPTION,
      `${path} is not JSON (the dev registry reads JSON agent configs only): ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (!isObject(doc)) throw new ConfigError(OPTION, `${path} must hold a JSON object`);
  return interpretAgentConfig(doc);
}

/** The interpretation of a parsed config object (separate for tests). */
export function interpretAgentConfig(doc: Json): AgentConfig {
  const options: { -readonly [K in keyof AgentConfig['options']]: AgentConfig['options'][K] } = {};
  const warnings: string[] = [];
  const ignore = (key: string, why = 'not supported by the dev registry'): void => {
    warnings.push(`config key ${key} ignored: ${why}`);
  };
  for (const [key, v] of Object.entries(doc)) {
    switch (key) {
      case 'node_name':
        options.node = wantString(v, key);
        break;
      case 'datacenter':
        options.datacenter = wantString(v, key);
        break;
      case 'client_addr':
        options.host ??= wantString(v, key);
        break;
      case 'addresses':
        if (!isObject(v)) throw new ConfigError(OPTION, 'addresses must be an object');
        for (const [k, a] of Object.entries(v)) {
          if (k === 'http') options.host = wantString(a, 'addresses.http');
          else ignore(`addresses.${k}`);
        }
        break;
      case 'ports':
        if (!isObject(v)) throw new ConfigError(OPTION, 'ports must be an object');
        for (const [k, p] of Object.entries(v)) {
          if (k !== 'http') {
            ignore(`ports.${k}`);
            continue;
          }
          const port = wantNumber(p, 'ports.http');
          if (!Number.isInteger(port) || port < 0 || port > 65_535)
            throw new ConfigError(OPTION, `ports.http must be a port number, got ${String(port)}`);
          options.port = port;
        }
        break;
      case 'enable_script_checks':
        options.enableScriptChecks = wantBool(v, key);
        break;
      case 'enable_local_script_checks':
        options.enableLocalScriptChecks = wantBool(v, key);
        break;
      case 'acl':
        readAcl(v, options, ignore);
        break;
      default:
        ignore(key);
    }
  }
  return { options, warnings };
}

function readAcl(v: unknown, options: { aclToken?: string }, ignore: (key: string, why?: string) => void): void {
  if (!isObject(v)) throw new ConfigError(OPTION, 'acl must be an object');
  let enabled = false;
  let token: string | undefined;
  for (const [k, a] of Object.entries(v)) {
    if (k === 'enabled') {
      enabled = wantBool(a, 'acl.enabled');
    } else if (k === 'tokens') {
      if (!isObject(a)) throw new ConfigError(OPTION, 'acl.tokens must be an object');
      for (const [name, tok] of Object.entries(a)) {
        // initial_management (and its old name master) is the token every request must carry here.
        if (name === 'initial_management' || name === 'master') token = wantString(tok, `acl.tokens.${name}`);
        else ignore(`acl.tokens.${name}`, 'the dev registry has one token (acl.tokens.initial_management)');
      }
    } else if (k === 'default_policy') {
      if (wantString(a, 'acl.default_policy') !== 'deny')
        ignore('acl.default_policy', 'ACL mode always denies requests without the token');
    } else {
      ignore(`acl.${k}`);
    }
  }
  if (!enabled) {
    if (token !== undefined) ignore('acl.tokens', 'acl.enabled is not true');
    return;
  }
  if (token === undefined || token === '') {
    throw new ConfigError(OPTION, 'acl.enabled needs acl.tokens.initial_management (the one token of ACL mode)');
  }
  options.aclToken = token;
}
