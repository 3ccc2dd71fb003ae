// The `up` status display: redraws in place on a terminal, prints one plain line per interval otherwise.
import type { SpearletStatus } from './mesh-status.ts';
import { formatStatusTable } from './mesh-status.ts';
import type { WindowSnapshot } from '../util/latency-window.ts';

export interface LiveFrame {
  readonly uptimeSec: number;
  readonly consul: string;
  readonly spearlets: readonly SpearletStatus[];
  readonly agent: WindowSnapshot & {
    readonly ratePerSec: number;
    readonly totalSent: number;
    readonly totalFailed: number;
  };
}

const ms = (v: number | null): string => (v === null ? '-' : `${v.toFixed(1)}ms`);

export function renderPlainLine(frame: LiveFrame): string {
  const passing = frame.spearlets.filter((s) => s.health === 'passing').length;
  const sessions = frame.spearlets.reduce((n, s) => n + (s.sessions ?? 0), 0);
  const a = frame.agent;
  return (
    `t=${frame.uptimeSec}s spearlets=${passing}/${frame.spearlets.length} passing sessions=${sessions} ` +
    `req/s=${a.ratePerSec.toFixed(0)} errors=${a.errors} p50=${ms(a.p50Ms)} p99=${ms(a.p99Ms)} ` +
    `sent=${a.totalSent} failed=${a.totalFailed}\n`
  );
}

export function renderScreen(frame: LiveFrame): string {
  const a = frame.agent;
  return [
    `spear-mesh local mesh   up ${frame.uptimeSec}s   consul ${frame.consul}`,
    '',
    formatStatusTable(frame.spearlets).trimEnd(),
    '',
    `demo agent  req/s ${a.ratePerSec.toFixed(0).padStart(5)}   errors ${String(a.errors).padStart(4)}   ` +
      `p50 ${ms(a.p50Ms).padStart(8)}   p99 ${ms(a.p99Ms).padStart(8)}   sent ${a.totalSent}   failed ${a.totalFailed}`,
    '',
    'Ctrl-C drains every spearlet and exits.',
    '',
  ].join('\n');
}

/** Writes frames to a stream: in place on a TTY (cursor up and clear), appended otherwise. */
export class LiveView {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  #lastLines = 0;

  constructor(out: NodeJS.WriteStream, tty = out.isTTY) {
    this.#out = out;
    this.#tty = tty;
  }

  draw(frame: LiveFrame): void {
    if (!this.#tty) {
      this.#out.write(renderPlainLine(frame));
      return;
    }
    const text = renderScreen(frame);
    const up = this.#lastLines > 0 ? `\x1b[${this.#lastLines}F\x1b[J` : '';
    this.#out.write(up + text);
    this.#lastLines = text.split('\n').length - 1;
  }
}
