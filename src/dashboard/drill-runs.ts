// Drill runs for the dashboard, read from a directory of drill JSON reports (`spear-mesh drill --report DIR/x.json`).
// Read-only by design: the dashboard never starts a drill and accepts no uploads; a drill run from the CLI against
// the same mesh appears as soon as its report file is written.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DrillReport } from '../drill/report.ts';
import { renderDrillSvg } from '../drill/svg-chart.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.json$/;
const MAX_REPORT_BYTES = 8 * 1024 * 1024;
const MAX_RUNS = 200;

export interface DrillRunSummary {
  readonly name: string;
  readonly modifiedAt: string;
  readonly fault: string;
  readonly target: string;
  readonly passed: boolean;
  readonly sent: number;
  readonly failed: number;
  readonly lost: number;
  readonly detectionMs: number | null;
  readonly recoveryMs: number;
}

function isReport(v: unknown): v is DrillReport {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.fault === 'string' &&
    typeof r.target === 'string' &&
    typeof r.sent === 'number' &&
    typeof r.failed === 'number' &&
    typeof r.lost === 'number' &&
    typeof r.passed === 'boolean' &&
    typeof r.durationMs === 'number' &&
    Array.isArray(r.timeline)
  );
}

export class DrillRuns {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  get dir(): string {
    return this.#dir;
  }

  /** The newest reports first; files that are not drill reports are skipped. A missing directory lists nothing. */
  async list(): Promise<DrillRunSummary[]> {
    let names: string[];
    try {
      names = (await readdir(this.#dir)).filter((n) => NAME.test(n));
    } catch {
      return [];
    }
    const runs = await Promise.all(
      names.map(async (name) => {
        const loaded = await this.#load(name);
        if (loaded === null) return null;
        const { report: r, mtime } = loaded;
        const summary: DrillRunSummary = {
          name: name.slice(0, -'.json'.length),
          modifiedAt: mtime.toISOString(),
          fault: r.fault,
          target: r.target,
          passed: r.passed,
          sent: r.sent,
          failed: r.failed,
          lost: r.lost,
          detectionMs: r.detectionMs,
          recoveryMs: r.recoveryMs,
        };
        return summary;
      }),
    );
    return runs
      .filter((r): r is DrillRunSummary => r !== null)
      .sort((a, b) => (a.modifiedAt < b.modifiedAt ? 1 : a.modifiedAt > b.modifiedAt ? -1 : 0))
      .slice(0, MAX_RUNS);
  }

  /** One report by name (without `.json`), or null. */
  async get(name: string): Promise<DrillReport | null> {
    return (await this.#load(`${name}.json`))?.report ?? null;
  }

  /** The report's SVG chart (the one `drill --chart` writes), or null. */
  async chart(name: string): Promise<string | null> {
    const report = await this.get(name);
    return report === null ? null : renderDrillSvg(report);
  }

  async #load(file: string): Promise<{ report: DrillReport; mtime: Date } | null> {
    if (!NAME.test(file)) return null;
    const path = join(this.#dir, file);
    try {
      const st = await stat(path);
      if (!st.isFile() || st.size > MAX_REPORT_BYTES) return null;
      const parsed = JSON.parse(await readFile(path, 'utf8')) as unknown;
      return isReport(parsed) ? { report: parsed, mtime: st.mtime } : null;
    } catch {
      return null;
    }
  }
}
