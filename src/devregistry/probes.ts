// The probes behind HTTP and TCP checks: one attempt each, answering Consul's status and output text.
import { connect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { STATUS_CODES } from 'node:http';
import type { HealthStatus } from './types.ts';

export interface ProbeResult {
  status: HealthStatus;
  output: string;
}

export interface HttpProbe {
  url: string;
  method: string;
  header: Record<string, string[]>;
  body: string;
  timeoutMs: number;
  tlsSkipVerify: boolean;
  outputMaxSize: number;
}

/** Consul's CheckHTTP: 2xx passing, 429 warning, anything else (or a transport error) critical. */
export function probeHttp(p: HttpProbe): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(p.url);
    } catch (err) {
      resolve({
        status: 'critical',
        output: `parse ${JSON.stringify(p.url)}: ${err instanceof Error ? err.message : String(err)}`,
      });
      return;
    }
    const method = p.method === '' ? 'GET' : p.method;
    const headers: Record<string, string | string[]> = {
      'User-Agent': 'Consul Health Check',
      Accept: 'text/plain, text/*, */*',
    };
    for (const [k, v] of Object.entries(p.header)) headers[k] = v;
    const fn = url.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    const finish = (r: ProbeResult): void => {
      if (settled) return;
      settled = true;
      resolve(r);
    };
    const req = fn(
      url,
      { method, headers, timeout: p.timeoutMs, rejectUnauthorized: !p.tlsSkipVerify, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < p.outputMaxSize) chunks.push(c);
          size += c.length;
        });
        res.on('end', () => {
          const body = Buffer.concat(chunks).subarray(0, p.outputMaxSize).toString('utf8');
          const code = res.statusCode ?? 0;
          const output = `HTTP ${method} ${p.url}: ${code} ${res.statusMessage ?? STATUS_CODES[code] ?? ''} Output: ${body}`;
          const status: HealthStatus = code >= 200 && code <= 299 ? 'passing' : code === 429 ? 'warning' : 'critical';
          finish({ status, output });
        });
        res.on('error', (err) => {
          finish({ status: 'critical', output: err.message });
        });
      },
    );
    req.on('timeout', () => {
      req.destroy(
        new Error(`Get "${p.url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`),
      );
    });
    req.on('error', (err) => {
      finish({ status: 'critical', output: err.message });
    });
    req.end(p.body === '' ? undefined : p.body);
  });
}

/** Consul's CheckTCP: a connect that succeeds within the timeout is passing. */
export function probeTcp(address: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(address);
    if (m === null) {
      resolve({ status: 'critical', output: `dial tcp ${address}: missing port in address` });
      return;
    }
    const sock = connect({ host: m[1], port: Number(m[2]) });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ status: 'critical', output: `dial tcp ${address}: i/o timeout` });
    }, timeoutMs);
    timer.unref();
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ status: 'passing', output: `TCP connect ${address}: Success` });
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const reason = err.code === 'ECONNREFUSED' ? 'connect: connection refused' : err.message;
      resolve({ status: 'critical', output: `dial tcp ${address}: ${reason}` });
    });
  });
}
