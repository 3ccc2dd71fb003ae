// Request body shapes for the agent and session endpoints, with the snake_case aliases Consul accepts.
import type { Schema } from './decode.ts';

const WEIGHTS: Schema = { goName: 'structs.Weights', fields: { Passing: { type: 'int' }, Warning: { type: 'int' } } };
const SERVICE_ADDRESS: Schema = { goName: 'structs.ServiceAddress', fields: { Address: { type: 'string' }, Port: { type: 'int' } } };

const CHECK_FIELDS = {
  CheckID: { type: 'string', aliases: ['ID', 'check_id'] },
  Name: { type: 'string' },
  Status: { type: 'string' },
  Notes: { type: 'string' },
  ServiceID: { type: 'string', aliases: ['service_id'] },
  TTL: { type: 'duration' },
  HTTP: { type: 'string' },
  Method: { type: 'string' },
  Header: { type: { map: 'strings' } },
  Body: { type: 'string' },
  DisableRedirects: { type: 'bool', aliases: ['disable_redirects'] },
  TCP: { type: 'string' },
  TCPUseTLS: { type: 'bool', aliases: ['tcp_use_tls'] },
  UDP: { type: 'string' },
  GRPC: { type: 'string' },
  GRPCUseTLS: { type: 'bool', aliases: ['grpc_use_tls'] },
  H2PING: { type: 'string', aliases: ['h2ping'] },
  H2PingUseTLS: { type: 'bool', aliases: ['h2ping_use_tls'] },
  OSService: { type: 'string', aliases: ['os_service'] },
  Interval: { type: 'duration' },
  Timeout: { type: 'duration' },
  TLSServerName: { type: 'string', aliases: ['tls_server_name'] },
  TLSSkipVerify: { type: 'bool', aliases: ['tls_skip_verify'] },
  DockerContainerID: { type: 'string', aliases: ['docker_container_id'] },
  Shell: { type: 'string' },
  ScriptArgs: { type: 'strings', aliases: ['Args', 'script_args'] },
  AliasNode: { type: 'string', aliases: ['alias_node'] },
  AliasService: { type: 'string', aliases: ['alias_service'] },
  DeregisterCriticalServiceAfter: { type: 'duration', aliases: ['deregister_critical_service_after'] },
  SuccessBeforePassing: { type: 'int', aliases: ['success_before_passing'] },
  FailuresBeforeWarning: { type: 'int', aliases: ['failures_before_warning'] },
  FailuresBeforeCritical: { type: 'int', aliases: ['failures_before_critical'] },
  OutputMaxSize: { type: 'int', aliases: ['output_max_size'] },
  Token: { type: 'string' },
} as const;

export const CHECK_TYPE: Schema = { goName: 'structs.CheckType', fields: CHECK_FIELDS };

export const CHECK_DEFINITION: Schema = { goName: 'structs.CheckDefinition', fields: CHECK_FIELDS };

export const SERVICE_DEFINITION: Schema = {
  goName: 'structs.ServiceDefinition',
  fields: {
    Kind: { type: 'string' },
    ID: { type: 'string' },
    Name: { type: 'string' },
    Tags: { type: 'strings' },
    Address: { type: 'string' },
    SocketPath: { type: 'string', aliases: ['socket_path'] },
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
