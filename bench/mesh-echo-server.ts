// Child process for bench/mesh-echo.ts: runs one echo server ('raw', 'minimal' mesh or a real spearlet), prints its port.
import { startMinimalMeshServer, startRawEchoServer } from './raw-echo.ts';
import { Spearlet } from '../src/spearlet/spearlet.ts';

const mode = process.argv[2];
if (mode === 'raw' || mode === 'minimal') {
  const server = mode === 'raw' ? await startRawEchoServer() : await startMinimalMeshServer();
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  process.stdout.write(`port=${address.port}\n`);
} else if (mode === 'mesh') {
  const secret = Buffer.from(process.env.BENCH_SECRET ?? '', 'utf8');
  const spearlet = new Spearlet({
    id: 'bench',
    listen: { host: '127.0.0.1', port: 0 },
    auth: { secret, issuer: 'bench', audience: 'spear-mesh' },
    consul: null,
  });
  await spearlet.start();
  process.stdout.write(`port=${spearlet.tcpAddress?.port ?? 0}\n`);
} else {
  throw new Error(`usage: mesh-echo-server.ts raw|minimal|mesh`);
}
// The parent kills this process when it is done.
