// A discovered endpoint for unit tests of the agent layer: only its id matters, nothing connects to it.
import type { Endpoint } from '../../src/discovery/endpoint.ts';

export const fakeEndpoint = (id: string): Endpoint => ({
  id,
  serviceId: id,
  address: '127.0.0.1',
  port: 1,
  tls: false,
  tags: [],
  meta: {},
});
