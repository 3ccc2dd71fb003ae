// Load for a CPU profile of the request path: one echo side at a fixed in-flight count, its server in this process
// or (with --separate) in a child process.
//   node --cpu-prof --cpu-prof-dir=/abs/prof --import tsx bench/profile.ts [mesh|raw] [tcp|unix] [bytes] [inFlight] [seconds] [--separate] [--idempotent]
// With --separate, BENCH_SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/abs/prof' profiles the server child too (it
// writes its profile when it exits on SIGTERM at the end).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfCpuSplit, procCpuSplit, writeCalls } from './lib/cpu.ts';
import { closedLoop } from './lib/measure.ts';
import {
  connectEchoClient,
  startEchoServer,
  startEchoServerProcess,
  type EchoKind,
  type EchoTransport,
} from './echo/servers.ts';

const separate = process.argv.includes('--separate');
/** Mesh only: requests marked idempotent (with stall detection on, the default, each attempt carries the move signal). */
const idempotent = process.argv.includes('--idempotent');
const [kind = 'mesh', transport = 'tcp', bytes = '64', inFlight = '16', seconds = '5'] = process.argv
  .slice(2)
  .filter((a) => !a.startsWith('--'));
const dir = await mkdtemp(join(tmpdir(), 'spear-prof-'));
const secret = randomBytes(16).toString('hex');
const cfg = {
  kind: kind as EchoKind,
  transport: transport as EchoTransport,
  secret,
  socketPath: join(dir, 'echo.sock'),
};
const server = separate ? await startEchoServerProcess(cfg) : await startEchoServer(cfg);
const client = await connectEchoClient(server.endpoint, secret, { idempotent });
const payload = randomBytes(Number(bytes));
const pid = server.pid;
const none = { userUs: 0, systemUs: 0 };
const c0 = selfCpuSplit();
const s0 = pid === undefined ? none : procCpuSplit(pid);
const cw0 = writeCalls();
const sw0 = pid === undefined ? 0 : writeCalls(pid);
const run = await closedLoop(() => client.request(payload), Number(inFlight), Number(seconds) * 1000);
const cw1 = writeCalls();
const sw1 = pid === undefined ? 0 : writeCalls(pid);
const c1 = selfCpuSplit();
const s1 = pid === undefined ? none : procCpuSplit(pid);
const perWrite = (writes: number): string => (writes > 0 ? (run.done / writes).toFixed(1) : '-');
const per = (a: number, b: number): number => (b - a) / run.done;
const clientUser = per(c0.userUs, c1.userUs);
const clientSys = per(c0.systemUs, c1.systemUs);
const serverUser = per(s0.userUs, s1.userUs);
const serverSys = per(s0.systemUs, s1.systemUs);
const clientUs = clientUser + clientSys;
const serverUs = serverUser + serverSys;
process.stdout.write(
  `${kind} ${transport} ${bytes} B x${inFlight}${idempotent ? ' idempotent' : ''}${separate ? ' (server in a child process)' : ''}: ${Math.round((run.done * 1000) / run.elapsedMs)} req/s, ` +
    `CPU per request ${(clientUs + serverUs).toFixed(2)} us (client ${clientUs.toFixed(2)} = user ${clientUser.toFixed(2)} + ` +
    `system ${clientSys.toFixed(2)}; server ${serverUs.toFixed(2)} = user ${serverUser.toFixed(2)} + system ${serverSys.toFixed(2)}); ` +
    `busy: client ${((c1.userUs + c1.systemUs - c0.userUs - c0.systemUs) / (run.elapsedMs * 10)).toFixed(0)}%, ` +
    `server ${((s1.userUs + s1.systemUs - s0.userUs - s0.systemUs) / (run.elapsedMs * 10)).toFixed(0)}% of a core; ` +
    `requests per write: client ${perWrite(cw1 - cw0)}, server ${perWrite(sw1 - sw0)}\n`,
);
await client.close();
await server.close();
await rm(dir, { recursive: true, force: true });
