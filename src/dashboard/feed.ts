/**
 * The dashboard's feed: the upgrades a source knows, each as a report, and the lines of their probe
 * logs, with an event for every change so the page is updated by server-sent events instead of
 * polling. Changes are noticed by watching the source's directories (local journals) and by a
 * fallback re-read on a timer (for what a watch misses, and for sources without directories such
 * as the Kubernetes API).
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { describeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { UpgradeRecord } from '../core/ports.js';
import { parseProbeLog, type ProbeLogLine } from '../probe/log-format.js';
import { buildReport, type UpgradeReport } from '../report/model.js';

/** One upgrade a source knows. */
export interface SourcedUpgrade {
  /** Unique among the source's upgrades, e.g. `cluster/upgrade`. */
  key: string;
  record: UpgradeRecord;
  /** Its probe log file, when it can have one. */
  probeLog?: string;
}

/** Where the dashboard finds upgrades. */
export interface UpgradeSource {
  /** Every upgrade now. */
  list(): Promise<SourcedUpgrade[]>;
  /** Directories whose changes may mean an upgrade or its probe log changed; re-read on every refresh. */
  watchDirs?(): Promise<string[]>;
}

/** What the page gets first: every upgrade's report and probe log lines. */
export interface FeedState {
  upgrades: Record<string, UpgradeReport>;
  probe: Record<string, ProbeLogLine[]>;
}

/** A change: one upgrade's new report, or new lines of its probe log. */
export type FeedEvent =
  | { type: 'upgrade'; key: string; report: UpgradeReport }
  | { type: 'probe'; key: string; lines: ProbeLogLine[] };

interface Tail {
  offset: number;
  partial: string;
  lines: ProbeLogLine[];
}

/** Reads the bytes of `path` from `offset` on; empty when the file does not exist. */
async function readFrom(path: string, offset: number): Promise<{ text: string; size: number }> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { text: '', size: 0 };
    throw err;
  }
  if (size <= offset) return { text: '', size };
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(size - offset);
    const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
    return { text: buf.subarray(0, bytesRead).toString('utf8'), size: offset + bytesRead };
  } finally {
    await fh.close();
  }
}

/** Follows a source; {@link UpgradeFeed.start} once, {@link UpgradeFeed.stop} at the end. */
export class UpgradeFeed {
  private readonly reports = new Map<string, { sig: string; report: UpgradeReport }>();
  private readonly tails = new Map<string, Tail>();
  private readonly listeners = new Set<(e: FeedEvent) => void>();
  private readonly watchers = new Map<string, FSWatcher>();
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly source: UpgradeSource,
    private readonly opts: { logger: Logger; intervalMs?: number },
  ) {}

  /** Reads everything once, then follows changes. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.opts.intervalMs ?? 1000);
    this.timer.unref();
  }

  /** Stops watching. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  /** Everything known now. */
  state(): FeedState {
    const state: FeedState = { upgrades: {}, probe: {} };
    for (const [key, r] of this.reports) state.upgrades[key] = r.report;
    for (const [key, t] of this.tails) if (t.lines.length > 0) state.probe[key] = t.lines;
    return state;
  }

  /** Calls `fn` with every change; returns the unsubscribe function. */
  subscribe(fn: (e: FeedEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Re-reads the source now (coalescing calls made while a refresh runs). */
  refresh(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.readOnce();
        } catch (err) {
          this.opts.logger.warn('dashboard refresh failed', { error: describeError(err) });
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private emit(e: FeedEvent): void {
    for (const fn of this.listeners) fn(e);
  }

  private async readOnce(): Promise<void> {
    const upgrades = await this.source.list();
    for (const u of upgrades) {
      const sig = `${u.record.revision}:${u.record.spec.generation}`;
      if (this.reports.get(u.key)?.sig !== sig) {
        const report = buildReport(u.record, []);
        this.reports.set(u.key, { sig, report });
        this.emit({ type: 'upgrade', key: u.key, report });
      }
      if (u.probeLog) await this.tail(u.key, u.probeLog);
    }
    if (this.source.watchDirs && !this.stopped) this.watch(await this.source.watchDirs());
  }

  private async tail(key: string, path: string): Promise<void> {
    const t = this.tails.get(key) ?? { offset: 0, partial: '', lines: [] };
    this.tails.set(key, t);
    const { text, size } = await readFrom(path, t.offset);
    if (size < t.offset) {
      // The log was replaced (the upgrade was deleted and created again): start over.
      t.offset = 0;
      t.partial = '';
      t.lines = [];
      return this.tail(key, path);
    }
    if (!text) return;
    t.offset = size;
    const all = t.partial + text;
    const cut = all.lastIndexOf('\n') + 1;
    t.partial = all.slice(cut);
    const lines = parseProbeLog(all.slice(0, cut));
    if (lines.length === 0) return;
    t.lines.push(...lines);
    this.emit({ type: 'probe', key, lines });
  }

  private watch(dirs: string[]): void {
    for (const dir of dirs) {
      if (this.watchers.has(dir)) continue;
      try {
        const w = watch(dir, () => this.soon());
        w.on('error', () => {
          w.close();
          this.watchers.delete(dir);
        });
        this.watchers.set(dir, w);
      } catch {
        // The directory went away or cannot be watched: the timer still re-reads it.
      }
    }
  }

  /** A refresh shortly after a burst of file events. */
  private soon(): void {
    if (this.debounce || this.stopped) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.refresh();
    }, 50);
    this.debounce.unref();
  }
}
