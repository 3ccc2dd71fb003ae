// A dependency-free SVG chart of a drill: successful requests per bucket as a line, failures as red bars,
// the fault window shaded.
import type { DrillReport } from './report.ts';

const W = 800;
const H = 300;
const PAD = { left: 50, right: 20, top: 30, bottom: 40 };

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderDrillSvg(report: DrillReport): string {
  const points = report.timeline;
  const maxT = Math.max(1, report.durationMs);
  const bucketMs = points.length > 1 ? (points[1]?.tMs ?? 100) - (points[0]?.tMs ?? 0) : 100;
  const maxY = Math.max(1, ...points.map((p) => Math.max(p.ok, p.failed)));
  const x = (t: number): number => PAD.left + (t / maxT) * (W - PAD.left - PAD.right);
  const y = (v: number): number => H - PAD.bottom - (v / maxY) * (H - PAD.top - PAD.bottom);
  const okPath = points
    .map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.tMs + bucketMs / 2).toFixed(1)},${y(p.ok).toFixed(1)}`)
    .join(' ');
  const barW = Math.max(1, x(bucketMs) - x(0) - 1);
  const bars = points
    .filter((p) => p.failed > 0)
    .map(
      (p) =>
        `<rect x="${x(p.tMs).toFixed(1)}" y="${y(p.failed).toFixed(1)}" width="${barW.toFixed(1)}" height="${(H - PAD.bottom - y(p.failed)).toFixed(1)}" fill="#d33"/>`,
    )
    .join('');
  const faultX = x(report.faultAtMs);
  const recoverX = x(report.faultAtMs + report.recoveryMs);
  const ticks = Array.from({ length: 6 }, (_, i) => (maxT * i) / 5)
    .map(
      (t) =>
        `<text x="${x(t).toFixed(1)}" y="${H - PAD.bottom + 18}" font-size="11" text-anchor="middle">${(t / 1000).toFixed(1)}s</text>`,
    )
    .join('');
  const title = esc(
    `drill ${report.fault} on ${report.target}: sent ${report.sent}, failed ${report.failed}, lost ${report.lost}, retried ${report.retried}`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${PAD.left}" y="18" font-size="13">${title}</text>`,
    `<rect x="${faultX.toFixed(1)}" y="${PAD.top}" width="${Math.max(1, recoverX - faultX).toFixed(1)}" height="${H - PAD.top - PAD.bottom}" fill="#fe9" opacity="0.5"/>`,
    `<line x1="${faultX.toFixed(1)}" y1="${PAD.top}" x2="${faultX.toFixed(1)}" y2="${H - PAD.bottom}" stroke="#a60" stroke-dasharray="4"/>`,
    `<line x1="${PAD.left}" y1="${H - PAD.bottom}" x2="${W - PAD.right}" y2="${H - PAD.bottom}" stroke="#333"/>`,
    `<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${H - PAD.bottom}" stroke="#333"/>`,
    `<text x="${PAD.left - 6}" y="${PAD.top + 4}" font-size="11" text-anchor="end">${maxY}</text>`,
    `<text x="${PAD.left - 6}" y="${H - PAD.bottom}" font-size="11" text-anchor="end">0</text>`,
    `<text x="14" y="${(PAD.top + H - PAD.bottom) / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 14 ${(PAD.top + H - PAD.bottom) / 2})">requests per ${bucketMs} ms</text>`,
    ticks,
    bars,
    `<path d="${okPath}" fill="none" stroke="#2a7" stroke-width="1.5"/>`,
    `<text x="${W - PAD.right}" y="${H - 8}" font-size="11" text-anchor="end">green: ok per ${bucketMs} ms, red: failed, yellow: fault to recovery</text>`,
    '</svg>',
    '',
  ].join('\n');
}
