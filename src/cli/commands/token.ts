// `spear-mesh token`: mint JWTs from a shared secret or a private JWK, and generate key pairs with a JWKS.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { JSONWebKeySet, JWK } from 'jose';
import { ConfigError, MeshError } from '../../errors.ts';
import { mintToken } from '../../auth/mint.ts';
import { readSecretFile, secretFromBytes } from '../../auth/secret.ts';
import { buildJwks, generateSigningKeyPair, isSigningAlgorithm } from '../../auth/keys.ts';
import { parseJwks } from '../../auth/jwks.ts';

const USAGE = `Usage:
  spear-mesh token mint (--secret-file FILE | --key PRIVATE.jwk [--kid K]) --sub SUB --iss ISS --aud AUD [options]
  spear-mesh token keygen [--alg EdDSA|ES256|RS256] [--kid K] --out DIR

mint prints a signed JWT on stdout.
  --secret-file FILE   HS256 shared secret (or SPEAR_TOKEN_SECRET holding the secret itself)
  --key FILE           private JWK (from keygen); alg and kid come from the key unless given
  --alg ALG            override the algorithm
  --kid K              override the key id
  --sub SUB            the agent id (required)
  --iss ISS            issuer (required)
  --aud AUD            audience (required; comma-separated for several)
  --ttl DURATION       lifetime: 90s, 15m, 1h, 7d or seconds (default 1h)
  --nbf DURATION       not valid before now + DURATION
  --scope LIST         allowed methods, comma or space separated ('*', 'task.*', 'echo')
  --spearlets LIST     spearlet ids the token may connect to
  --zones LIST         zones the token may connect to

keygen writes DIR/<kid>.private.jwk (mode 0600; keep it secret) and adds the public key to DIR/jwks.json
(created if missing), so running it again during a rotation leaves both keys in the set. Prints the kid.
`;

export function parseDurationSec(option: string, value: string): number {
  const m = /^(\d+)(s|m|h|d)?$/.exec(value.trim());
  if (m === null) throw new ConfigError(option, `must be a duration like 90s, 15m, 1h or 7d, got '${value}'`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = unit === 'd' ? 86_400 : unit === 'h' ? 3600 : unit === 'm' ? 60 : 1;
  return n * factor;
}

function list(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

async function readJson(option: string, path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(option, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ConfigError(option, `${path} is not JSON`);
  }
}

async function mint(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      'secret-file': { type: 'string' },
      key: { type: 'string' },
      alg: { type: 'string' },
      kid: { type: 'string' },
      sub: { type: 'string' },
      iss: { type: 'string' },
      aud: { type: 'string' },
      ttl: { type: 'string' },
      nbf: { type: 'string' },
      scope: { type: 'string' },
      spearlets: { type: 'string' },
      zones: { type: 'string' },
    },
  });
  for (const required of ['sub', 'iss', 'aud'] as const) {
    if (values[required] === undefined) throw new ConfigError(`--${required}`, 'is required');
  }
  const envSecret = process.env.SPEAR_TOKEN_SECRET;
  const sources = [
    values['secret-file'],
    values.key,
    envSecret !== undefined && envSecret !== '' ? 'env' : undefined,
  ].filter((x) => x !== undefined);
  if (sources.length !== 1)
    throw new ConfigError('--secret-file', 'give exactly one of --secret-file, --key and SPEAR_TOKEN_SECRET');
  const aud = list(values.aud) ?? [];
  const scope = list(values.scope);
  const spearlets = list(values.spearlets);
  const zones = list(values.zones);
  const common = {
    sub: values.sub ?? '',
    iss: values.iss ?? '',
    aud: aud.length === 1 ? (aud[0] ?? '') : aud,
    expiresInSec: parseDurationSec('--ttl', values.ttl ?? '1h'),
    ...(values.nbf !== undefined ? { notBeforeSec: parseDurationSec('--nbf', values.nbf) } : {}),
    ...(values.alg !== undefined ? { alg: values.alg } : {}),
    ...(values.kid !== undefined ? { kid: values.kid } : {}),
    ...(scope !== undefined ? { scope } : {}),
    ...(spearlets !== undefined ? { spearlets } : {}),
    ...(zones !== undefined ? { zones } : {}),
  };
  let token: string;
  if (values.key !== undefined) {
    const jwk = (await readJson('--key', values.key)) as JWK;
    if (typeof jwk !== 'object' || typeof jwk.d !== 'string') throw new ConfigError('--key', 'must be a private JWK');
    token = await mintToken({ privateKey: jwk, ...common });
  } else {
    const secret =
      values['secret-file'] !== undefined
        ? await readSecretFile(values['secret-file'], '--secret-file')
        : secretFromBytes(Buffer.from(envSecret ?? '', 'utf8'), 'SPEAR_TOKEN_SECRET');
    token = await mintToken({ secret, ...common });
  }
  process.stdout.write(`${token}\n`);
  return 0;
}

async function keygen(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: { alg: { type: 'string' }, kid: { type: 'string' }, out: { type: 'string' } },
  });
  const alg = values.alg ?? 'EdDSA';
  if (!isSigningAlgorithm(alg)) throw new ConfigError('--alg', `must be EdDSA, ES256 or RS256, got '${alg}'`);
  if (values.out === undefined) throw new ConfigError('--out', 'is required');
  if (values.kid !== undefined && !/^[\w.-]{1,128}$/.test(values.kid))
    throw new ConfigError('--kid', 'must be 1-128 of [A-Za-z0-9_.-]');
  const pair = await generateSigningKeyPair(alg, values.kid);
  await mkdir(values.out, { recursive: true });
  const privatePath = join(values.out, `${pair.kid}.private.jwk`);
  await writeFile(privatePath, `${JSON.stringify(pair.privateJwk, null, 2)}\n`, { mode: 0o600, flag: 'wx' }).catch(
    (err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST')
        throw new ConfigError('--kid', `${privatePath} already exists`);
      throw err;
    },
  );
  await chmod(privatePath, 0o600);
  const jwksPath = join(values.out, 'jwks.json');
  let existing: JSONWebKeySet = { keys: [] };
  try {
    existing = parseJwks(JSON.parse(await readFile(jwksPath, 'utf8')), '--out');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw err instanceof MeshError ? err : new ConfigError('--out', `${jwksPath} is not a JWKS`);
  }
  const keys = [...existing.keys.filter((k) => k.kid !== pair.kid), pair.publicJwk];
  await writeFile(jwksPath, `${JSON.stringify(buildJwks(keys), null, 2)}\n`);
  process.stdout.write(`${pair.kid}\n`);
  process.stderr.write(`wrote ${privatePath} (private, keep secret) and ${jwksPath} (${keys.length} public key(s))\n`);
  return 0;
}

export async function run(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(USAGE);
    return sub === undefined ? 2 : 0;
  }
  try {
    if (sub === 'mint') return await mint(rest);
    if (sub === 'keygen') return await keygen(rest);
    process.stderr.write(`spear-mesh token: unknown subcommand '${sub}'\n\n${USAGE}`);
    return 2;
  } catch (err) {
    if (
      err instanceof MeshError ||
      (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))
    ) {
      process.stderr.write(`spear-mesh token ${sub}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
