import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InboundRequests } from '../../src/spearlet/inbound-requests.ts';
import { DeadlineSweep } from '../../src/spearlet/deadline-sweep.ts';
import { HandlerRegistry } from '../../src/spearlet/handlers.ts';
import { SpearletMetrics } from '../../src/metrics/spearlet-metrics.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { MessageKind, Status, decodeMessage, type RequestMessage, type ResponseMessage } from '../../src/wire/index.ts';

/** A table on a fake clock: the sweep is never started as a timer here, the test calls tick(now) itself. */
function table(): {
  inbound: InboundRequests<string>;
  sweep: DeadlineSweep;
  sent: ResponseMessage[];
  metrics: SpearletMetrics;
  settled: () => number;
} {
  const sent: ResponseMessage[] = [];
  const sweep = new DeadlineSweep(1_000_000, () => 0);
  const metrics = new SpearletMetrics({ spearlet: 's1' });
  let settled = 0;
  const inbound = new InboundRequests<string>({
    send: (frame) => {
      sent.push(decodeMessage(frame.subarray(8)) as ResponseMessage);
    },
    sendInPlace: (frame) => {
      const bytes = Buffer.alloc(frame.size);
      frame.encodeInto(bytes, 0);
      sent.push(decodeMessage(bytes.subarray(8)) as ResponseMessage);
    },
    metrics,
    handlers: new HandlerRegistry<string>(),
    deadlines: sweep,
    logger: () => silentLogger(),
    settled: () => {
      settled++;
    },
  });
  return { inbound, sweep, sent, metrics, settled: () => settled };
}

const request = (id: bigint, deadlineMs = 0, method = 'm'): RequestMessage => ({
  kind: MessageKind.REQUEST,
  flags: 0,
  id,
  deadlineMs,
  method,
  body: Buffer.from('hi'),
});

