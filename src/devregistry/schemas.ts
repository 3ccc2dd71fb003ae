// Request body shapes for the agent and session endpoints, with the snake_case aliases Consul accepts.
import type { Schema } from './decode.ts';

const WEIGHTS: Schema = { goName: 'structs.Weights', fields: { Passing: { type: 'int' }, Warning: { type: 'int' } } };
const SERVICE_ADDRESS: Schema = {
  goName: 'structs.ServiceAddress',
  fields: { Address: { type: 'string' }, Port: { type: 'int' } },
};

// structs.CheckType (inside a service registration): its UnmarshalJSON accepts exactly these snake_case aliases.
const CHECK_TYPE_FIELDS = {
  CheckID: { type: 'string' },
  Name: { type: 'string' },
  Status: { type: 'string' },
  Notes: { type: 'string' },
  ScriptArgs: { type: 'strings', aliases: ['args', 'script_args'] },
  HTTP: { type: 'string' },
  H2PING: { type: 'string' },
  H2PingUseTLS: { type: 'bool', aliases: ['h2ping_use_tls'] },
  Header: { type: { map: 'strings' } },
  Method: { type: 'string' },
  Body: { type: 'string' },
  DisableRedirects: { type: 'bool' },
  TCP: { type: 'string' },
  TCPUseTLS: { type: 'bool' },
  UDP: { type: 'string' },
  Interval: { type: 'duration' },
  AliasNode: { type: 'string' },
  AliasService: { type: 'string' },
  DockerContainerID: { type: 'string', aliases: ['docker_container_id'] },
  Shell: { type: 'string' },
  GRPC: { type: 'string' },
  GRPCUseTLS: { type: 'bool', aliases: ['grpc_use_tls'] },
  OSService: { type: 'string' },
  TLSServerName: { type: 'string', aliases: ['tls_server_name'] },
  TLSSkipVerify: { type: 'bool', aliases: ['tls_skip_verify'] },
  Timeout: { type: 'duration' },
  TTL: { type: 'duration' },
  SuccessBeforePassing: { type: 'int' },
  FailuresBeforeWarning: { type: 'int' },
  FailuresBeforeCritical: { type: 'int' },
  ProxyHTTP: { type: 'string' },
  ProxyGRPC: { type: 'string' },
  DeregisterCriticalServiceAfter: { type: 'duration', aliases: ['deregister_critical_service_after'] },
  OutputMaxSize: { type: 'int' },
  // Accepted and ignored, as Consul does.
  ServiceID: { type: 'string', aliases: ['service_id'] },
} as const;

export const CHECK_TYPE: Schema = { goName: 'structs.CheckType', fields: CHECK_TYPE_FIELDS };

// structs.CheckDefinition (PUT /v1/agent/check/register): `ID`, not `CheckID`, plus ServiceID and Token.
const {
  CheckID: _checkId,
  ProxyHTTP: _proxyHttp,
  ProxyGRPC: _proxyGrpc,
  TCPUseTLS: _tcpUseTls,
  ServiceID: _serviceId,
  ...SHARED
} = CHECK_TYPE_FIELDS;
export const CHECK_DEFINITION: Schema = {
  goName: 'structs.CheckDefinition',
  fields: {
    ID: { type: 'string' },
    ...SHARED,
    ServiceID: { type: 'string', aliases: ['service_id'] },
    Token: { type: 'string' },
    DisableRedirects: { type: 'bool', aliases: ['disable_redirects'] },
  },
};

export const SERVICE_DEFINITION: Schema = {
  goName: 'structs.ServiceDefinition',
  fields: {
    Kind: { type: 'string' },
    ID: { type: 'string' },
    Name: { type: 'string' },
    Tags: { type: 'strings' },
    Address: { type: 'string' },
    SocketPath: { type: 'string' },
    TaggedAddresses: { type: { map: { struct: SERVICE_ADDRESS } }, aliases: ['tagged_addresses'] },
    Meta: { type: 'stringMap' },
    Port: { type: 'int' },
    Weights: { type: { struct: WEIGHTS } },
    Check: { type: { struct: CHECK_TYPE } },
    Checks: { type: { array: { struct: CHECK_TYPE } } },
    Token: { type: 'string' },
    EnableTagOverride: { type: 'bool', aliases: ['enable_tag_override'] },
    Proxy: { type: 'raw' },
    Connect: { type: 'raw' },
    Locality: { type: 'raw' },
  },
};

export const CHECK_UPDATE: Schema = {
  goName: 'agent.checkUpdate',
  fields: { Status: { type: 'string' }, Output: { type: 'string' } },
};

const SERVICE_CHECK: Schema = {
  goName: 'structs.ServiceCheck',
  fields: { ID: { type: 'string' }, Namespace: { type: 'string' } },
};

export const SESSION: Schema = {
  goName: 'structs.Session',
  fields: {
    ID: { type: 'string' },
    Name: { type: 'string' },
    Node: { type: 'string' },
    LockDelay: { type: 'lockDelay' },
    Behavior: { type: 'string' },
    TTL: { type: 'string' },
    Checks: { type: 'strings' },
    NodeChecks: { type: 'strings' },
    ServiceChecks: { type: { array: { struct: SERVICE_CHECK } } },
    Namespace: { type: 'string' },
    CreateIndex: { type: 'uint' },
    ModifyIndex: { type: 'uint' },
  },
};
