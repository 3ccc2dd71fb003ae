// A session's logger, built only when a line is actually written: most sessions never log below info, and a pino
// child per connection showed in the handshake profile.
import { randomFillSync } from 'node:crypto';
import type { Logger } from '../util/logger.ts';

export class SessionLog {
  readonly #parent: Logger;
  readonly #connId: string;
  #agent: string | undefined;
  #child: Logger | undefined;

  constructor(parent: Logger, connId: string) {
    this.#parent = parent;
    this.#connId = connId;
  }

  /** The child logger (connId, and agent once known), created on first use. */
  get log(): Logger {
    this.#child ??= this.#parent.child(
      this.#agent === undefined ? { connId: this.#connId } : { connId: this.#connId, agent: this.#agent },
    );
    return this.#child;
  }

  /** Whether a line at `level` would be written: check before building one. */
  enabled(level: 'debug' | 'info'): boolean {
    return this.#parent.isLevelEnabled(level);
  }

  /** Later lines carry the agent (the token's sub). */
  setAgent(agent: string): void {
    this.#agent = agent;
    this.#child = undefined;
  }
}

/** Session ids: 8 random bytes in hex, cut from a pooled random buffer (one getrandom per 512 sessions). */
const ID_POOL = Buffer.allocUnsafe(4096);
let idOffset = ID_POOL.length;

export function newSessionId(): string {
  if (idOffset + 8 > ID_POOL.length) {
    randomFillSync(ID_POOL);
    idOffset = 0;
  }
  const id = ID_POOL.toString('hex', idOffset, idOffset + 8);
  idOffset += 8;
  return id;
}
