// An agent using MeshClient: discovers spearlets through Consul, calls them, and shows where requests went.
//
//   CONSUL_HTTP_ADDR=http://127.0.0.1:8500 SPEAR_TOKEN=... node --import tsx examples/agent.ts
//
// With `npm start` running, both variables are printed at start-up.
import { MeshClient, MeshError } from 'spear-mesh';

const token = process.env.SPEAR_TOKEN;
if (token === undefined) {
  console.error('set SPEAR_TOKEN (npm start prints one)');
  process.exit(2);
}
const count = Number(process.env.EXAMPLE_REQUESTS ?? '20');

// Consul's address comes from CONSUL_HTTP_ADDR (and CONSUL_HTTP_TOKEN when ACLs are on).
await using mesh = await MeshClient.connect({ consul: {}, token, policy: 'least-outstanding' });

const info = JSON.parse((await mesh.request('info', '', { idempotent: true })).toString('utf8')) as {
  spearlet: string;
};
console.log(`connected; first answer from ${info.spearlet}`);

const seen = new Map<string, number>();
for (let i = 0; i < count; i++) {
  try {
    // Idempotent requests may be retried on another spearlet if the one running them dies.
    const answer = await mesh.request('info', '', { idempotent: true, deadlineMs: 2000 });
    const { spearlet } = JSON.parse(answer.toString('utf8')) as { spearlet: string };
    seen.set(spearlet, (seen.get(spearlet) ?? 0) + 1);
  } catch (err) {
    // Every failure is a MeshError with a stable code (docs/errors.md).
    if (err instanceof MeshError) console.error(`request ${i} failed: ${err.code}: ${err.message}`);
    else throw err;
  }
}
const echoed = await mesh.request('echo', 'hello, mesh');
console.log(`echo: ${echoed.toString('utf8')}`);
console.log(`requests per spearlet: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
console.log(`stats: ${JSON.stringify({ ...mesh.stats(), endpoints: undefined })}`);
