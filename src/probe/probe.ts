/**
 * The probe workload: writes unique keys and reads recent ones back at a steady cadence while a
 * cluster is upgraded, retrying each logical operation (with backoff and rediscovery) until its
 * deadline the way a careful application would, and at the end reads back every acknowledged
 * write to count the ones the cluster lost.
 */
import type { Clock } from '../core/clock.js';
import { BadInputError, describeError, OperationalError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type {
  LostWrite,
  ProbeBudget,
  ProbeClient,
  ProbeFigures,
  ProbeOperation,
  ProbeOperationKind,
  ProbeReport,
  ProbeVerdict,
} from './types.js';

/** Construction options of a {@link Probe}. */
export interface ProbeOptions {
  client: ProbeClient;
  clock: Clock;
  logger: Logger;
  /** Pause between the end of one operation and the start of the next. Default 10 ms. */
  intervalMs?: number;
  /** Longest one attempt (or one rediscovery) may take before it counts as failed; 0 = no limit. Default 2000 ms. */
  opTimeoutMs?: number;
  /** A logical operation retries until this long after its first attempt, then fails. Default 5000 ms. */
  retryDeadlineMs?: number;
  /** Share of operations that are reads of a recently acknowledged id, 0..1. Default 0.2. */
  readRatio?: number;
  /** Uniform random numbers in [0, 1) for read choice, backoff jitter and the run id. */
  random?: () => number;
  /** Prefix of every id this run writes; default derived from the clock and `random`. */
  runId?: string;
  /** Ids per batched read during the final read-back. Default 200. */
  verifyBatchSize?: number;
}

interface AttemptOutcome<T> {
  ok: boolean;
  value?: T;
  attempts: number;
  error?: string;
}

const RECENT_IDS = 64;
const MAX_LOST_RECORDED = 100;
const BACKOFF_BASE_MS = 10;
const BACKOFF_MAX_MS = 500;

function checkNonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new BadInputError('probe-option', `probe ${name} must be a non-negative number, got ${value}`);
  }
  return value;
}

/** Nearest-rank percentile of ascending `sorted`; 0 for an empty list. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1] ?? 0;
}

/**
 * A client workload that measures availability and lost writes. Lifecycle: construct, `start()`,
 * read `snapshot()`/`verdict()` while it runs, `stop()` once for the final report.
 *
 * One logical operation is in flight at a time; the next starts `intervalMs` after the previous
 * ended. Every write has a unique id (`<runId>-<n>`) and a value fixed at its first attempt, so a
 * retry after an ambiguous failure rewrites the same thing.
 */
export class Probe {
  /** Prefix of every id this run writes. */
  readonly runId: string;

  private readonly client: ProbeClient;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private readonly opTimeoutMs: number;
  private readonly retryDeadlineMs: number;
  private readonly readRatio: number;
  private readonly random: () => number;
  private readonly verifyBatchSize: number;

  private readonly operations: ProbeOperation[] = [];
  private readonly acknowledged = new Map<string, string>();
  private readonly recent: string[] = [];
  /** Latencies of successful operations: a sorted part and the ones recorded since the last sort. */
  private sortedLatencies: number[] = [];
  private newLatencies: number[] = [];
  private readonly errorCounts = new Map<string, number>();
  private readonly lost = new Map<string, LostWrite>();
  private readonly abort = new AbortController();
  private seq = 0;
  private writes = 0;
  private reads = 0;
  private failedOps = 0;
  private readMismatches = 0;
  private unverifiedWrites = 0;
  private startedAt: number | undefined;
  private stoppedAt: number | undefined;
  private lastAckAt = 0;
  private maxGapMs = 0;
  private starting = false;
  private stopping = false;
  private final = false;
  private loop: Promise<void> | undefined;
  private stopped: Promise<ProbeReport> | undefined;

