// The drill report and chart from synthetic outcomes (pure functions: no processes needed).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildReport, formatReport } from '../../src/drill/report.ts';
import { renderDrillSvg } from '../../src/drill/svg-chart.ts';
import type { RequestOutcome } from '../../src/drill/steady-load.ts';

/** One fast successful request every 10 ms from 0 to `endMs`, plus any extra outcomes. */
function steady(endMs: number, extra: RequestOutcome[] = []): RequestOutcome[] {
  const out: RequestOutcome[] = [];
  for (let t = 0, seq = 0; t < endMs; t += 10, seq++) out.push({ seq, startMs: t, endMs: t + 1, ok: true, code: null });
  return [...out, ...extra.map((o, i) => ({ ...o, seq: 100_000 + i }))];
}

const base = {
  target: 's1',
  ratePerSec: 100,
  durationMs: 1050,
  faultAtMs: 500,
  detectedAtMs: undefined,
  retried: 0,
  duplicated: 0,
};

describe('drill report', () => {
  it('draws whole buckets only: no partial last bucket reading as a drop', () => {
    const outcomes = steady(1050);
    const r = buildReport({ ...base, fault: 'registry-down', healedAtMs: 700, sent: outcomes.length, outcomes });
    assert.equal(r.timeline.length, 10, '1050 ms = 10 whole buckets of 100 ms');
    assert.ok(
      r.timeline.every((p) => p.ok === 10),
      r.timeline.map((p) => p.ok).join(' '),
    );
  });

  it('shows no recovery and no empty "during" phase for a fault that disturbed nothing', () => {
    const outcomes = steady(1000);
    const r = buildReport({ ...base, fault: 'kill', healedAtMs: undefined, sent: outcomes.length, outcomes });
    assert.equal(r.latency.during.count, 0);
    const text = formatReport(r);
    assert.doesNotMatch(text, /during +n=0/);
    assert.match(text, /recovery +none needed/);
    assert.doesNotMatch(text, /recovery +0\.0ms/);
  });

  it('shows recovery and the during phase when requests failed', () => {
    const failed: RequestOutcome = { seq: 0, startMs: 510, endMs: 600, ok: false, code: 'SPEARLET_LOST' };
    const outcomes = steady(1000, [failed]);
    const r = buildReport({ ...base, fault: 'kill', healedAtMs: undefined, sent: outcomes.length, outcomes });
    const text = formatReport(r);
    assert.match(text, /recovery +100\.0ms/);
    assert.match(text, /during +n=\d+/);
  });

  it('labels the chart y-axis', () => {
    const outcomes = steady(1000);
    const r = buildReport({ ...base, fault: 'kill', healedAtMs: undefined, sent: outcomes.length, outcomes });
    assert.match(renderDrillSvg(r), />requests per 100 ms</);
  });

  it('throughput: successes per second during the fault against before it', () => {
    // Steady 100/s, but during the fault (500-700 ms) every other request fails.
    const outcomes = steady(1050).map((o) =>
      o.endMs >= 500 && o.endMs < 700 && o.seq % 2 === 0 ? { ...o, ok: false, code: 'HANDLER_ERROR' } : o,
    );
    const r = buildReport({ ...base, fault: 'error', healedAtMs: 700, sent: outcomes.length, outcomes });
    assert.equal(Math.round(r.throughput.healthyPerSec ?? 0), 100);
    assert.equal(Math.round(r.throughput.faultPerSec ?? 0), 50);
    assert.equal(r.throughput.ratio, (r.throughput.faultPerSec ?? 0) / (r.throughput.healthyPerSec ?? 1));
  });
});
