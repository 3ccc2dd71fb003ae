// Child process for the echo benchmarks: starts one echo server from BENCH_ECHO_SERVER (JSON) and prints
// `ready <endpoint JSON>`; the parent kills it when done.
import { startEchoServer, type EchoServerConfig } from './servers.ts';

const cfg = JSON.parse(process.env.BENCH_ECHO_SERVER ?? '{}') as EchoServerConfig;
const server = await startEchoServer(cfg);
process.stdout.write(`ready ${JSON.stringify(server.endpoint)}\n`);
