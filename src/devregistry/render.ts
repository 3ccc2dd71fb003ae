// Consul's JSON shapes (field order as Go marshals its structs) and Go's JSON encoding quirks.
import type { KvEntry } from './kv.ts';
import type { CheckRec, NodeRec, ServiceRec, Unindexed } from './types.ts';

const BIG = '\u0000big:';

/** Go json.Marshal: HTML-safe escaping, uint64 numbers, 4-space indent with ?pretty (plus a newline). */
export function encodeJson(value: unknown, pretty: boolean): string {
  let text: string;
  try {
    text = JSON.stringify(value, undefined, pretty ? 4 : undefined);
  } catch (err) {
    // BigInt (uint64 KV flags) is the one thing JSON.stringify refuses; only then pay for a replacer.
    if (!(err instanceof TypeError)) throw err;
    text = JSON.stringify(
      value,
      (_k, v: unknown) => (typeof v === 'bigint' ? `${BIG}${v.toString()}` : v),
      pretty ? 4 : undefined,
    );
    text = text.replace(/"\\u0000big:(\d+)"/g, '$1');
  }
  text = text.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return pretty ? `${text}\n` : text;
}

export function nodeJson(n: NodeRec): Record<string, unknown> {
  return {
    ID: n.ID,
    Node: n.Node,
    Address: n.Address,
    Datacenter: n.Datacenter,
    TaggedAddresses: n.TaggedAddresses,
    Meta: n.Meta,
    CreateIndex: n.CreateIndex,
    ModifyIndex: n.ModifyIndex,
  };
}

export function nodeServiceJson(s: ServiceRec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (s.Kind !== '') out.Kind = s.Kind;
  out.ID = s.ID;
  out.Service = s.Service;
  out.Tags = s.Tags;
  out.Address = s.Address;
  if (Object.keys(s.TaggedAddresses).length > 0) out.TaggedAddresses = s.TaggedAddresses;
  out.Meta = s.Meta;
  // structs.NodeService: Port is omitempty, PeerName is not.
  if (s.Port !== 0) out.Port = s.Port;
  out.Weights = s.Weights;
  out.EnableTagOverride = s.EnableTagOverride;
  out.Proxy = s.Proxy;
  out.Connect = s.Connect;
  out.PeerName = '';
  out.CreateIndex = s.CreateIndex;
  out.ModifyIndex = s.ModifyIndex;
  return out;
}

/** The /v1/agent/services and /v1/agent/service/:id shape (AgentService). */
export function agentServiceJson(s: Unindexed<ServiceRec>, datacenter: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (s.Kind !== '') out.Kind = s.Kind;
  out.ID = s.ID;
  out.Service = s.Service;
  out.Tags = s.Tags;
  out.Meta = s.Meta;
  out.Port = s.Port;
  out.Address = s.Address;
  if (Object.keys(s.TaggedAddresses).length > 0) out.TaggedAddresses = s.TaggedAddresses;
  out.Weights = s.Weights;
  out.EnableTagOverride = s.EnableTagOverride;
  if (s.Kind !== '') {
    out.Proxy = s.Proxy;
  }
  out.Datacenter = datacenter;
  return out;
}

export function checkJson(
  c: Unindexed<CheckRec> & { CreateIndex?: number; ModifyIndex?: number },
): Record<string, unknown> {
  return {
    Node: c.Node,
    CheckID: c.CheckID,
    Name: c.Name,
    Status: c.Status,
    Notes: c.Notes,
    Output: c.Output,
    ServiceID: c.ServiceID,
    ServiceName: c.ServiceName,
    ServiceTags: c.ServiceTags,
    Type: c.Type,
    Interval: c.Interval,
    Timeout: c.Timeout,
    ExposedPort: c.ExposedPort,
    Definition: c.Definition,
    CreateIndex: c.CreateIndex ?? 0,
    ModifyIndex: c.ModifyIndex ?? 0,
  };
}

/** catalog/service's ServiceNode. */
export function serviceNodeJson(n: NodeRec, s: ServiceRec): Record<string, unknown> {
  const out: Record<string, unknown> = {
    ID: n.ID,
    Node: n.Node,
    Address: n.Address,
    Datacenter: n.Datacenter,
    TaggedAddresses: n.TaggedAddresses,
    NodeMeta: n.Meta,
    ServiceKind: s.Kind,
    ServiceID: s.ID,
    ServiceName: s.Service,
    ServiceTags: s.Tags,
    ServiceAddress: s.Address,
  };
  if (Object.keys(s.TaggedAddresses).length > 0) out.ServiceTaggedAddresses = s.TaggedAddresses;
  Object.assign(out, {
    ServiceWeights: s.Weights,
    ServiceMeta: s.Meta,
    ServicePort: s.Port,
    ServiceSocketPath: '',
    ServiceEnableTagOverride: s.EnableTagOverride,
    ServiceProxy: s.Proxy,
    ServiceConnect: s.Connect,
    ServiceLocality: null,
    CreateIndex: s.CreateIndex,
    ModifyIndex: s.ModifyIndex,
  });
  return out;
}

export function kvJson(e: KvEntry): Record<string, unknown> {
  const out: Record<string, unknown> = {
    LockIndex: e.LockIndex,
    Key: e.Key,
    Flags: e.Flags,
    Value: e.Value === null || e.Value.length === 0 ? null : e.Value.toString('base64'),
  };
  if (e.Session !== '') out.Session = e.Session;
  out.CreateIndex = e.CreateIndex;
  out.ModifyIndex = e.ModifyIndex;
  return out;
}
