// Token verification cost: createTokenVerifier (node:crypto fast path) against the same verifier with every token
// going through jose, for an HS256 secret and an EdDSA key set, measured with mitata in this process.
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { measure } from 'mitata';
import { buildJwks, generateSigningKeyPair } from '../src/auth/keys.ts';
import { createStaticJwks } from '../src/auth/jwks.ts';
import { mintToken } from '../src/auth/mint.ts';
import { createJoseTokenVerifier, createTokenVerifier, type TokenVerifier } from '../src/auth/verify.ts';

export interface VerifyBenchRow {
  readonly alg: 'HS256' | 'EdDSA';
  /** Mean microseconds per verify() (awaited), fast path and jose only. */
  readonly fastUs: number;
  readonly joseUs: number;
  readonly speedup: number;
}

async function perCallUs(v: TokenVerifier, token: string): Promise<number> {
  await v.verify(token);
  const stats = await measure(() => v.verify(token), { min_cpu_time: 300e6 });
  return Math.round(stats.avg / 10) / 100;
}

export async function runVerifyBench(): Promise<VerifyBenchRow[]> {
  const claims = { sub: 'bench', iss: 'bench', aud: 'spear-mesh', expiresInSec: 3600 };
  const common = { issuer: 'bench', audience: 'spear-mesh' };
  const secret = randomBytes(32);
  const pair = await generateSigningKeyPair('EdDSA');
  const jwks = createStaticJwks(buildJwks([pair.publicJwk]));
  const cases = [
    { alg: 'HS256' as const, options: { ...common, secret }, token: await mintToken({ ...claims, secret }) },
    {
      alg: 'EdDSA' as const,
      options: { ...common, jwks },
      token: await mintToken({ ...claims, privateKey: pair.privateJwk }),
    },
  ];
  const rows: VerifyBenchRow[] = [];
  for (const c of cases) {
    const fastUs = await perCallUs(createTokenVerifier(c.options), c.token);
    const joseUs = await perCallUs(createJoseTokenVerifier(c.options), c.token);
    rows.push({ alg: c.alg, fastUs, joseUs, speedup: Math.round((joseUs / fastUs) * 10) / 10 });
  }
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await runVerifyBench()) {
    process.stdout.write(`${r.alg}: fast path ${r.fastUs} us, jose ${r.joseUs} us per verification (${r.speedup}x)\n`);
  }
}
