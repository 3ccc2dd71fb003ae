// User events, from Consul's Events API documentation (https://developer.hashicorp.com/consul/api-docs/event)
// and its agent's event endpoint. Checked against the documentation and source only, not a live agent here:
// the index derived from the newest event's ID, the filters an agent applies to itself, and the error texts.
// On a real agent an event reaches the list through gossip, so list checks wait for it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { devOnly, openTarget, raw, uniq, waitFor, type Target } from './target.ts';

let t: Target;
before(async () => {
  t = await openTarget();
});
after(async () => {
  await t.close();
});

interface UserEvent {
  ID: string;
  Name: string;
  Payload: string | null;
  NodeFilter: string;
  ServiceFilter: string;
  TagFilter: string;
  Version: number;
  LTime: number;
}

/** Consul's uuidToUint64, written from its description: high 64 bits of the UUID XOR low 64 bits. */
function indexOfId(id: string): bigint {
  const hex = id.replace(/-/g, '');
  return BigInt(`0x${hex.slice(0, 16)}`) ^ BigInt(`0x${hex.slice(16)}`);
}

async function listed(name: string): Promise<{ events: UserEvent[]; index: string }> {
  const r = await raw(t, 'GET', `/v1/event/list?name=${encodeURIComponent(name)}`);
  assert.equal(r.status, 200, r.text);
  return { events: r.json<UserEvent[]>(), index: r.headers.get('x-consul-index') ?? '' };
}

describe('events', () => {
  it('fire through the consul client answers the event with Version 1 and LTime 0', async () => {
    const name = uniq('ev');
    const e = (await t.consul.event.fire(name, 'hello')) as unknown as UserEvent & { Payload: string };
    assert.match(e.ID, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(e.Name, name);
    assert.equal(e.Payload, 'hello', 'the client decodes the base64 payload');
    assert.equal(e.NodeFilter, '');
    assert.equal(e.ServiceFilter, '');
    assert.equal(e.TagFilter, '');
    assert.equal(e.Version, 1);
    assert.equal(e.LTime, 0);
  });

  it('raw fire: the body is the payload (base64 in JSON), no body is a null payload, filters echo back', async () => {
    const name = uniq('ev');
    const r = await raw(t, 'PUT', `/v1/event/fire/${name}?node=${encodeURIComponent('.*')}`, 'p');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /application\/json/);
    const e = r.json<UserEvent>();
    assert.equal(e.Payload, Buffer.from('p').toString('base64'));
    assert.equal(e.NodeFilter, '.*');
    const none = (await raw(t, 'PUT', `/v1/event/fire/${name}`)).json<UserEvent>();
    assert.equal(none.Payload, null);
  });

  it('list filters by name, keeps fire order, increases LTime, and its index comes from the newest ID', async () => {
    const name = uniq('ev');
    const first = (await raw(t, 'PUT', `/v1/event/fire/${name}`, 'one')).json<UserEvent>();
    const second = (await raw(t, 'PUT', `/v1/event/fire/${name}`, 'two')).json<UserEvent>();
    await waitFor(async () => (await listed(name)).events.length === 2);
    const { events, index } = await listed(name);
    assert.deepEqual(
      events.map((e) => e.ID),
      [first.ID, second.ID],
    );
    assert.ok((events[1]?.LTime ?? 0) > (events[0]?.LTime ?? 0));
    assert.equal(events[0]?.Payload, Buffer.from('one').toString('base64'));
    assert.equal(index, indexOfId(second.ID).toString());
    const list = (await t.consul.event.list(name)) as unknown as UserEvent[];
    assert.deepEqual(
      list.map((e) => e.Payload),
      ['one', 'two'],
    );
  });

  it('an empty list is [] with X-Consul-Index 1', async () => {
    const { events, index } = await listed(uniq('never-fired'));
    assert.deepEqual(events, []);
    assert.equal(index, '1');
  });

  it('a blocking list returns when an event arrives, and on timeout with the same index', async () => {
    const name = uniq('ev');
    await raw(t, 'PUT', `/v1/event/fire/${name}`, 'a');
    await waitFor(async () => (await listed(name)).events.length === 1);
    const { index } = await listed(name);
    const timedOut = await raw(t, 'GET', `/v1/event/list?name=${name}&index=${index}&wait=50ms`);
    assert.equal(timedOut.headers.get('x-consul-index'), index);
    const blocked = raw(t, 'GET', `/v1/event/list?name=${name}&index=${index}&wait=30s`);
    const fired = (await raw(t, 'PUT', `/v1/event/fire/${name}`, 'b')).json<UserEvent>();
    const r = await blocked;
    assert.equal(r.headers.get('x-consul-index'), indexOfId(fired.ID).toString());
    assert.equal(r.json<UserEvent[]>().length, 2);
  });

  it('an event for another node is not kept by this agent', async () => {
    const name = uniq('ev');
    const r = await raw(t, 'PUT', `/v1/event/fire/${name}?node=${encodeURIComponent('^no-such-node$')}`);
    assert.equal(r.status, 200);
    const marker = uniq('ev');
    await raw(t, 'PUT', `/v1/event/fire/${marker}`);
    await waitFor(async () => (await listed(marker)).events.length === 1);
    assert.deepEqual((await listed(name)).events, []);
  });

  it('bad requests: missing name 400, tag without service 500, bad index 400, wrong method 405', async () => {
    const missing = await raw(t, 'PUT', '/v1/event/fire/');
    assert.equal(missing.status, 400);
    assert.equal(missing.text, 'Missing name');
    const tag = await raw(t, 'PUT', '/v1/event/fire/x?tag=a');
    assert.equal(tag.status, 500);
    assert.equal(tag.text, 'Cannot provide tag filter without service filter');
    const badRe = await raw(t, 'PUT', `/v1/event/fire/x?node=${encodeURIComponent('(')}`);
    assert.equal(badRe.status, 500);
    assert.match(badRe.text, /^Invalid node filter: /);
    assert.equal((await raw(t, 'GET', '/v1/event/list?index=x')).status, 400);
    assert.equal((await raw(t, 'GET', '/v1/event/fire/x')).status, 405);
    assert.equal((await raw(t, 'PUT', '/v1/event/list')).status, 405);
  });

  it('the list keeps the last 256 events (dev registry: the agent buffer size)', devOnly, async () => {
    const name = uniq('ev');
    for (let i = 0; i < 260; i++) await raw(t, 'PUT', `/v1/event/fire/${name}`, String(i));
    const { events } = await listed(name);
    assert.equal(events.length, 256);
    assert.equal(events[0]?.Payload, Buffer.from('4').toString('base64'));
  });
});
