// The `flap` drill fault: one spearlet's health in Consul flips between passing and critical every second, by turning
// Consul service maintenance (an extra critical check) on and off. The spearlet itself keeps serving throughout.
import { createConsulClient } from '../registry/consul-client.ts';
import type { ConsulOptionsInput } from '../registry/consul-options.ts';
import { spearletServiceId } from '../registry/spearlet-service.ts';

export const FLAP_PERIOD_MS = 1000;

export class Flapper {
  readonly #consul;
  readonly #serviceId: string;
  #timer: NodeJS.Timeout | undefined;
  #critical = false;
  #chain: Promise<void> = Promise.resolve();

  /** `consul` must be the Consul agent the spearlet registered with (agent endpoints act on the local agent). */
  constructor(consul: ConsulOptionsInput, spearletId: string) {
    this.#consul = createConsulClient(consul);
    this.#serviceId = spearletServiceId(spearletId);
  }

  /** Goes critical now, then flips every FLAP_PERIOD_MS until stop(). */
  async start(): Promise<void> {
    await this.#flip();
    this.#timer = setInterval(() => {
      void this.#flip();
    }, FLAP_PERIOD_MS);
  }

  #flip(): Promise<void> {
    this.#critical = !this.#critical;
    const enable = this.#critical;
    this.#chain = this.#chain
      .then(() => this.#consul.setServiceMaintenance(this.#serviceId, enable, 'drill: flap'))
      .catch(() => undefined);
    return this.#chain;
  }

  /** Stops flipping and leaves the spearlet passing. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#critical = false;
    this.#chain = this.#chain
      .then(() => this.#consul.setServiceMaintenance(this.#serviceId, false))
      .catch(() => undefined);
    await this.#chain;
    this.#consul.close();
  }
}
