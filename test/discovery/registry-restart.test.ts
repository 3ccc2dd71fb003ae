// The dev registry stops and comes back empty while three spearlet processes keep running: a ConsulResolver watching
// it never publishes a smaller set (before the fix it published an empty one, and MeshClient dropped every
// connection for ~500 ms), and it picks up the re-registered spearlets.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LocalMesh } from '../../src/localmesh/local-mesh.ts';
import { createConsulClient } from '../../src/registry/consul-client.ts';
import { ConsulResolver } from '../../src/discovery/consul-resolver.ts';
import type { Endpoint } from '../../src/discovery/endpoint.ts';

function waitFor(resolver: ConsulResolver, pred: (e: readonly Endpoint[]) => boolean, what: string): Promise<void> {
  if (pred(resolver.current())) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`timed out waiting for ${what}`));
    }, 60_000);
    const on = (e: readonly Endpoint[]): void => {
      if (!pred(e)) return;
      clearTimeout(timer);
      resolver.off('update', on);
      resolve();
    };
    resolver.on('update', on);
  });
}

async function until(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 60_000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('ConsulResolver across a registry restart', () => {
  it('holds the last set while the registry is down and while it comes back empty', async (t) => {
    const mesh = await LocalMesh.start({ spearlets: 3 });
    t.after(() => mesh.close());
    const consul = createConsulClient({ addr: mesh.consulAddr });
    t.after(() => {
      consul.close();
    });
    const resolver = new ConsulResolver({ consul, waitMs: 2000, retry: { initialMs: 50, maxMs: 200 } });
    t.after(() => resolver.close());
    const sizes: number[] = [];
    resolver.on('update', (e) => sizes.push(e.length));
    resolver.start();
    await waitFor(resolver, (e) => e.length === 3, 'three passing spearlets');
    const ports = resolver.current().map((e) => e.port);
    sizes.length = 0; // from here on, every published set must hold all three

    await mesh.stopRegistry();
    await until(() => resolver.state === 'stale', 'the watch to fail');
    await mesh.restartRegistry();
    // Wait until the new registry has all three again (they re-register on their own) and the watch saw it.
    const fresh = createConsulClient({ addr: mesh.consulAddr });
    t.after(() => {
      fresh.close();
    });
    for (;;) {
      const { entries } = await fresh.healthService('spearlet', { passing: true });
      if (entries.length === 3) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await waitFor(resolver, () => resolver.state === 'ready', 'the watch to resume');
    assert.ok(
      sizes.every((n) => n === 3),
      `published set sizes ${sizes.join(', ')}`,
    );
    assert.deepEqual(
      resolver
        .current()
        .map((e) => e.port)
        .sort(),
      [...ports].sort(),
    );
  });
});
