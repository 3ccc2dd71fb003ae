// Many idempotent requests in flight on one spearlet share its move signal (one abort listener each): Node must not
// warn about a listener leak (MaxListenersExceededWarning), which it did past 10 concurrent requests.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MeshClient } from '../../src/agent/mesh-client.ts';
import { startSpearlet, tcp, token } from '../spearlet/fixture.ts';

describe('the move signal of an endpoint', () => {
  it('takes 40 concurrent idempotent requests on one spearlet without a MaxListenersExceededWarning', async (t) => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(`${w.name}: ${w.message}`);
    };
    process.on('warning', onWarning);
    t.after(() => process.off('warning', onWarning));
    const s = await startSpearlet(t);
    const mesh = await MeshClient.connect({
      endpoints: [`127.0.0.1:${String(tcp(s).port)}`],
      tokenProvider: () => token(),
      maxConnectionsPerSpearlet: 1,
      closeGraceMs: 0,
    });
    t.after(() => mesh.close());
    const body = JSON.stringify({ ms: 50 });
    await Promise.all(
      Array.from({ length: 40 }, () => mesh.request('sleep', body, { idempotent: true, deadlineMs: 5000 })),
    );
    // Warnings are emitted on a later tick: let one pass before looking.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')),
      [],
    );
  });
});