  constructor(opts: ProbeOptions) {
    this.client = opts.client;
    this.clock = opts.clock;
    this.logger = opts.logger;
    this.intervalMs = checkNonNegative('intervalMs', opts.intervalMs ?? 10);
    this.opTimeoutMs = checkNonNegative('opTimeoutMs', opts.opTimeoutMs ?? 2000);
    this.retryDeadlineMs = checkNonNegative('retryDeadlineMs', opts.retryDeadlineMs ?? 5000);
    this.readRatio = checkNonNegative('readRatio', opts.readRatio ?? 0.2);
    if (this.readRatio > 1) {
      throw new BadInputError(
        'probe-option',
        `probe readRatio must be between 0 and 1, got ${this.readRatio}`,
      );
    }
    this.verifyBatchSize = Math.max(
      1,
      Math.floor(checkNonNegative('verifyBatchSize', opts.verifyBatchSize ?? 200)),
    );
    this.random = opts.random ?? Math.random;
    this.runId =
      opts.runId ??
      `${this.clock.now().toString(36)}${Math.floor(this.random() * 36 ** 4)
        .toString(36)
        .padStart(4, '0')}`;
  }

  /**
   * Connects the client (retrying until the retry deadline) and starts the workload in the
   * background. Throws OperationalError `probe-connect` when the cluster cannot be reached, and
   * BadInputError when called twice.
   */
  async start(): Promise<void> {
    if (this.starting) {
      throw new BadInputError('probe-started', 'probe already started; create a new Probe for another run');
    }
    this.starting = true;
    const connected = await this.attempt(() => this.client.connect());
    if (!connected.ok) {
      // Some clients keep reconnecting in the background until closed.
      await this.client.close().catch(() => undefined);
      throw new OperationalError(
        'probe-connect',
        `probe could not connect to ${this.client.engine}: ${connected.error ?? 'unknown error'}`,
      );
    }
    this.startedAt = this.clock.now();
    this.lastAckAt = this.startedAt;
    this.logger.info('probe started', { engine: this.client.engine, runId: this.runId });
    this.loop = this.run();
  }

  /**
   * Stops the workload (the operation in flight finishes, bounded by its retry deadline), reads
   * back every acknowledged write in batches, closes the client and returns the final report.
   * Calling it again returns the same report.
   */
  stop(): Promise<ProbeReport> {
    if (!this.loop) {
      return Promise.reject(new BadInputError('probe-not-started', 'probe stop() called before start()'));
    }
    this.stopped ??= this.finish(this.loop);
    return this.stopped;
  }

  /** Live figures; after stop, the final ones. */
  snapshot(): ProbeFigures {
    const startedAt = this.startedAt;
    const until = this.stoppedAt ?? this.clock.now();
    const sorted = this.latencies();
    const ops = this.writes + this.reads;
    return {
      ops,
      writes: this.writes,
      reads: this.reads,
      failedOps: this.failedOps,
      errorRate: ops === 0 ? 0 : this.failedOps / ops,
      maxGapMs: startedAt === undefined ? 0 : Math.max(this.maxGapMs, until - this.lastAckAt),
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      lostWrites: this.lost.size,
      unverifiedWrites: this.unverifiedWrites,
      acknowledgedWrites: this.acknowledged.size,
      readMismatches: this.readMismatches,
      durationMs: startedAt === undefined ? 0 : until - startedAt,
      final: this.final,
    };
  }

