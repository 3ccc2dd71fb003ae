// Load for a CPU profile of the request path: one echo side (in this process) at a fixed in-flight count.
//   node --cpu-prof --cpu-prof-dir=.tmp/prof --import tsx bench/profile.ts [mesh|raw] [tcp|unix] [bytes] [inFlight] [seconds]
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { throughput } from './lib/measure.ts';
import { connectEchoClient, startEchoServer, type EchoKind, type EchoTransport } from './echo/servers.ts';

const [kind = 'mesh', transport = 'tcp', bytes = '64', inFlight = '16', seconds = '5'] = process.argv.slice(2);
const dir = await mkdtemp(join(tmpdir(), 'spear-prof-'));
const secret = randomBytes(16).toString('hex');
const server = await startEchoServer({ kind: kind as EchoKind, transport: transport as EchoTransport, secret, socketPath: join(dir, 'echo.sock') });
const client = await connectEchoClient(server.endpoint, secret);
const payload = randomBytes(Number(bytes));
const rate = await throughput(() => client.request(payload), Number(inFlight), Number(seconds) * 1000);
process.stdout.write(`${kind} ${transport} ${bytes} B x${inFlight}: ${Math.round(rate)} req/s\n`);
await client.close();
await server.close();
await rm(dir, { recursive: true, force: true });
