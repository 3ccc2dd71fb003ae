// /v1/status/*: the single dev server is always the leader and the only peer.
import type { RegistryState } from './context.ts';
import { json, type Endpoint } from './http.ts';

export function statusRoutes(state: RegistryState): Endpoint[] {
  const self = `${state.address}:8300`;
  return [
    { pattern: '/v1/status/leader', methods: ['GET'], public: true, handler: () => json(self) },
    { pattern: '/v1/status/peers', methods: ['GET'], public: true, handler: () => json([self]) },
  ];
}
