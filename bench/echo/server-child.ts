// Child process for the echo benchmarks: starts one echo server from BENCH_ECHO_SERVER (JSON) and prints
// `ready <endpoint JSON>`; exits on SIGTERM or when the parent goes away (its stdin pipe closes).
import { startEchoServer, type EchoServerConfig } from './servers.ts';

// Exit at once (nothing to drain in a benchmark); a --cpu-prof profile is written on the way out.
process.on('SIGTERM', () => {
  process.exit(0);
});
process.stdin.on('end', () => {
  process.exit(0);
});
process.stdin.resume();

const cfg = JSON.parse(process.env.BENCH_ECHO_SERVER ?? '{}') as EchoServerConfig;
const server = await startEchoServer(cfg);
process.stdout.write(`ready ${JSON.stringify(server.endpoint)}\n`);
