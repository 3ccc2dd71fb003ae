// The agent's check definitions: validation and defaults as Consul's CheckType and addServiceInternal apply them,
// and the LocalCheck record the agent keeps per check (timers, counters, critical time).
import type { TimerHandle } from './clock.ts';
import { formatGoDuration } from './duration.ts';
import { HttpError, badRequest, notFound } from './http-error.ts';
import type { HttpProbe } from './probes.ts';
import { DEFAULT_SCRIPT_TIMEOUT_MS } from './script-check.ts';
import { bool, num, str, strs, type Decoded } from './decode.ts';
import { isHealthStatus, type CheckRec, type ServiceRec, type Unindexed } from './types.ts';

export const CHECK_REAP_INTERVAL_MS = 30_000;
export const CHECK_DEREGISTER_INTERVAL_MIN_MS = 60_000;
export const CHECK_UPDATE_INTERVAL_MS = 300_000;
export const MIN_CHECK_INTERVAL_MS = 1_000;
export const DEFAULT_CHECK_TIMEOUT_MS = 10_000;
export const DEFAULT_OUTPUT_MAX_SIZE = 4096;

export const SERVICE_MAINT_PREFIX = '_service_maintenance:';
export const NODE_MAINT_CHECK_ID = '_node_maintenance';
export const DEFAULT_SERVICE_MAINT_REASON =
  'Maintenance mode is enabled for this service, but no reason was provided. This is a default message.';
export const DEFAULT_NODE_MAINT_REASON =
  'Maintenance mode is enabled for this node, but no reason was provided. This is a default message.';

export type CheckKind = 'ttl' | 'http' | 'tcp' | 'script' | 'maintenance' | 'other';

export interface LocalCheck {
  rec: Unindexed<CheckRec>;
  kind: CheckKind;
  ttlMs: number;
  intervalMs: number;
  timeoutMs: number;
  dcsaMs: number;
  outputMaxSize: number;
  /** When the check last turned critical through an update; 0 when not counting. */
  criticalTime: number;
  lastOutput: string;
  timer?: TimerHandle;
  deferTimer?: TimerHandle;
  stopped: boolean;
  successBeforePassing: number;
  failuresBeforeWarning: number;
  failuresBeforeCritical: number;
  successes: number;
  failures: number;
  http?: HttpProbe;
  tcp?: string;
  /** A script check's command and arguments (run without a shell). */
  args?: string[];
}

export const unknownCheck = (id: string): HttpError =>
  notFound(`Unknown check ID ${JSON.stringify(id)}. Ensure that the check ID is passed, not the check name.`);
export const unknownService = (id: string): HttpError =>
  notFound(`Unknown service ID ${JSON.stringify(id)}. Ensure that the service ID is passed, not the service name.`);

/** Go's "%s" of an output longer than the limit, as CheckTTL.SetStatus and the probes truncate it. */
export function truncateOutput(output: string, max: number): string {
  const buf = Buffer.from(output, 'utf8');
  if (buf.length <= max) return output;
  return `${buf.subarray(0, max).toString('utf8')} ... (captured ${max} of ${buf.length} bytes)`;
}

export function validateMeta(meta: Record<string, string>): void {
  const entries = Object.entries(meta);
  if (entries.length > 64)
    throw badRequest('Invalid Service Meta: Node metadata cannot contain more than 64 key/value pairs');
  for (const [k, v] of entries) {
    let reason: string | undefined;
    if (k === '') reason = 'Key cannot be blank';
    else if (!/^[a-zA-Z0-9_-]+$/.test(k)) reason = 'Key contains invalid characters';
    else if (k.length > 128) reason = 'Key is too long (limit: 128 characters)';
    else if (k.startsWith('consul-')) reason = "Key prefix 'consul-' is reserved for internal use";
    else if (v.length > 512) reason = 'Value is too long (limit: 512 characters)';
    if (reason !== undefined)
      throw badRequest(`Invalid Service Meta: Couldn't load metadata pair ('${k}', '${v}'): ${reason}`);
  }
}

export function isEmptyCheck(d: Decoded): boolean {
  return Object.keys(d).length === 0;
}

/** structs.CheckType.Validate, with Consul's texts. */
export function validateCheckType(d: Decoded): string | undefined {
  const interval = num(d, 'Interval');
  const ttl = num(d, 'TTL');
  const isScript = (strs(d, 'ScriptArgs')?.length ?? 0) > 0;
  const intervalCheck = isScript || ['HTTP', 'TCP', 'UDP', 'GRPC', 'H2PING', 'OSService'].some((k) => str(d, k) !== '');
  const isAlias = str(d, 'AliasNode') !== '' || str(d, 'AliasService') !== '';
  if (interval > 0 && ttl > 0) return 'Interval and TTL cannot both be specified';
  if (intervalCheck && interval <= 0)
    return 'Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks';
  if (intervalCheck && isAlias) return 'Interval cannot be set for Alias checks';
  if (isAlias && ttl > 0) return 'TTL must be not be set for Alias checks';
  if (!intervalCheck && !isAlias && ttl <= 0) return 'TTL must be > 0 for TTL checks';
  if (num(d, 'OutputMaxSize') < 0) return 'MaxOutputMaxSize must be positive';
  if (num(d, 'FailuresBeforeWarning') > num(d, 'FailuresBeforeCritical')) {
    return "FailuresBeforeWarning can't be higher than FailuresBeforeCritical";
  }
  return undefined;
}

