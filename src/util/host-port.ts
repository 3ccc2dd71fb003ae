// The one HOST:PORT parser: `host:port` or `[v6]:port`; an empty host means loopback where the caller allows it.

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

const HOST_PORT = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/;

/** Parses `s`; undefined when it is not HOST:PORT with a port in [0, 65535]. An empty host is returned as ''. */
export function parseHostPort(s: string): HostPort | undefined {
  const m = HOST_PORT.exec(s);
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port > 65_535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}
