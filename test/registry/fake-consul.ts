// A scriptable HTTP server standing in for Consul in unit tests: records every request, replies as the test says.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface FakeReply {
  status?: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings as text/plain unless a content-type header is given. */
  body?: string | object;
  /** Drop the connection without answering. */
  destroy?: boolean;
}

export type FakeHandler = (req: FakeRequest) => FakeReply | Promise<FakeReply>;

export interface FakeConsul {
  readonly addr: string;
  readonly port: number;
  readonly requests: FakeRequest[];
  handler: FakeHandler;
  /** Resolves when a request matching `pred` arrives (or has arrived). */
  waitForRequest(pred: (r: FakeRequest) => boolean, timeoutMs?: number): Promise<FakeRequest>;
  close(): Promise<void>;
}

export async function startFakeConsul(handler: FakeHandler = () => ({})): Promise<FakeConsul> {
  const requests: FakeRequest[] = [];
  const waiters: { pred: (r: FakeRequest) => boolean; resolve: (r: FakeRequest) => void }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const r: FakeRequest = {
        method: req.method ?? '',
        path: decodeURIComponent(url.pathname),
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(r);
      for (const w of [...waiters]) {
        if (w.pred(r)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(r);
        }
      }
      void Promise.resolve(fake.handler(r)).then((reply) => {
        if (reply.destroy === true) {
          req.socket.destroy();
          return;
        }
        const headers: Record<string, string> = { ...reply.headers };
        let body = '';
        if (typeof reply.body === 'string') {
          body = reply.body;
          headers['content-type'] ??= 'text/plain; charset=utf-8';
        } else if (reply.body !== undefined) {
          body = JSON.stringify(reply.body);
          headers['content-type'] ??= 'application/json';
        }
        res.writeHead(reply.status ?? 200, headers);
        res.end(body);
      });
    });
  });
  server.keepAliveTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const fake: FakeConsul = {
    addr: `http://127.0.0.1:${port}`,
    port,
    requests,
    handler,
    waitForRequest(pred, timeoutMs = 10_000) {
      const found = requests.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error('timed out waiting for a matching request'));
        }, timeoutMs);
        waiters.push({
          pred,
          resolve: (r) => {
            clearTimeout(timer);
            resolve(r);
          },
        });
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
  return fake;
}

/** A health/service entry as Consul renders it. */
export function healthEntry(o: {
  id: string;
  service?: string;
  address?: string;
  nodeAddress?: string;
  port?: number;
  tags?: string[];
  meta?: Record<string, string>;
}): object {
  return {
    Node: {
      ID: 'n1',
      Node: 'node-1',
      Address: o.nodeAddress ?? '10.0.0.1',
      Datacenter: 'dc1',
      TaggedAddresses: {},
      Meta: {},
    },
    Service: {
      ID: o.id,
      Service: o.service ?? 'spearlet',
      Tags: o.tags ?? [],
      Address: o.address ?? '',
      Meta: o.meta ?? {},
      Port: o.port ?? 7000,
      Weights: { Passing: 1, Warning: 1 },
    },
    Checks: [
      {
        Node: 'node-1',
        CheckID: 'serfHealth',
        Name: 'Serf Health Status',
        Status: 'passing',
        ServiceID: '',
        ServiceName: '',
      },
    ],
  };
}
