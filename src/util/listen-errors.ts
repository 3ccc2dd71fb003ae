// Turns a listener's EADDRINUSE into an AddressInUseError that names the flag which chose the address.
import { AddressInUseError } from '../errors.ts';

export interface FlagAddress {
  readonly option: string;
  readonly host: string;
  readonly port: number;
}

function findErrno(err: unknown, code: string): (NodeJS.ErrnoException & { port?: number }) | undefined {
  // Libraries wrap the socket error; follow `cause` a few levels.
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    if ((e as NodeJS.ErrnoException).code === code) return e;
    e = e.cause;
  }
  return undefined;
}

/** The AddressInUseError for `err` when it is (or wraps) EADDRINUSE on one of `flags`; otherwise undefined. */
export function addressInUse(err: unknown, flags: readonly FlagAddress[], hint: string): AddressInUseError | undefined {
  const errno = findErrno(err, 'EADDRINUSE');
  if (errno === undefined) return undefined;
  const flag = flags.find((f) => f.port !== 0 && f.port === errno.port) ?? flags.find((f) => f.port !== 0);
  if (flag === undefined) return undefined;
  const host = flag.host.includes(':') ? `[${flag.host}]` : flag.host;
  return new AddressInUseError(flag.option, `${host}:${flag.port}`, hint, err);
}
