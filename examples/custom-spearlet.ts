// A spearlet with a custom handler, registered in Consul: agents can call `reverse` on it.
//
//   CONSUL_HTTP_ADDR=http://127.0.0.1:8500 SPEARLET_TOKEN_SECRET_FILE=/path/to/secret node --import tsx examples/custom-spearlet.ts
//
// To join the mesh `npm start` runs, use the secret file it prints (32 random bytes; tokens have issuer spear-local).
// SPEARLET_TOKEN_SECRET may hold the secret itself instead (at least 32 bytes of text).
// Stop it with Ctrl-C: it drains (GOAWAY, in-flight requests finish) and deregisters.
import { readFileSync } from 'node:fs';
import { Spearlet } from 'spear-mesh';

const secretFile = process.env.SPEARLET_TOKEN_SECRET_FILE;
const secret =
  secretFile !== undefined ? readFileSync(secretFile) : Buffer.from(process.env.SPEARLET_TOKEN_SECRET ?? '', 'utf8');
if (secret.length < 32) {
  console.error('set SPEARLET_TOKEN_SECRET_FILE (or SPEARLET_TOKEN_SECRET) to the HS256 secret, at least 32 bytes');
  process.exit(2);
}

const spearlet = new Spearlet({
  id: process.env.SPEARLET_ID ?? 'custom-1',
  zone: 'example',
  listen: { host: '127.0.0.1', port: 0 },
  auth: {
    secret,
    issuer: process.env.SPEARLET_ISSUER ?? 'spear-local',
    audience: process.env.SPEARLET_AUDIENCE ?? 'spear-mesh',
  },
  // Consul from CONSUL_HTTP_ADDR / CONSUL_HTTP_TOKEN.
  tags: ['reverse'],
});

// A handler gets the body, the caller's identity and an AbortSignal (cancel, deadline, drain).
spearlet.handle('reverse', ({ body, agent }) => {
  // Reverse by grapheme, so accents and emoji survive.
  const graphemes = Array.from(new Intl.Segmenter().segment(body.toString('utf8')), (s) => s.segment);
  return `${graphemes.reverse().join('')} (for ${agent})`;
});

await spearlet.start();
const tcp = spearlet.tcpAddress;
console.log(`custom spearlet ${spearlet.id} listening tcp=${tcp?.host}:${tcp?.port}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void spearlet.drain({ timeoutMs: 5000 }).then(() => spearlet.close());
  });
}
