// The shapes spear-mesh sends to and reads from Consul's HTTP API, in Consul's own casing.

export type CheckStatus = 'passing' | 'warning' | 'critical';

/** A TTL check attached to a service registration (durations are Go duration strings such as `10s` or `1500ms`). */
export interface ServiceCheckDefinition {
  CheckID: string;
  Name?: string;
  TTL: string;
  DeregisterCriticalServiceAfter?: string;
  Notes?: string;
  /** Omitted means Consul's default, critical: a service is not advertised as healthy before it proved it. */
  Status?: CheckStatus;
}

/** Body of PUT /v1/agent/service/register (only the fields spear-mesh uses). */
export interface ServiceDefinition {
  ID: string;
  Name: string;
  /** Empty means "the node's address". `0.0.0.0` and `::` are refused by Consul. */
  Address?: string;
  Port?: number;
  Tags?: string[];
  Meta?: Record<string, string>;
  Check?: ServiceCheckDefinition;
}

export interface HealthCheckEntry {
  Node: string;
  CheckID: string;
  Name: string;
  Status: string;
  Output?: string;
  ServiceID?: string;
  ServiceName?: string;
}

/** One element of GET /v1/health/service/:name, validated to the fields we rely on. */
export interface HealthServiceEntry {
  Node: { Node: string; Address: string; Datacenter?: string };
  Service: { ID: string; Service: string; Tags: string[]; Address: string; Port: number; Meta: Record<string, string> };
  Checks: HealthCheckEntry[];
}

export interface HealthServiceQuery {
  passing?: boolean;
  /** All must match (Consul ANDs repeated `tag`). */
  tags?: string[];
  /** go-bexpr filter, e.g. `Service.Meta.zone == "a"`. */
  filter?: string;
  /** Decimal uint64; absent or "0" makes the query non-blocking. */
  index?: string;
  /** Go duration such as `30s`; only meaningful with an index. */
  wait?: string;
  signal?: AbortSignal;
}

export interface BlockingReadOptions {
  index?: string;
  wait?: string;
  signal?: AbortSignal;
}