  /**
   * Whether the run so far stays within `budget`. Lost and unverifiable acknowledged writes are
   * always checked (tolerance `maxLostWrites`, default 0); error rate and gap only when given.
   * The reason names every exceeded limit, e.g. "probe: longest write gap 812 ms > 500 ms".
   */
  verdict(budget: ProbeBudget): ProbeVerdict {
    const f = this.snapshot();
    const problems: string[] = [];
    const maxLost = budget.maxLostWrites ?? 0;
    if (f.lostWrites + f.unverifiedWrites > maxLost) {
      if (f.lostWrites > 0) problems.push(`${f.lostWrites} acknowledged writes lost (tolerated ${maxLost})`);
      if (f.unverifiedWrites > 0) {
        problems.push(
          `${f.unverifiedWrites} acknowledged writes could not be read back (tolerated ${maxLost})`,
        );
      }
    }
    if (budget.maxGapMs !== undefined && f.maxGapMs > budget.maxGapMs) {
      problems.push(`longest write gap ${f.maxGapMs} ms > ${budget.maxGapMs} ms`);
    }
    if (budget.maxErrorRate !== undefined && f.errorRate > budget.maxErrorRate) {
      problems.push(
        `error rate ${formatRate(f.errorRate)} > ${formatRate(budget.maxErrorRate)} (${f.failedOps} of ${f.ops} ops failed)`,
      );
    }
    if (problems.length > 0) return { ok: false, reason: `probe: ${problems.join('; ')}` };
    return {
      ok: true,
      reason: `probe: ${f.ops} ops, error rate ${formatRate(f.errorRate)}, longest write gap ${f.maxGapMs} ms, ${f.lostWrites} lost writes`,
    };
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      await this.step();
      if (this.stopping) break;
      try {
        await this.clock.sleep(this.intervalMs, this.abort.signal);
      } catch {
        break;
      }
    }
    this.stoppedAt = this.clock.now();
  }

  private async step(): Promise<void> {
    const readable = this.recent.length > 0 && this.random() < this.readRatio;
    if (readable) await this.readOnce();
    else await this.writeOnce();
  }

  private async writeOnce(): Promise<void> {
    const start = this.clock.now();
    const id = `${this.runId}-${++this.seq}`;
    const value = `${id}@${start}`;
    const outcome = await this.attempt(() => this.client.write(id, value));
    const end = this.clock.now();
    this.writes += 1;
    if (outcome.ok) {
      this.acknowledged.set(id, value);
      this.recent.push(id);
      if (this.recent.length > RECENT_IDS) this.recent.shift();
      this.maxGapMs = Math.max(this.maxGapMs, end - this.lastAckAt);
      this.lastAckAt = end;
    }
    this.record('write', id, start, end, outcome);
  }

  private async readOnce(): Promise<void> {
    const start = this.clock.now();
    const id = this.recent[Math.floor(this.random() * this.recent.length)] ?? '';
    const expected = this.acknowledged.get(id) ?? '';
    const outcome = await this.attempt(() => this.client.read(id));
    const end = this.clock.now();
    this.reads += 1;
    if (outcome.ok && outcome.value !== expected) {
      this.readMismatches += 1;
      this.noteLost({ id, expected, actual: outcome.value });
      outcome.ok = false;
      outcome.error = `read of acknowledged ${id} returned ${outcome.value === undefined ? 'nothing' : JSON.stringify(outcome.value)}`;
    }
    this.record('read', id, start, end, outcome);
  }

  private record(
    kind: ProbeOperationKind,
    id: string,
    start: number,
    end: number,
    outcome: AttemptOutcome<unknown>,
  ) {
    const op: ProbeOperation = { kind, id, start, end, ok: outcome.ok, attempts: outcome.attempts };
    if (outcome.error !== undefined) op.error = outcome.error;
    this.operations.push(op);
    if (outcome.ok) {
      this.newLatencies.push(end - start);
    } else {
      this.failedOps += 1;
      this.logger.warn('probe operation failed', {
        kind,
        id,
        attempts: outcome.attempts,
        error: outcome.error,
      });
    }
  }

  /** All latencies in ascending order; merges the new ones in, so a snapshot costs O(n), not a sort. */
  private latencies(): number[] {
    if (this.newLatencies.length === 0) return this.sortedLatencies;
    const add = this.newLatencies.sort((a, b) => a - b);
    const old = this.sortedLatencies;
    const merged: number[] = new Array<number>(old.length + add.length);
    let i = 0;
    let j = 0;
    for (let k = 0; k < merged.length; k++) {
      const a = old[i];
      const b = add[j];
      if (b === undefined || (a !== undefined && a <= b)) {
        merged[k] = a as number;
        i += 1;
      } else {
        merged[k] = b;
        j += 1;
      }
    }
    this.sortedLatencies = merged;
    this.newLatencies = [];
    return merged;
  }

  private noteLost(lost: LostWrite): void {
    if (!this.lost.has(lost.id)) this.lost.set(lost.id, lost);
  }

  /**
   * Runs `fn` until it succeeds or the retry deadline passes; after each failure rediscovers the
   * cluster, then waits an exponential backoff with jitter that never overshoots the deadline.
   */
  private async attempt<T>(fn: () => Promise<T>): Promise<AttemptOutcome<T>> {
    const deadline = this.clock.now() + this.retryDeadlineMs;
    let attempts = 0;
    let error: string | undefined;
    while (true) {
      attempts += 1;
      try {
        const value = await this.withTimeout(fn);
        const out: AttemptOutcome<T> = { ok: true, value, attempts };
        if (error !== undefined) out.error = error;
        return out;
      } catch (err) {
        error = describeError(err);
        this.errorCounts.set(error, (this.errorCounts.get(error) ?? 0) + 1);
        this.logger.debug('probe attempt failed', { attempt: attempts, error });
      }
      if (this.clock.now() >= deadline) return { ok: false, attempts, error };
      try {
        await this.withTimeout(() => this.client.rediscover());
      } catch (err) {
        this.logger.debug('probe rediscovery failed', { error: describeError(err) });
      }
      const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempts - 1, 16));
      const jittered = Math.round(backoff * (0.5 + this.random() / 2));
      const left = deadline - this.clock.now();
      if (left > 0) await this.clock.sleep(Math.min(jittered, left));
    }
  }

  private async withTimeout<T>(fn: () => Promise<T>): Promise<T> {
    if (this.opTimeoutMs === 0) return fn();
    const cancel = new AbortController();
    const ms = this.opTimeoutMs;
    const timeout = this.clock.sleep(ms, cancel.signal).then(
      () => {
        throw new OperationalError('probe-timeout', `no answer within ${ms} ms`);
      },
      // Cancelled because the operation settled first: this branch must never win the race.
      () => new Promise<never>(() => {}),
    );
    try {
      return await Promise.race([fn(), timeout]);
    } finally {
      cancel.abort();
    }
  }

  private async finish(loop: Promise<void>): Promise<ProbeReport> {
    this.stopping = true;
    this.abort.abort(new OperationalError('probe-stopped', 'probe stopped'));
    try {
      await loop;
      await this.verify();
    } finally {
      try {
        await this.client.close();
      } catch (err) {
        this.logger.warn('probe client close failed', { error: describeError(err) });
      }
    }
    this.final = true;
    const report = this.report();
    this.logger.info('probe stopped', {
      engine: report.engine,
      runId: report.runId,
      ops: report.ops,
      failedOps: report.failedOps,
      maxGapMs: report.maxGapMs,
      lostWrites: report.lostWrites,
    });
    return report;
  }

  /** Reads back every acknowledged write; the result replaces what reads saw during the run. */
  private async verify(): Promise<void> {
    const ids = [...this.acknowledged.keys()];
    this.lost.clear();
    this.unverifiedWrites = 0;
    for (let i = 0; i < ids.length; i += this.verifyBatchSize) {
      const batch = ids.slice(i, i + this.verifyBatchSize);
      const outcome = await this.attempt(() => this.client.readMany(batch));
      if (!outcome.ok || outcome.value === undefined || outcome.value.length !== batch.length) {
        this.unverifiedWrites += batch.length;
        this.logger.warn('probe read-back failed', { ids: batch.length, error: outcome.error });
        continue;
      }
      const values = outcome.value;
      batch.forEach((id, k) => {
        const expected = this.acknowledged.get(id) ?? '';
        const actual = values[k];
        if (actual !== expected) this.noteLost({ id, expected, actual });
      });
    }
  }

  private report(): ProbeReport {
    const errors = [...this.errorCounts.entries()]
      .map(([message, count]) => ({ message, count }))
      .sort((a, b) => b.count - a.count || a.message.localeCompare(b.message));
    return {
      ...this.snapshot(),
      engine: this.client.engine,
      runId: this.runId,
      startedAt: this.startedAt ?? 0,
      stoppedAt: this.stoppedAt ?? 0,
      lost: [...this.lost.values()].slice(0, MAX_LOST_RECORDED),
      errors,
      operations: [...this.operations],
    };
  }
}

/** A rate as a percentage with two decimals, e.g. `3.20%`. */
export function formatRate(rate: number): string {
  return `${(rate * 100).toFixed(2)}%`;
}
