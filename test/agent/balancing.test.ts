// MeshClient routing driven by a scripted resolver and stand-in servers: zones, tags, membership changes, ejection.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { MeshClient } from '../../src/agent/mesh-client.ts';
import type { Endpoint } from '../../src/discovery/endpoint.ts';
import type { Resolver, ResolverEvents, ResolverState } from '../../src/discovery/resolver.ts';
import { StandInServer } from '../conn/stand-in-server.ts';
import { waitFor } from '../helpers/wait-for.ts';

/** A resolver whose endpoint set the test sets by hand. */
class ScriptedResolver extends EventEmitter<ResolverEvents> implements Resolver {
  state: ResolverState = 'idle';
  #eps: readonly Endpoint[] = [];
  current(): readonly Endpoint[] {
    return this.#eps;
  }
  start(): void {
    this.state = 'ready';
  }
  close(): Promise<void> {
    this.state = 'closed';
    return Promise.resolve();
  }
  set(eps: readonly Endpoint[]): void {
    this.#eps = eps;
    this.emit('update', eps);
  }
}

type T = { after: (fn: () => Promise<void>) => void };

async function standIn(t: T, name: string): Promise<StandInServer> {
  const s = new StandInServer();
  await s.listen();
  s.handlers.set('who', () => Buffer.from(name));
  t.after(() => s.close());
  return s;
}

function ep(id: string, port: number, extra: Partial<Endpoint> = {}): Endpoint {
  return { id, serviceId: `spearlet-${id}`, address: '127.0.0.1', port, tls: false, tags: [], meta: {}, ...extra };
}

const until = (cond: () => boolean, what: string): Promise<void> => waitFor(cond, 10_000, what);

async function whoMany(mesh: MeshClient, n: number, opts: { tags?: string[] } = {}): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add((await mesh.request('who', '', opts)).toString());
  return seen;
}

describe('MeshClient routing', () => {
  it('prefers its zone, falls back to other zones when the local spearlet is gone, and filters by tags', async (t) => {
    const a = await standIn(t, 'a');
    const b = await standIn(t, 'b');
    const c = await standIn(t, 'c');
    const resolver = new ScriptedResolver();
    const all = [
      ep('a', a.port, { zone: 'z1', tags: ['gpu'] }),
      ep('b', b.port, { zone: 'z2' }),
      ep('c', c.port, { zone: 'z2', tags: ['gpu'] }),
    ];
    resolver.set(all);
    const mesh = await MeshClient.connect({ resolver, token: 't', zone: 'z1', policy: 'round-robin', closeGraceMs: 0 });
    t.after(() => mesh.close());
    await until(() => mesh.stats().endpoints.filter((e) => e.state === 'READY').length === 3, 'three READY');
    assert.deepEqual([...(await whoMany(mesh, 6))], ['a']);
    assert.deepEqual([...(await whoMany(mesh, 6, { tags: ['gpu'] }))], ['a']);
    resolver.set(all.slice(1));
    assert.deepEqual([...(await whoMany(mesh, 8))].sort(), ['b', 'c']);
    assert.deepEqual([...(await whoMany(mesh, 4, { tags: ['gpu'] }))], ['c']);
    assert.equal(mesh.stats().failed, 0);
  });

  it('lets in-flight requests finish on a removed endpoint while new ones go elsewhere, and uses a new endpoint at once', async (t) => {
    const a = await standIn(t, 'a');
    const b = await standIn(t, 'b');
    let release: (() => void) | undefined;
    a.handlers.set(
      'slow',
      () =>
        new Promise<Buffer>(
          (resolve) =>
            (release = () => {
              resolve(Buffer.from('finished on a'));
            }),
        ),
    );
    const resolver = new ScriptedResolver();
    resolver.set([ep('a', a.port)]);
    const mesh = await MeshClient.connect({ resolver, token: 't', closeGraceMs: 0 });
    t.after(() => mesh.close());
    const slow = mesh.request('slow', '');
    await until(() => release !== undefined, 'slow request to arrive');
    resolver.set([ep('b', b.port)]);
    await until(() => mesh.stats().endpoints.some((e) => e.id === 'b' && e.state === 'READY'), 'b READY');
    assert.deepEqual([...(await whoMany(mesh, 5))], ['b']);
    release!();
    assert.equal((await slow).toString(), 'finished on a');
    assert.deepEqual(
      mesh.stats().endpoints.map((e) => e.id),
      ['b'],
    );
  });

  it('ejects an endpoint that keeps failing to connect and never fails a request because of it', async (t) => {
    const a = await standIn(t, 'a');
    const b = await standIn(t, 'b');
    const dead = await standIn(t, 'dead');
    const deadPort = dead.port;
    await dead.close();
    const resolver = new ScriptedResolver();
    resolver.set([ep('a', a.port), ep('b', b.port), ep('dead', deadPort)]);
    const mesh = await MeshClient.connect({
      resolver,
      token: 't',
      closeGraceMs: 0,
      reconnectBackoff: { initialMs: 10, maxMs: 20 },
      outlier: { consecutiveFailures: 3, baseEjectionMs: 60_000, maxEjectionMs: 60_000 },
    });
    t.after(() => mesh.close());
    await until(() => mesh.stats().endpoints.find((e) => e.id === 'dead')?.ejected === true, 'dead endpoint ejected');
    assert.deepEqual([...(await whoMany(mesh, 10))].sort(), ['a', 'b']);
    assert.equal(mesh.stats().failed, 0);
    assert.equal(mesh.stats().endpoints.filter((e) => e.ejected).length, 1);
  });

  it('pins a request to one spearlet id, waiting for it rather than moving elsewhere', async (t) => {
    const a = await standIn(t, 'a');
    const b = await standIn(t, 'b');
    const resolver = new ScriptedResolver();
    resolver.set([ep('a', a.port), ep('b', b.port)]);
    const mesh = await MeshClient.connect({ resolver, token: 't', policy: 'round-robin', closeGraceMs: 0 });
    t.after(() => mesh.close());
    await until(() => mesh.stats().endpoints.filter((e) => e.state === 'READY').length === 2, 'two READY');
    for (let i = 0; i < 4; i++) assert.equal((await mesh.request('who', '', { spearletId: 'b' })).toString(), 'b');
    const late = await standIn(t, 'late');
    const pinned = mesh.request('who', '', { spearletId: 'late', deadlineMs: 10_000 });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(mesh.stats().queued, 1);
    resolver.set([ep('a', a.port), ep('b', b.port), ep('late', late.port)]);
    assert.equal((await pinned).toString(), 'late');
    await assert.rejects(mesh.request('who', '', { spearletId: 'nobody', deadlineMs: 100 }), {
      code: 'NO_SPEARLET_AVAILABLE',
    });
  });
});
