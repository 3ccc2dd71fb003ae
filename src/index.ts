// The public API of spear-mesh: named exports only (internal modules stay internal).

// Errors
export { MeshError, ERROR_CODES, isErrorCode } from './errors.ts';
export type { ErrorCode, MeshErrorOptions } from './errors.ts';
export {
  ConnectFailedError,
  ConnectionClosedError,
  SpearletLostError,
  HeartbeatTimeoutError,
  HandshakeTimeoutError,
  DeadlineExceededError,
  CancelledError,
  RemoteError,
  HandshakeRefusedError,
  RequestTooLargeError,
} from './conn/errors.ts';
export {
  NoSpearletAvailableError,
  QueueFullError,
  ClientClosedError,
  RetryBudgetExhaustedError,
} from './agent/errors.ts';

// Agents
export { MeshClient } from './agent/mesh-client.ts';
export type { MeshClientStats, MeshRequestOptions, MeshClientEvents } from './agent/mesh-client.ts';
export type { EndpointStats } from './agent/endpoint-balancer.ts';
export type { MeshClientOptions } from './agent/options.ts';
export { POLICY_NAMES } from './balancer/policies.ts';
export type { PolicyName } from './balancer/policies.ts';

// Discovery and registration (Consul)
export { ConsulResolver } from './discovery/consul-resolver.ts';
export type { ConsulResolverOptions } from './discovery/consul-resolver.ts';
export { StaticResolver } from './discovery/static-resolver.ts';
export type { Endpoint } from './discovery/endpoint.ts';
export type { Resolver, ResolverState } from './discovery/resolver.ts';
export { createConsulClient } from './registry/consul-client.ts';
export type { ConsulClient } from './registry/consul-client.ts';
export { resolveConsulOptions } from './registry/consul-options.ts';
export type { ConsulOptions, ConsulOptionsInput } from './registry/consul-options.ts';
export { SpearletRegistration } from './registry/spearlet-registration.ts';
export type { RegistrationState, SpearletRegistrationOptions } from './registry/spearlet-registration.ts';

// Spearlets
export { Spearlet } from './spearlet/spearlet.ts';
export type { SpearletOptions } from './spearlet/options.ts';
export type { Handler, HandlerRequest, HandlerResult } from './spearlet/handlers.ts';
export { TaskRuntime } from './spearlet/runtime/task-runtime.ts';
export type { TaskInfo, TaskSpec, TaskState, TaskChannel } from './spearlet/runtime/task-runtime.ts';
export { enableSpearletTasks } from './spearlet/runtime/spearlet-tasks.ts';
export type { SpearletTasks, SpearletTasksOptions } from './spearlet/runtime/spearlet-tasks.ts';
export { attachTaskRuntime } from './spearlet/runtime/attach-runtime.ts';
export { taskTokenMinter } from './spearlet/runtime/task-token.ts';
export { tasksRoutes } from './admin/tasks-routes.ts';
export { serveAdmin } from './admin/serve.ts';
export type { AdminServer, AdminServerOptions } from './admin/serve.ts';
export type { AdminSecurityOptions } from './admin/admin-security.ts';
export { invokeTask, locateTask, TaskRouter } from './agent/task-router.ts';

// Tokens
export { createTokenVerifier, mintToken, generateSigningKeyPair, buildJwks } from './auth/index.ts';
export type { TokenVerifier, TokenVerifierOptions, VerifiedToken, MintTokenOptions } from './auth/index.ts';

// The embedded Consul-compatible dev registry
export { startDevRegistry } from './devregistry/index.ts';
export type { DevRegistry, DevRegistryOptions } from './devregistry/index.ts';

// Version
export { VERSION } from './version.ts';
export { PROTOCOL_VERSION } from './protocol/constants.ts';
