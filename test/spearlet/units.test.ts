import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { advertiseAddress, firstRoutableIPv4, isWildcardHost } from '../../src/spearlet/address.ts';
import { resolveSpearletOptions, type SpearletOptions } from '../../src/spearlet/options.ts';
import { HandlerRegistry, abortableSleep, parseSleepMs, resultBytes } from '../../src/spearlet/handlers.ts';
import { ConfigError, MeshError } from '../../src/errors.ts';
import { secretFromBytes } from '../../src/auth/secret.ts';
import { parseHostPort, mergeEnv, envName } from '../../src/cli/commands/spearlet.ts';
import { parseDurationSec } from '../../src/cli/commands/token.ts';
import { SECRET } from './fixture.ts';

const base: SpearletOptions = { id: 's1', auth: { secret: SECRET, issuer: 'i', audience: 'a' }, consul: null };

function configError(fn: () => unknown, option: string): void {
  assert.throws(fn, (err: unknown) => err instanceof ConfigError && err.option === option);
}

describe('spearlet units', () => {
  it('advertises a routable address for wildcard listeners', () => {
    assert.equal(isWildcardHost('0.0.0.0'), true);
    assert.equal(isWildcardHost('127.0.0.1'), false);
    assert.equal(advertiseAddress('10.1.2.3'), '10.1.2.3');
    assert.equal(advertiseAddress('0.0.0.0', 'spearlet-1.internal'), 'spearlet-1.internal');
    const fake = {
      lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true, netmask: '', mac: '', cidr: null }],
      eth0: [
        { address: 'fe80::1', family: 'IPv6', internal: false, netmask: '', mac: '', cidr: null, scopeid: 0 },
        { address: '192.0.2.10', family: 'IPv4', internal: false, netmask: '', mac: '', cidr: null },
      ],
    } as unknown as Parameters<typeof firstRoutableIPv4>[0];
    assert.equal(firstRoutableIPv4(fake), '192.0.2.10');
    assert.equal(firstRoutableIPv4({}), '127.0.0.1');
  });

  it('validates options and names the bad one', () => {
    const o = resolveSpearletOptions(base);
    assert.equal(o.heartbeatMs, 1000);
    assert.equal(o.heartbeatTimeoutMs, 3000);
    assert.equal(o.handshakeTimeoutMs, 5000);
    assert.deepEqual(o.listen, { host: '127.0.0.1', port: 0 });
    assert.ok(Object.isFrozen(o));
    configError(() => resolveSpearletOptions({ ...base, id: 'bad id' }), 'id');
    configError(() => resolveSpearletOptions({ ...base, heartbeatMs: 0 }), 'heartbeatMs');
    configError(
      () => resolveSpearletOptions({ ...base, heartbeatMs: 1000, heartbeatTimeoutMs: 900 }),
      'heartbeatTimeoutMs',
    );
    configError(() => resolveSpearletOptions({ ...base, listen: { host: '127.0.0.1', port: 70000 } }), 'listen.port');
    configError(() => resolveSpearletOptions({ ...base, listen: null }), 'listen');
    configError(() => resolveSpearletOptions({ ...base, frobnicate: 1 } as unknown as SpearletOptions), 'frobnicate');
    assert.equal(resolveSpearletOptions({ ...base, heartbeatMs: 2000 }).heartbeatTimeoutMs, 6000);
  });

  it('sleep bodies, results and the registry', async () => {
    assert.equal(parseSleepMs(Buffer.from('{"ms": 25}')), 25);
    assert.equal(parseSleepMs(Buffer.from(' 40 ')), 40);
    assert.throws(() => parseSleepMs(Buffer.from('-1')), MeshError);
    assert.throws(() => parseSleepMs(Buffer.from('{"ms": "x"}')), MeshError);
    assert.deepEqual(resultBytes(undefined), new Uint8Array(0));
    assert.deepEqual(Buffer.from(resultBytes('hé')), Buffer.from('hé'));
    assert.throws(() => resultBytes(42), TypeError);
    const ac = new AbortController();
    const p = abortableSleep(10_000, ac.signal);
    ac.abort(new MeshError('CANCELLED', 'stop'));
    await assert.rejects(p, (e: unknown) => e instanceof MeshError && e.code === 'CANCELLED');
    const reg = new HandlerRegistry();
    assert.throws(() => {
      reg.set('bad name', () => undefined);
    }, TypeError);
    reg.set('a.b', () => undefined);
    assert.deepEqual(reg.names(), ['a.b']);
  });

  it('secret files: text drops one trailing newline, binary is kept, short secrets are refused', () => {
    assert.deepEqual(
      Buffer.from(secretFromBytes(Buffer.from('0123456789abcdef-text\n'), 'x')).toString(),
      '0123456789abcdef-text',
    );
    const bin = Buffer.from([...Array.from({ length: 31 }, (_, i) => i * 7), 0x0a]);
    assert.equal(secretFromBytes(bin, 'x').byteLength, 32);
    configError(() => secretFromBytes(Buffer.from('short'), '--token-secret-file'), '--token-secret-file');
  });

  it('CLI parsing helpers', () => {
    assert.deepEqual(parseHostPort('--listen', '0.0.0.0:7000'), { host: '0.0.0.0', port: 7000 });
    assert.deepEqual(parseHostPort('--listen', ':7000'), { host: '127.0.0.1', port: 7000 });
    assert.deepEqual(parseHostPort('--listen', '[::1]:7'), { host: '::1', port: 7 });
    configError(() => parseHostPort('--admin', 'localhost'), '--admin');
    assert.equal(envName('token-secret-file'), 'SPEARLET_TOKEN_SECRET_FILE');
    const merged = mergeEnv({ id: 'flag' }, { SPEARLET_ID: 'env', SPEARLET_ZONE: 'z', SPEARLET_NO_CONSUL: 'true' });
    assert.deepEqual(merged, { id: 'flag', zone: 'z', 'no-consul': true });
    configError(() => mergeEnv({}, { SPEARLET_ENABLE_DRILLS: 'maybe' }), '--enable-drills');
    assert.equal(parseDurationSec('--ttl', '90s'), 90);
    assert.equal(parseDurationSec('--ttl', '2h'), 7200);
    assert.equal(parseDurationSec('--ttl', '45'), 45);
    configError(() => parseDurationSec('--ttl', '1y'), '--ttl');
  });
});
