// Connection states and the transitions the guarded state machine allows between them.

export const ConnState = {
  IDLE: 'IDLE',
  CONNECTING: 'CONNECTING',
  READY: 'READY',
  /** GOAWAY received (or closing gracefully): in-flight requests finish, no new ones are written. */
  DRAINING: 'DRAINING',
  /** Lost or failed to connect; a reconnect is scheduled with backoff unless reconnecting is off. */
  TRANSIENT_FAILURE: 'TRANSIENT_FAILURE',
  /** Terminal: closed by its owner. */
  CLOSED: 'CLOSED',
} as const;
export type ConnState = (typeof ConnState)[keyof typeof ConnState];

const ALLOWED: Readonly<Record<ConnState, readonly ConnState[]>> = {
  IDLE: ['CONNECTING', 'CLOSED'],
  CONNECTING: ['READY', 'TRANSIENT_FAILURE', 'CLOSED'],
  READY: ['DRAINING', 'TRANSIENT_FAILURE', 'CLOSED'],
  DRAINING: ['TRANSIENT_FAILURE', 'CLOSED'],
  TRANSIENT_FAILURE: ['CONNECTING', 'CLOSED'],
  CLOSED: [],
};

/** True when the state machine may move from `from` to `to`. */
export function canTransition(from: ConnState, to: ConnState): boolean {
  return ALLOWED[from].includes(to);
}
