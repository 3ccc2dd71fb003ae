// The records the dev registry stores, in Consul's vocabulary (field names follow Consul's JSON).

export type HealthStatus = 'passing' | 'warning' | 'critical';

export const isHealthStatus = (s: string): s is HealthStatus => s === 'passing' || s === 'warning' || s === 'critical';

export interface TaggedAddress {
  Address: string;
  Port: number;
}

export interface NodeRec {
  ID: string;
  Node: string;
  Address: string;
  Datacenter: string;
  TaggedAddresses: Record<string, string>;
  Meta: Record<string, string>;
  CreateIndex: number;
  ModifyIndex: number;
}

export interface ServiceRec {
  Kind: string;
  ID: string;
  Service: string;
  Tags: string[];
  Address: string;
  TaggedAddresses: Record<string, TaggedAddress>;
  Meta: Record<string, string>;
  Port: number;
  Weights: { Passing: number; Warning: number };
  EnableTagOverride: boolean;
  Proxy: unknown;
  Connect: unknown;
  CreateIndex: number;
  ModifyIndex: number;
}

export interface CheckRec {
  Node: string;
  CheckID: string;
  Name: string;
  Status: HealthStatus;
  Notes: string;
  Output: string;
  ServiceID: string;
  ServiceName: string;
  ServiceTags: string[];
  Type: string;
  Interval: string;
  Timeout: string;
  ExposedPort: number;
  Definition: Record<string, unknown>;
  CreateIndex: number;
  ModifyIndex: number;
}

export type Unindexed<T> = Omit<T, 'CreateIndex' | 'ModifyIndex'>;
