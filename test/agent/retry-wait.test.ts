// A retried request whose every spearlet is already excluded waits for any usable spearlet, not for one that is
// not excluded (there is none): regression test for requests that hung until their deadline after OVERLOADED.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MeshClient } from '../../src/agent/mesh-client.ts';
import { startSpearlet, tcp, token } from '../spearlet/fixture.ts';

describe('retries that find every spearlet excluded', () => {
  it('wait for the one spearlet to be free again and succeed within their deadline', async (t) => {
    // One spearlet taking 4 requests per session at a time; the client may open 3 connections to it. 12 concurrent
    // requests of 150 ms: those over the per-session limit get OVERLOADED and must be retried on the same spearlet.
    const s = await startSpearlet(t, { maxInFlightPerSession: 4 });
    const mesh = await MeshClient.connect({
      endpoints: [`127.0.0.1:${tcp(s).port}`],
      tokenProvider: () => token(),
      maxConnectionsPerSpearlet: 3,
      retryBudget: { ratio: 1, minRetriesPerSecond: 100 },
      closeGraceMs: 0,
    });
    t.after(() => mesh.close());
    const started = performance.now();
    const body = JSON.stringify({ ms: 150 });
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, () => mesh.request('sleep', body, { idempotent: true, deadlineMs: 5000 })),
    );
    const elapsed = performance.now() - started;
    const failed = results.filter((r) => r.status === 'rejected');
    assert.deepEqual(
      failed.map((r) => String(r.reason)),
      [],
      'every request succeeds',
    );
    // Four rounds of 150 ms at most, well before the 5 s deadline the old code waited for.
    assert.ok(elapsed < 3000, `all done in ${elapsed.toFixed(0)} ms`);
  });
});
