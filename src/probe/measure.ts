/**
 * What the probe measures while it runs: counts, latencies (all of them, per second and over the
 * last 10 s), the longest write gap, failed attempts by kind, and the per-second series. Fed by the
 * workload in time order (every event carries the clock's time when it happened); pure
 * bookkeeping, no I/O and no clock of its own.
 */
import type { ProbeSecond } from './types.js';

/** Window of the `recentP99Ms` figure and of the `maxP99Ms` gate. */
export const RECENT_WINDOW_MS = 10_000;
/** Failed attempts kept with their time for per-phase figures; beyond this only counts are kept. */
const MAX_ATTEMPT_ERRORS = 100_000;

/** Nearest-rank percentile of ascending `sorted`; 0 for an empty list. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1] ?? 0;
}

function ascending(xs: number[]): number[] {
  return xs.sort((a, b) => a - b);
}

/** Merges ascending `add` into ascending `into`, returning a new ascending array. */
function mergeSorted(into: readonly number[], add: readonly number[]): number[] {
  const merged: number[] = new Array<number>(into.length + add.length);
  let i = 0;
  let j = 0;
  for (let k = 0; k < merged.length; k++) {
    const a = into[i];
    const b = add[j];
    if (b === undefined || (a !== undefined && a <= b)) {
      merged[k] = a as number;
      i += 1;
    } else {
      merged[k] = b;
      j += 1;
    }
  }
  return merged;
}

/** Operations whose due time lies in [0, ms) after the start, at `rate` per second. */
export function dueBefore(ms: number, rate: number): number {
  return ms <= 0 ? 0 : Math.ceil((ms * rate) / 1000);
}

interface OpenSecond {
  index: number;
  ok: number;
  writesOk: number;
  failed: number;
  started: number;
  latencies: number[];
  maxGapMs: number;
  errors: Record<string, number>;
}

/** A failed attempt and when it failed. */
export interface AttemptError {
  at: number;
  kind: string;
}

/**
 * Running measurements of one probe run, started at `startedAt`. With `rate` the run is open loop
 * and the offered load is the schedule (`rate` per second); without it the offered load is what
 * the workers started ({@link ProbeMeasurements.started}).
 */
export class ProbeMeasurements {
  /** Closed seconds, oldest first. */
  readonly seconds: ProbeSecond[] = [];
  /** Failed attempts with their time (the first {@link MAX_ATTEMPT_ERRORS}). */
  readonly attemptErrors: AttemptError[] = [];
  readonly errorKinds: Record<string, number> = {};
  ok = 0;
  failed = 0;
  startedOps = 0;
  maxGapMs = 0;
  lastAckAt: number;

  private sorted: number[] = [];
  private fresh: number[] = [];
  private recent: { at: number; ms: number }[] = [];
  private recentHead = 0;
  private open: OpenSecond;

  constructor(
    readonly startedAt: number,
    private readonly rate: number | undefined,
    private readonly onSecond?: (s: ProbeSecond) => void,
  ) {
    this.lastAckAt = startedAt;
    this.open = this.newSecond(0);
  }

  /** Closed loop: an operation started at `at`. */
  started(at: number): void {
    this.advance(at);
    this.startedOps += 1;
    this.open.started += 1;
  }

  /** An attempt failed at `at` with an error of `kind`. */
  attemptFailed(at: number, kind: string): void {
    this.advance(at);
    this.errorKinds[kind] = (this.errorKinds[kind] ?? 0) + 1;
    this.open.errors[kind] = (this.open.errors[kind] ?? 0) + 1;
    if (this.attemptErrors.length < MAX_ATTEMPT_ERRORS) this.attemptErrors.push({ at, kind });
  }

  /** An operation due (or started) at `start` was acknowledged at `end`; `write` for writes. */
  acknowledged(start: number, end: number, write: boolean): void {
    this.advance(end);
    const ms = end - start;
    this.ok += 1;
    this.open.ok += 1;
    this.open.latencies.push(ms);
    this.fresh.push(ms);
    this.recent.push({ at: end, ms });
    if (write) {
      this.open.writesOk += 1;
      if (end > this.lastAckAt) {
        const gap = end - this.lastAckAt;
        this.maxGapMs = Math.max(this.maxGapMs, gap);
        this.open.maxGapMs = Math.max(this.open.maxGapMs, gap);
        this.lastAckAt = end;
      }
    }
  }

  /** An operation was given up at `end`. */
  gaveUp(end: number): void {
    this.advance(end);
    this.failed += 1;
    this.open.failed += 1;
  }

  /** Closes every second that ended by `now`, reporting each to `onSecond`. */
  flush(now: number): void {
    this.advance(now);
  }

  /** Closes the last (partial) second at `stoppedAt`. */
  finish(stoppedAt: number): void {
    this.advance(stoppedAt);
    if (stoppedAt > this.secondStart(this.open.index)) this.close(stoppedAt);
  }

  /** Operations due (open loop) or started (closed loop) until `now`. */
  offered(now: number): number {
    return this.rate === undefined ? this.startedOps : dueBefore(now - this.startedAt, this.rate);
  }

  /** Every latency so far, ascending. */
  latencies(): number[] {
    if (this.fresh.length > 0) {
      this.sorted = mergeSorted(this.sorted, ascending(this.fresh));
      this.fresh = [];
    }
    return this.sorted;
  }

  /** p99 of the operations acknowledged in the {@link RECENT_WINDOW_MS} before `now`. */
  recentP99(now: number): number {
    const from = now - RECENT_WINDOW_MS;
    while (this.recentHead < this.recent.length && this.recent[this.recentHead]!.at < from) {
      this.recentHead += 1;
    }
    if (this.recentHead > 4096 && this.recentHead * 2 > this.recent.length) {
      this.recent = this.recent.slice(this.recentHead);
      this.recentHead = 0;
    }
    const window = this.recent.slice(this.recentHead).map((r) => r.ms);
    return percentile(ascending(window), 0.99);
  }

  /** Longest write gap so far, the open one up to `until` included. */
  gapUntil(until: number): number {
    return Math.max(this.maxGapMs, until - this.lastAckAt);
  }

  private secondStart(index: number): number {
    return this.startedAt + index * 1000;
  }

  private newSecond(index: number): OpenSecond {
    return { index, ok: 0, writesOk: 0, failed: 0, started: 0, latencies: [], maxGapMs: 0, errors: {} };
  }

  /** Closes the open second and any empty ones until the second holding `at` is open. */
  private advance(at: number): void {
    while (at >= this.secondStart(this.open.index + 1)) {
      this.close(this.secondStart(this.open.index + 1));
      this.open = this.newSecond(this.open.index + 1);
    }
  }

  private close(end: number): void {
    const s = this.open;
    const start = this.secondStart(s.index);
    const sorted = ascending(s.latencies);
    const offered =
      this.rate === undefined
        ? s.started
        : dueBefore(end - this.startedAt, this.rate) - dueBefore(start - this.startedAt, this.rate);
    const second: ProbeSecond = {
      at: start,
      offered,
      ok: s.ok,
      writesOk: s.writesOk,
      failed: s.failed,
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      maxMs: sorted[sorted.length - 1] ?? 0,
      maxGapMs: Math.max(s.maxGapMs, end - this.lastAckAt),
      errors: s.errors,
    };
    this.seconds.push(second);
    this.onSecond?.(second);
  }
}