export function checkKind(d: Decoded): { kind: CheckKind; type: string } {
  if (num(d, 'TTL') > 0) return { kind: 'ttl', type: 'ttl' };
  if ((strs(d, 'ScriptArgs')?.length ?? 0) > 0) return { kind: 'script', type: 'script' };
  if (str(d, 'HTTP') !== '') return { kind: 'http', type: 'http' };
  if (str(d, 'TCP') !== '') return { kind: 'tcp', type: 'tcp' };
  if (str(d, 'UDP') !== '') return { kind: 'other', type: 'udp' };
  if (str(d, 'GRPC') !== '') return { kind: 'other', type: 'grpc' };
  if (str(d, 'H2PING') !== '') return { kind: 'other', type: 'h2ping' };
  if (str(d, 'OSService') !== '') return { kind: 'other', type: 'os_service' };
  if (str(d, 'AliasNode') !== '' || str(d, 'AliasService') !== '') return { kind: 'other', type: 'alias' };
  return { kind: 'other', type: '' };
}

export function newLocalCheck(rec: Unindexed<CheckRec>, kind: CheckKind): LocalCheck {
  return {
    rec,
    kind,
    ttlMs: 0,
    intervalMs: 0,
    timeoutMs: DEFAULT_CHECK_TIMEOUT_MS,
    dcsaMs: 0,
    outputMaxSize: DEFAULT_OUTPUT_MAX_SIZE,
    criticalTime: 0,
    lastOutput: '',
    stopped: false,
    successBeforePassing: 0,
    failuresBeforeWarning: 0,
    failuresBeforeCritical: 0,
    successes: 0,
    failures: 0,
  };
}

/** Consul's _service_maintenance:<id> / _node_maintenance check. */
export function maintenanceCheck(
  node: string,
  cid: string,
  name: string,
  notes: string,
  svc?: Unindexed<ServiceRec>,
): LocalCheck {
  return newLocalCheck(
    {
      Node: node,
      CheckID: cid,
      Name: name,
      Status: 'critical',
      Notes: notes,
      Output: '',
      ServiceID: svc?.ID ?? '',
      ServiceName: svc?.Service ?? '',
      ServiceTags: svc?.Tags ?? [],
      Type: 'maintenance',
      Interval: '',
      Timeout: '',
      ExposedPort: 0,
      Definition: {},
    },
    'maintenance',
  );
}

/** A LocalCheck from a decoded CheckType; DCSA below the 1 m floor is raised (and `warn` told). */
export function buildLocalCheck(
  d: Decoded,
  cid: string,
  svc: Unindexed<ServiceRec> | undefined,
  node: string,
  warn: (msg: string) => void,
  standalone = false,
): LocalCheck {
  const { kind, type } = checkKind(d);
  const ttlNs = num(d, 'TTL');
  const intervalNs = num(d, 'Interval');
  const timeoutNs = num(d, 'Timeout');
  const dcsaNs = num(d, 'DeregisterCriticalServiceAfter');
  const status = str(d, 'Status');
  const local = newLocalCheck(
    {
      Node: node,
      CheckID: cid,
      Name: str(d, 'Name') === '' ? `Service '${svc?.Service ?? ''}' check` : str(d, 'Name'),
      Status: status !== '' && isHealthStatus(status) ? status : 'critical',
      Notes: str(d, 'Notes'),
      Output: '',
      ServiceID: svc?.ID ?? '',
      ServiceName: svc?.Service ?? '',
      ServiceTags: svc?.Tags ?? [],
      Type: type,
      // addServiceInternal leaves zero durations empty; CheckDefinition.HealthCheck always formats them ("0s").
      Interval: intervalNs > 0 || standalone ? formatGoDuration(intervalNs) : '',
      Timeout: timeoutNs > 0 || standalone ? formatGoDuration(timeoutNs) : '',
      ExposedPort: 0,
      // Agent-registered checks reach the catalog without a Definition (only catalog/register and txn set one).
      Definition: {},
    },
    kind,
  );
  local.ttlMs = ttlNs / 1e6;
  local.intervalMs = Math.max(MIN_CHECK_INTERVAL_MS, intervalNs / 1e6);
  local.timeoutMs = timeoutNs > 0 ? timeoutNs / 1e6 : DEFAULT_CHECK_TIMEOUT_MS;
  const outputMax = num(d, 'OutputMaxSize');
  // OutputMaxSize can only lower the agent's limit.
  local.outputMaxSize = outputMax > 0 ? Math.min(outputMax, DEFAULT_OUTPUT_MAX_SIZE) : DEFAULT_OUTPUT_MAX_SIZE;
  if (svc !== undefined && dcsaNs > 0) {
    local.dcsaMs = dcsaNs / 1e6;
    if (local.dcsaMs < CHECK_DEREGISTER_INTERVAL_MIN_MS) {
      warn('check has deregister interval below minimum');
      local.dcsaMs = CHECK_DEREGISTER_INTERVAL_MIN_MS;
    }
  }
  local.successBeforePassing = num(d, 'SuccessBeforePassing');
  local.failuresBeforeCritical = num(d, 'FailuresBeforeCritical');
  local.failuresBeforeWarning = num(d, 'FailuresBeforeWarning', local.failuresBeforeCritical);
  if (kind === 'http') {
    local.http = {
      url: str(d, 'HTTP'),
      method: str(d, 'Method'),
      header: (d.Header ?? {}) as Record<string, string[]>,
      body: str(d, 'Body'),
      timeoutMs: local.timeoutMs,
      tlsSkipVerify: bool(d, 'TLSSkipVerify'),
      outputMaxSize: local.outputMaxSize,
    };
  }
  if (kind === 'tcp') local.tcp = str(d, 'TCP');
  if (kind === 'script') {
    local.args = strs(d, 'ScriptArgs') ?? [];
    if (timeoutNs <= 0) local.timeoutMs = DEFAULT_SCRIPT_TIMEOUT_MS;
  }
  return local;
}

export function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k] as T;
  return out;
}
