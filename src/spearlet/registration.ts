// How a spearlet describes itself to Consul: the registration loop with its address, tags and meta.
import type { Logger } from '../util/logger.ts';
import { createConsulClient, type ConsulClient } from '../registry/consul-client.ts';
import type { ConsulOptions } from '../registry/consul-options.ts';
import { SpearletRegistration } from '../registry/spearlet-registration.ts';
import { buildSpearletServiceMeta, buildSpearletTags } from '../registry/spearlet-service.ts';
import { PROTOCOL_VERSION } from '../protocol/constants.ts';
import { VERSION } from '../version.ts';
import { advertiseAddress } from './address.ts';
import type { HostPort, ResolvedSpearletOptions } from './options.ts';

export interface RegistrationInput {
  readonly options: ResolvedSpearletOptions;
  readonly consul: ConsulOptions;
  readonly tcp: HostPort | undefined;
  readonly admin: HostPort | undefined;
  readonly socketPath: string | undefined;
  readonly logger: Logger;
}

export interface StartedRegistration {
  readonly registration: SpearletRegistration;
  readonly client: ConsulClient;
}

/**
 * Registers `spearlet-<id>` with tags `spear-mesh`, `proto-1`, `zone-<z>`, `tls` (when TLS is on) and the extra
 * tags, and meta spearlet_id, version, proto, admin_port, admin_host, zone, socket, max_conns, tls. A wildcard listen host is
 * advertised as a routable address. Starts the loop; the caller closes the registration, then the client.
 */
export function startRegistration(input: RegistrationInput): StartedRegistration {
  const { options: o, tcp } = input;
  const client = createConsulClient(input.consul);
  const registration = new SpearletRegistration({
    consul: client,
    id: o.id,
    ...(o.serviceName !== undefined ? { serviceName: o.serviceName } : {}),
    address: tcp !== undefined ? advertiseAddress(tcp.host, o.advertiseHost) : (o.advertiseHost ?? ''),
    port: tcp?.port ?? 0,
    tags: buildSpearletTags({
      proto: PROTOCOL_VERSION,
      ...(o.zone !== undefined ? { zone: o.zone } : {}),
      extra: [...(o.tls !== undefined ? ['tls'] : []), ...o.tags],
    }),
    meta: buildSpearletServiceMeta({
      spearletId: o.id,
      version: VERSION,
      proto: PROTOCOL_VERSION,
      ...(input.admin !== undefined ? { adminPort: input.admin.port, adminHost: input.admin.host } : {}),
      ...(o.zone !== undefined ? { zone: o.zone } : {}),
      ...(input.socketPath !== undefined ? { socketPath: input.socketPath } : {}),
      maxConns: o.maxConnections,
      tls: o.tls !== undefined,
    }),
    ttlMs: o.registrationTtlMs,
    ...(o.deregisterCriticalAfterMs !== undefined ? { deregisterCriticalAfterMs: o.deregisterCriticalAfterMs } : {}),
    logger: input.logger,
  });
  registration.on('state', (state, previous, error) => {
    input.logger.info({ state, previous, err: error?.message }, 'registration state');
  });
  registration.start();
  return { registration, client };
}
