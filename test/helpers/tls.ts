// Test certificates made at test time with the openssl CLI: a throwaway CA, a server certificate for 127.0.0.1 and
// localhost, and a client certificate. Nothing here is committed; the temp directory is removed by `cleanup()`.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestPki {
  readonly dir: string;
  /** PEM contents. */
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** File paths of the same, for CLI flags. */
  readonly files: { caCert: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string };
  cleanup(): Promise<void>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run('openssl', args, { cwd });
}

/** Creates a CA and leaf certificates (EC P-256, valid one day) in a new temp directory. */
export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'spear-pki-'));
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    await openssl(
      ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=spear-test-ca'],
      dir,
    );
    await writeFile(
      join(dir, 'server.ext'),
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
    );
    await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
    for (const [name, cn] of [
      ['server', 'localhost'],
      ['client', 'agent-1'],
    ] as const) {
      await openssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
      await openssl(
        [
          'x509',
          '-req',
          '-in',
          `${name}.csr`,
          '-CA',
          'ca.crt',
          '-CAkey',
          'ca.key',
          '-CAcreateserial',
          '-days',
          '1',
          '-out',
          `${name}.crt`,
          '-extfile',
          `${name}.ext`,
        ],
        dir,
      );
    }
    const files = {
      caCert: join(dir, 'ca.crt'),
      serverCert: join(dir, 'server.crt'),
      serverKey: join(dir, 'server.key'),
      clientCert: join(dir, 'client.crt'),
      clientKey: join(dir, 'client.key'),
    };
    const [caCert, serverCert, serverKey, clientCert, clientKey] = await Promise.all(
      [files.caCert, files.serverCert, files.serverKey, files.clientCert, files.clientKey].map((f) =>
        readFile(f, 'utf8'),
      ),
    );
    return {
      dir,
      caCert: caCert!,
      serverCert: serverCert!,
      serverKey: serverKey!,
      clientCert: clientCert!,
      clientKey: clientKey!,
      files,
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
