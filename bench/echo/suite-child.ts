// Child process for the mesh and peers suites: runs one echo suite (its clients in this process, its servers in
// children of this one) and prints the result as one `result <JSON>` line. `npm run bench` starts it as compiled
// JavaScript, so every client (MeshClient, the raw client, grpc-js, Moleculer) and every server runs plain JavaScript
// alike, as installed packages do; BENCH_RUNTIME=tsx starts it under the tsx loader instead.
import { runMeshVsRawBench, runPeerBench, type EchoBenchOptions } from '../echo-bench.ts';

const [suite = '', json = '{}'] = process.argv.slice(2);
const options = JSON.parse(json) as EchoBenchOptions;
if (suite !== 'mesh' && suite !== 'peers') throw new Error(`usage: suite-child.ts mesh|peers OPTIONS_JSON`);
const result = suite === 'mesh' ? await runMeshVsRawBench(options) : await runPeerBench(options);
process.stdout.write(`result ${JSON.stringify(result)}\n`);
