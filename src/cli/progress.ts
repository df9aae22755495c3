/**
 * Live progress: on a TTY a status block redrawn in place (phase, member i of n, roles, the step in
 * progress, the blocking check, ETA) with events scrolling above it; without a TTY, plain lines,
 * one per event, so logs and CI output stay readable.
 */
import type { Snapshot, UpgradeSpec, UpgradeStatus } from '../core/types.js';
import type { RunnerEvent } from '../runner/runner.js';
import { humanDuration, progressLine } from './render.js';

/** Where progress goes. */
export interface ProgressSink {
  write(text: string): void;
  isTTY: boolean;
  columns?: number;
}

/** Renders runner events and statuses for a human watching. */
export class ProgressReporter {
  private blockLines = 0;
  private lastLine = '';
  private lastStatus?: UpgradeStatus;
  private readonly t0: number;

  constructor(
    private readonly out: ProgressSink,
    private readonly now: () => number,
    private readonly opts: { timestamps?: 'relative' | 'none' } = {},
  ) {
    this.t0 = now();
  }

  private stamp(at: number): string {
    if (this.opts.timestamps === 'none') return '';
    return `[+${((at - this.t0) / 1000).toFixed(1).padStart(6)}s] `;
  }

  private clearBlock(): void {
    if (!this.out.isTTY || this.blockLines === 0) return;
    this.out.write(`\x1b[${this.blockLines}A\x1b[0J`);
    this.blockLines = 0;
  }

  /** A runner event: scrolls above the live block (TTY) or prints a line. */
  event(e: RunnerEvent): void {
    this.clearBlock();
    const mark = e.type === 'Warning' ? '! ' : '  ';
    this.out.write(`${this.stamp(e.at)}${mark}${e.message}\n`);
    if (this.out.isTTY && this.lastStatus) this.drawBlock(this.lastStatus);
  }

  /** A new status: redraw the block (TTY) or print the progress line when it changed. */
  status(status: UpgradeStatus, _spec?: UpgradeSpec, snapshot?: Snapshot): void {
    this.lastStatus = status;
    if (this.out.isTTY) {
      this.clearBlock();
      this.drawBlock(status, snapshot);
      return;
    }
    // Plain output: one line when the position changes (phase, member, batch, blocking check),
    // not for every wait, so logs stay short.
    const p = status.progress;
    const key = [
      status.phase,
      p.done,
      p.component,
      p.memberIndex,
      p.batchIndex,
      status.blockedBy?.check,
    ].join('|');
    if (key !== this.lastLine) {
      this.lastLine = key;
      this.out.write(`${this.stamp(this.now())}  progress: ${progressLine(status)}\n`);
    }
  }

  private drawBlock(status: UpgradeStatus, snapshot?: Snapshot): void {
    const width = Math.max(40, (this.out.columns || 100) - 1);
    const cut = (s: string) => (s.length > width ? s.slice(0, width - 1) + '…' : s);
    const p = status.progress;
    const lines = [
      cut(
        `── ${status.phase}  ${p.done}/${p.total} members${p.component ? `  ${p.component} member ${p.memberIndex} of ${p.memberTotal}` : ''}${p.batchTotal ? `  batch ${p.batchIndex} of ${p.batchTotal}` : ''}${p.etaMs !== undefined ? `  ETA ${humanDuration(p.etaMs)}` : ''}`,
      ),
      cut(`   ${p.step ? `step: ${p.step}` : status.reason}`),
    ];
    if (status.blockedBy)
      lines.push(cut(`   blocked by ${status.blockedBy.check}: ${status.blockedBy.reason}`));
    if (snapshot) {
      const roles = snapshot.members
        .map(
          (m) =>
            `${m.name}${m.engine?.role && m.engine.role !== 'none' ? `(${m.engine.role})` : ''}@${m.version}${m.ready ? '' : '!'}`,
        )
        .join(' ');
      lines.push(cut(`   ${roles}`));
    }
    this.out.write(lines.join('\n') + '\n');
    this.blockLines = lines.length;
  }

  /** Leave the last block on screen and stop redrawing. */
  finish(): void {
    this.blockLines = 0;
  }
}
