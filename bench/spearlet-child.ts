// Child process for the benchmarks: one spearlet configured from BENCH_SPEARLET (JSON: HS256 secret or a JWKS,
// limits, heartbeats); prints `ready <{pid, port, socketPath}>` and runs until killed.
import type { JSONWebKeySet } from 'jose';
import { createStaticJwks } from '../src/auth/jwks.ts';
import { Spearlet } from '../src/spearlet/spearlet.ts';
import type { BenchSpearletConfig } from './lib/spearlet-process.ts';

const cfg = JSON.parse(process.env.BENCH_SPEARLET ?? '{}') as BenchSpearletConfig;
const auth =
  cfg.jwks !== undefined
    ? { jwks: createStaticJwks(cfg.jwks as JSONWebKeySet), issuer: cfg.issuer, audience: cfg.audience }
    : { secret: Buffer.from(cfg.secret ?? '', 'utf8'), issuer: cfg.issuer, audience: cfg.audience };
const spearlet = new Spearlet({
  id: cfg.id,
  listen: { host: '127.0.0.1', port: 0 },
  ...(cfg.socketPath !== undefined ? { socketPath: cfg.socketPath } : {}),
  auth,
  consul: null,
  ...(cfg.heartbeatMs !== undefined ? { heartbeatMs: cfg.heartbeatMs } : {}),
  ...(cfg.heartbeatTimeoutMs !== undefined ? { heartbeatTimeoutMs: cfg.heartbeatTimeoutMs } : {}),
  ...(cfg.maxConnections !== undefined ? { maxConnections: cfg.maxConnections } : {}),
  ...(cfg.maxConnectionsPerAgent !== undefined ? { maxConnectionsPerAgent: cfg.maxConnectionsPerAgent } : {}),
});
await spearlet.start();
process.stdout.write(
  `ready ${JSON.stringify({ pid: process.pid, port: spearlet.tcpAddress?.port ?? 0, socketPath: spearlet.socketPath ?? null })}\n`,
);
// Exit at once on SIGTERM (nothing to drain in a benchmark); a --cpu-prof profile is written on the way out.
process.on('SIGTERM', () => {
  process.exit(0);
});
