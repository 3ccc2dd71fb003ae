import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { endpointFromHealthEntry, sameEndpointSet, sortEndpoints } from '../../src/discovery/endpoint.ts';
import { TokenBucket } from '../../src/discovery/token-bucket.ts';
import type { HealthServiceEntry } from '../../src/registry/consul-client.ts';

function entry(svc: Partial<HealthServiceEntry['Service']>, nodeAddress = '10.0.0.1'): HealthServiceEntry {
  return {
    Node: { Node: 'n', Address: nodeAddress },
    Service: { ID: 'spearlet-x', Service: 'spearlet', Tags: [], Address: '', Port: 7000, Meta: {}, ...svc },
    Checks: [],
  };
}

describe('endpointFromHealthEntry', () => {
  it('prefers Service.Address and falls back to Node.Address', () => {
    assert.equal(endpointFromHealthEntry(entry({ Address: '10.9.0.1' }))!.address, '10.9.0.1');
    assert.equal(endpointFromHealthEntry(entry({}))!.address, '10.0.0.1');
  });

  it('skips entries nobody could dial, but keeps socket-only ones', () => {
    assert.equal(endpointFromHealthEntry(entry({}, '')), undefined);
    assert.equal(endpointFromHealthEntry(entry({ Port: 0 })), undefined);
    const sock = endpointFromHealthEntry(entry({ Port: 0, Meta: { socket: '/run/x.sock' } }, ''));
    assert.equal(sock?.socketPath, '/run/x.sock');
  });

  it('compares sets by content, not identity or order', () => {
    const a = endpointFromHealthEntry(entry({ ID: 'a', Meta: { spearlet_id: 'a', version: '1' } }))!;
    const b = endpointFromHealthEntry(entry({ ID: 'b' }))!;
    const a2 = endpointFromHealthEntry(entry({ ID: 'a', Meta: { version: '1', spearlet_id: 'a' } }))!;
    const a3 = endpointFromHealthEntry(entry({ ID: 'a', Meta: { spearlet_id: 'a', version: '2' } }))!;
    assert.ok(sameEndpointSet(sortEndpoints([a, b]), sortEndpoints([b, a2])));
    assert.ok(!sameEndpointSet(sortEndpoints([a, b]), sortEndpoints([b, a3])));
    assert.ok(!sameEndpointSet([a], [a, b]));
  });
});

describe('TokenBucket', () => {
  it('allows a burst, then one token per interval', () => {
    let now = 0;
    const b = new TokenBucket({ intervalMs: 100, burst: 2, now: () => now });
    assert.equal(b.delayMs(), 0);
    void b.take();
    void b.take();
    assert.equal(b.delayMs(), 100);
    now = 50;
    assert.equal(b.delayMs(), 50);
    now = 100;
    assert.equal(b.delayMs(), 0);
    now = 10_000;
    void b.take();
    void b.take();
    assert.equal(b.delayMs(), 100, 'never more than the burst saved up');
  });

  it('stops waiting when aborted', async () => {
    const b = new TokenBucket({ intervalMs: 60_000, burst: 1 });
    await b.take();
    const ac = new AbortController();
    const p = b.take(ac.signal);
    ac.abort();
    await assert.rejects(p, (e: unknown) => e instanceof Error && e.name === 'AbortError');
  });
});
