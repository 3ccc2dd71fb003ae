import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { HeartbeatMonitor } from '../../src/protocol/heartbeat.ts';
import { RequestTable, type PendingRequest } from '../../src/protocol/request-table.ts';

describe('HeartbeatMonitor', () => {
  it('pings after an idle interval, stays quiet while sending, and declares the peer dead after the timeout', () => {
    const hb = new HeartbeatMonitor();
    hb.reset(100, 300, 0);
    const verdicts: string[] = [];
    for (let now = 50; now <= 450; now += 50) {
      if (now <= 200) hb.markSent(); // busy sending until 200: no PING needed
      if (now === 150) hb.markReceived();
      verdicts.push(`${now}:${hb.check(now)}`);
    }
    // last receipt seen at 150, so dead from 450; idle since 200, so a PING at 300 and again at 400
    assert.deepEqual(verdicts, [
      '50:ok',
      '100:ok',
      '150:ok',
      '200:ok',
      '250:ok',
      '300:ping',
      '350:ok',
      '400:ping',
      '450:dead',
    ]);
    assert.equal(hb.silentMs(450), 300);
    assert.deepEqual([hb.nextPingId(), hb.nextPingId()], [1n, 2n]);
  });

  it('after a pause of its own (a check over half the timeout late) counts from then instead of judging the peer', () => {
    const hb = new HeartbeatMonitor();
    hb.reset(100, 300, 0);
    assert.equal(hb.check(50), 'ok');
    // Our process was stopped from 50 to 1050: the peer's frames may be unread in the socket.
    assert.equal(hb.check(1050), 'ok');
    assert.equal(hb.silentMs(1050), 0);
    // On time again, and still nothing from the peer: PINGs, then dead one timeout after the pause.
    const verdicts: string[] = [];
    for (let now = 1100; now <= 1350; now += 50) verdicts.push(`${now}:${hb.check(now)}`);
    assert.deepEqual(verdicts, ['1100:ok', '1150:ping', '1200:ok', '1250:ping', '1300:ok', '1350:dead']);
    // Checks less than half the timeout apart (140 ms of 300) still judge the silence.
    const hb2 = new HeartbeatMonitor();
    hb2.reset(100, 300, 0);
    assert.equal(hb2.check(140), 'ping');
    assert.equal(hb2.check(280), 'ping');
    assert.equal(hb2.check(420), 'dead');
  });
});

describe('RequestTable', () => {
  const entry = (deadlineAt: number, reauth = false): PendingRequest => ({
    method: 'm',
    resolve: () => undefined,
    reject: () => undefined,
    deadlineAt,
    deadlineMs: deadlineAt,
    signal: undefined,
    onAbort: undefined,
    reauth,
  });

  it('counts requests but not REAUTHs, and hands back what crossed a GOAWAY or expired', () => {
    const t = new RequestTable();
    t.add(1, entry(0));
    t.add(2, entry(500));
    t.add(3, entry(0, true));
    t.add(4, entry(200));
    t.add(5, entry(0));
    assert.equal(t.inFlight, 4);
    assert.equal(t.nextDeadlineAt, 200);
    assert.deepEqual(
      t.takeExpired(300).map(([id]) => id),
      [4],
    );
    assert.equal(t.nextDeadlineAt, 500);
    assert.equal(t.takeAbove(3n).length, 1); // request 5 (REAUTH 3 stays)
    assert.equal(t.take(5), undefined);
    assert.equal(t.inFlight, 2);
    assert.equal(t.takeAll().length, 3);
    assert.equal(t.inFlight, 0);
    assert.equal(t.nextDeadlineAt, Infinity);
  });
});

describe('RequestTable deadlines and cancellation', () => {
  it('expires on the coarse tick with DEADLINE_EXCEEDED and a CANCEL per request; cancels with CANCELLED', () => {
    const t = new RequestTable();
    const settled: string[] = [];
    const add = (id: number, deadlineAt: number): void => {
      t.add(id, {
        method: `m${id}`,
        resolve: () => settled.push(`${id}:ok`),
        reject: (err) => settled.push(`${id}:${(err as { code?: string }).code ?? '?'}`),
        deadlineAt,
        deadlineMs: deadlineAt - 1000,
        signal: undefined,
        onAbort: undefined,
        reauth: false,
      });
    };
    add(1, 1100);
    add(2, 1300);
    add(3, 0);
    const cancels: number[] = [];
    t.expire(1050, (id) => cancels.push(id));
    assert.equal(cancels.length, 0, 'nothing before the earliest deadline');
    t.expire(1100, (id) => cancels.push(id));
    assert.deepEqual(cancels, [1]);
    assert.equal(t.nextDeadlineAt, 1300);
    assert.equal(t.cancel(3, 'caller'), true);
    assert.equal(t.cancel(3, 'caller'), false, 'a settled request cannot be cancelled twice');
    t.rejectAll(Object.assign(new Error('gone'), { code: 'SPEARLET_LOST' }));
    assert.deepEqual(settled, ['1:DEADLINE_EXCEEDED', '3:CANCELLED', '2:SPEARLET_LOST']);
    assert.equal(t.inFlight, 0);
  });
});

describe('RequestTable abort signals', () => {
  it('listens once per shared signal, cancels every entry carrying it on abort, and detaches when none is left', () => {
    const cancelled: number[] = [];
    const settled: string[] = [];
    const t = new RequestTable({ onCancelled: (id) => cancelled.push(id) });
    const shared = new AbortController();
    const own = new AbortController();
    const add = (id: number, signal: AbortSignal): void => {
      t.add(id, {
        method: `m${id}`,
        resolve: () => settled.push(`${id}:ok`),
        reject: (err) => settled.push(`${id}:${(err as { code?: string }).code ?? '?'}`),
        deadlineAt: 0,
        deadlineMs: 0,
        signal,
        onAbort: undefined,
        reauth: false,
      });
    };
    add(1, shared.signal);
    add(2, shared.signal);
    add(3, shared.signal);
    add(4, own.signal);
    assert.equal(getEventListeners(shared.signal, 'abort').length, 1, 'one listener for three requests');
    t.take(1)?.resolve(Buffer.alloc(0));
    t.take(4)?.resolve(Buffer.alloc(0));
    assert.equal(getEventListeners(own.signal, 'abort').length, 0, 'detached with its last request');
    assert.equal(getEventListeners(shared.signal, 'abort').length, 1);
    shared.abort('moved');
    assert.deepEqual(cancelled, [2, 3]);
    assert.deepEqual(settled, ['1:ok', '4:ok', '2:CANCELLED', '3:CANCELLED']);
    assert.equal(t.inFlight, 0);
    assert.equal(getEventListeners(shared.signal, 'abort').length, 0);
    own.abort('late');
    assert.deepEqual(cancelled, [2, 3], 'a signal with nothing pending cancels nothing');
  });
});