describe('InboundRequests', () => {
  it('answers a handler that returns a value before run() returns (no promise, no microtask)', () => {
    const { inbound, sent, settled, sweep } = table();
    inbound.run(request(1n), 0, (req) => req.body, 'session', 'agent');
    assert.deepEqual(
      sent.map((m) => [m.status, m.body.toString()]),
      [[Status.OK, 'hi']],
    );
    assert.equal(inbound.size, 0);
    assert.equal(settled(), 1);
    assert.equal(sweep.watching, 0, 'no deadline, so the sweep is not involved');
    sweep.close();
  });

  it('keeps synchronous answers out of the table, the in-flight gauge and the deadline sweep; promises go in', async () => {
    const { inbound, sent, sweep, metrics, settled } = table();
    const seen: [number, number][] = [];
    inbound.run(
      request(1n, 50),
      0,
      (req) => {
        seen.push([inbound.size, metrics.inFlight.value]);
        return req.body;
      },
      's',
      'a',
    );
    assert.deepEqual(seen, [[0, 0]], 'a synchronous handler runs outside the table');
    assert.equal(sweep.watching, 0, 'its deadline needs no sweep: it was answered before run() returned');
    assert.equal(inbound.has(1n), false);
    let finish: (v: Buffer) => void = () => undefined;
    inbound.run(request(2n, 50), 0, () => new Promise<Buffer>((r) => (finish = r)), 's', 'a');
    assert.equal(inbound.size, 1);
    assert.equal(inbound.has(2n), true);
    assert.equal(metrics.inFlight.value, 1);
    assert.equal(sweep.watching, 1);
    finish(Buffer.from('later'));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      sent.map((m) => [m.id, m.status, m.body.toString()]),
      [
        [1n, Status.OK, 'hi'],
        [2n, Status.OK, 'later'],
      ],
    );
    assert.equal(inbound.size, 0);
    assert.equal(metrics.inFlight.value, 0, 'the gauge is back to zero: no decrement without an increment');
    assert.equal(settled(), 2);
    sweep.close();
  });

  it('counts requests and durations per method and status when methods alternate (the cached counters follow)', async () => {
    const { inbound, metrics, sweep } = table();
    const ok = (req: { body: Buffer }): Buffer => req.body;
    const fail = (): never => {
      throw new Error('no');
    };
    const calls: [string, typeof ok | typeof fail][] = [
      ['m', ok],
      ['m', ok],
      ['n', ok],
      ['m', fail],
      ['m', ok],
      ['n', fail],
    ];
    calls.forEach(([method, handler], i) => {
      inbound.run(request(BigInt(i + 1), 0, method), 0, handler, 's', 'a');
    });
    const text = await metrics.registry.metrics();
    const value = (line: string): number => {
      const found = text.split('\n').find((l) => l.startsWith(line + ' '));
      assert.ok(found !== undefined, `no line ${line} in\n${text}`);
      return Number(found.slice(line.length + 1));
    };
    const failed = String(Status.INTERNAL);
    assert.equal(value('spear_mesh_requests_total{method="m",status="0",spearlet="s1"}'), 3);
    assert.equal(value(`spear_mesh_requests_total{method="m",status="${failed}",spearlet="s1"}`), 1);
    assert.equal(value('spear_mesh_requests_total{method="n",status="0",spearlet="s1"}'), 1);
    assert.equal(value(`spear_mesh_requests_total{method="n",status="${failed}",spearlet="s1"}`), 1);
    assert.equal(value('spear_mesh_request_duration_seconds_count{spearlet="s1",method="m"}'), 4);
    assert.equal(value('spear_mesh_request_duration_seconds_count{spearlet="s1",method="n"}'), 2);
    sweep.close();
  });

  it('times the synchronous answers of one held chunk together, at its release; others one by one', async () => {
    const { inbound, metrics, sweep } = table();
    const durations = metrics.requestDuration.series('m');
    inbound.run(request(1n), performance.now(), (req) => req.body, 's', 'a');
    assert.equal(durations.count, 1, 'not held: timed at once');
    const receivedAt = performance.now() - 20;
    inbound.holdTimings();
    for (let i = 2; i <= 4; i++) inbound.run(request(BigInt(i)), receivedAt, (req) => req.body, 's', 'a');
    assert.equal(durations.count, 1, 'held: not timed yet');
    inbound.releaseTimings();
    assert.equal(durations.count, 4);
    const before = durations.sum;
    // An answer given later (a promise) is timed when it is given, on its own, held or not.
    inbound.holdTimings();
    let finish: (v: Buffer) => void = () => undefined;
    inbound.run(request(5n), performance.now(), () => new Promise<Buffer>((r) => (finish = r)), 's', 'a');
    finish(Buffer.from('later'));
    await new Promise((r) => setImmediate(r));
    assert.equal(durations.count, 5);
    // A new receipt time or another method closes the batch at once.
    inbound.run(request(6n), performance.now() - 1000, (req) => req.body, 's', 'a');
    inbound.run(request(7n), performance.now(), (req) => req.body, 's', 'a');
    assert.equal(durations.count, 6, 'the request received a second ago was timed when the next one came');
    assert.ok(durations.sum - before >= 1, 'and it took at least that second');
    inbound.run(request(8n, 0, 'n'), performance.now(), (req) => req.body, 's', 'a');
    assert.equal(durations.count, 7, "a request of another method closes the first one's batch");
    inbound.releaseTimings();
    assert.equal(metrics.requestDuration.series('n').count, 1);
    assert.ok(before >= 3 * 0.02 && before < 10, `the held three took at least 20 ms each: ${before} s in all`);
    sweep.close();
  });

  it('turns a synchronous throw and a bad return value into HANDLER_ERROR responses', () => {
    const { inbound, sent, sweep } = table();
    inbound.run(
      request(1n),
      0,
      () => {
        throw new Error('boom');
      },
      's',
      'a',
    );
    inbound.run(request(2n), 0, () => 42 as unknown as string, 's', 'a');
    assert.deepEqual(
      sent.map((m) => [m.id, m.status]),
      [
        [1n, Status.INTERNAL],
        [2n, Status.INTERNAL],
      ],
    );
    assert.equal(inbound.size, 0);
    sweep.close();
  });

  it('expires deadlines on the coarse sweep: one watch for many requests, DEADLINE_EXCEEDED, signal aborted', async () => {
    const { inbound, sent, sweep } = table();
    const signals: AbortSignal[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    for (let i = 1n; i <= 3n; i++) {
      inbound.run(
        request(i, i === 3n ? 500 : 100),
        1000,
        async (req) => {
          signals.push(req.signal);
          await gate;
          return 'late';
        },
        's',
        'a',
      );
    }
    assert.equal(sweep.watching, 1, 'the table is watched once, whatever the number of requests');
    sweep.tick(1099);
    assert.equal(sent.length, 0, 'not due yet');
    sweep.tick(1100);
    assert.deepEqual(
      sent.map((m) => [m.id, m.status]),
      [
        [1n, Status.DEADLINE],
        [2n, Status.DEADLINE],
      ],
    );
    assert.deepEqual(
      signals.map((s) => s.aborted),
      [true, true, false],
    );
    assert.equal(sweep.watching, 1, 'request 3 still has a deadline');
    sweep.tick(1500);
    assert.equal(sent.length, 3);
    assert.equal(sweep.watching, 0, 'nothing left to expire: the sweep stops watching');
    release();
    await gate;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(sent.length, 3, 'the handlers finished late: their results are dropped');
    assert.equal(inbound.size, 0);
    sweep.close();
  });
});
