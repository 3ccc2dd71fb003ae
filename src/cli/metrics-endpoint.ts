// A loopback-only GET /metrics for long-running CLI agents (`call --metrics-port`): the MeshClient's client-side
// metrics in Prometheus text format. Host names other than IP literals and localhost get 403 (DNS rebinding).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { hostOf, isAddressLiteral } from '../util/host-origin.ts';

export interface MetricsEndpoint {
  readonly url: string;
  close(): Promise<void>;
}

export async function serveMetrics(registry: Registry, port: number, host = '127.0.0.1'): Promise<MetricsEndpoint> {
  const server: Server = createServer((req, res) => {
    const name = hostOf(req.headers.host ?? '');
    if (name === undefined || !isAddressLiteral(name)) {
      res.writeHead(403).end('Host header not allowed\n');
      return;
    }
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end('only GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(`${err instanceof Error ? err.message : String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${addr.port}/metrics`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
