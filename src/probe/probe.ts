/**
 * The probe workload: writes unique keys and reads recent ones back while a cluster is upgraded,
 * retrying each logical operation (with backoff and rediscovery) until its deadline the way a
 * careful application would, and at the end reads back every acknowledged write to count the ones
 * the cluster lost. It runs closed loop (each worker starts its next operation `intervalMs` after
 * the previous one ended: a light default) or open loop at `rate` operations per second over
 * `workers` connections, so that a stall shows as latency and backlog rather than as fewer
 * requests.
 */
import { setMaxListeners } from 'node:events';
import type { Clock } from '../core/clock.js';
import { BadInputError, describeError, OperationalError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { errorKindOf, MISMATCH, NOT_SENT } from './errors.js';
import { probeVerdict } from './gate.js';
import { percentile, ProbeMeasurements } from './measure.js';
import type {
  LostWrite,
  ProbeBudget,
  ProbeClient,
  ProbeClientFactory,
  ProbeFigures,
  ProbeLoad,
  ProbeOperation,
  ProbeOperationKind,
  ProbeReport,
  ProbeSecond,
  ProbeVerdict,
} from './types.js';

export { formatRate } from './gate.js';
export { percentile } from './measure.js';

/** Construction options of a {@link Probe}. */
export interface ProbeOptions {
  /** The client, or a factory called once per worker (needed for more than one worker). */
  client: ProbeClient | ProbeClientFactory;
  clock: Clock;
  logger: Logger;
  /** Operations per second offered, open loop; absent: closed loop. */
  rate?: number;
  /** Operations in flight at most, one client each. Default 1. */
  workers?: number;
  /** Closed loop: pause between the end of one operation and the start of the next. Default 10 ms. */
  intervalMs?: number;
  /** Longest one attempt (or one rediscovery) may take before it counts as failed; 0 = no limit. Default 2000 ms. */
  opTimeoutMs?: number;
  /**
   * A logical operation retries until this long after it was due, then fails; open loop, an
   * operation still waiting for a worker then is not sent at all. Default 5000 ms.
   */
  retryDeadlineMs?: number;
  /** Share of operations that are reads of a recently acknowledged id, 0..1. Default 0.2. */
  readRatio?: number;
  /** Uniform random numbers in [0, 1) for read choice, backoff jitter and the run id. */
  random?: () => number;
  /** Prefix of every id this run writes; default derived from the clock and `random`. */
  runId?: string;
  /** Ids per batched read during the final read-back. Default 200. */
  verifyBatchSize?: number;
  /** Called with each second of the series as it closes (on operations and on {@link Probe.flush}). */
  onSecond?: (s: ProbeSecond) => void;
}

interface AttemptOutcome<T> {
  ok: boolean;
  value?: T;
  attempts: number;
  error?: string;
  errorKind?: string;
}

const RECENT_IDS = 64;
/** Why an operation's timeout is cancelled: it settled first. */
const SETTLED = new Error('operation settled');
const MAX_LOST_RECORDED = 100;
const BACKOFF_BASE_MS = 10;
const BACKOFF_MAX_MS = 500;
/** Most workers a probe runs (each one is a connection to the cluster). */
export const MAX_PROBE_WORKERS = 256;
/** Highest rate a probe offers, operations per second. */
export const MAX_PROBE_RATE = 100_000;

function checkNonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new BadInputError('probe-option', `probe ${name} must be a non-negative number, got ${value}`);
  }
  return value;
}

function checkRange(name: string, value: number, min: number, max: number, integer: boolean): number {
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new BadInputError(
      'probe-option',
      `probe ${name} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, got ${value}`,
    );
  }
  return value;
}

/**
 * A client workload that measures availability and lost writes. Lifecycle: construct, `start()`,
 * read `snapshot()`/`verdict()`/`seconds()` while it runs, `stop()` once for the final report.
 *
 * Every write has a unique id (`<runId>-<n>`) and a value fixed at its first attempt, so a retry
 * after an ambiguous failure rewrites the same thing.
 */
export class Probe {
  /** Prefix of every id this run writes. */
  readonly runId: string;

  private readonly clients: ProbeClient[];
  private readonly engine: string;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly rate: number | undefined;
  private readonly workers: number;
  private readonly intervalMs: number;
  private readonly opTimeoutMs: number;
  private readonly retryDeadlineMs: number;
  private readonly readRatio: number;
  private readonly random: () => number;
  private readonly verifyBatchSize: number;
  private readonly onSecond: ((s: ProbeSecond) => void) | undefined;

  private readonly operations: ProbeOperation[] = [];
  private readonly acknowledged = new Map<string, string>();
  private readonly recent: string[] = [];
  private readonly errorCounts = new Map<string, number>();
  private readonly lost = new Map<string, LostWrite>();
  private readonly abort = new AbortController();
  private readonly rediscovering = new Map<ProbeClient, Promise<void>>();
  private measure: ProbeMeasurements | undefined;
  private seq = 0;
  private nextDue = 0;
  private writes = 0;
  private reads = 0;
  private failedOps = 0;
  private readMismatches = 0;
  private unverifiedWrites = 0;
  private startedAt: number | undefined;
  private stoppedAt: number | undefined;
  private starting = false;
  private stopping = false;
  /** The final read-back is running: its failed attempts are not part of the series. */
  private verifying = false;
  private final = false;
  private loop: Promise<void> | undefined;
  private stopped: Promise<ProbeReport> | undefined;

  constructor(opts: ProbeOptions) {
    this.clock = opts.clock;
    this.logger = opts.logger;
    this.workers = checkRange('workers', opts.workers ?? 1, 1, MAX_PROBE_WORKERS, true);
    // Every worker may be asleep on the stop signal at once: that is not a listener leak.
    setMaxListeners(this.workers + 10, this.abort.signal);
    this.rate =
      opts.rate === undefined ? undefined : checkRange('rate', opts.rate, 0.1, MAX_PROBE_RATE, false);
    this.intervalMs = checkNonNegative('intervalMs', opts.intervalMs ?? 10);
    this.opTimeoutMs = checkNonNegative('opTimeoutMs', opts.opTimeoutMs ?? 2000);
    this.retryDeadlineMs = checkNonNegative('retryDeadlineMs', opts.retryDeadlineMs ?? 5000);
    this.readRatio = checkRange('readRatio', opts.readRatio ?? 0.2, 0, 1, false);
    this.verifyBatchSize = Math.max(
      1,
      Math.floor(checkNonNegative('verifyBatchSize', opts.verifyBatchSize ?? 200)),
    );
    const factory = opts.client;
    if (typeof factory !== 'function' && this.workers > 1) {
      throw new BadInputError('probe-option', 'a probe with several workers needs a client factory');
    }
    const first = typeof factory === 'function' ? factory() : factory;
    // A client that multiplexes serves every worker; otherwise each worker has its own.
    this.clients = Array.from({ length: this.workers }, (_, i) =>
      i === 0 || first.concurrent || typeof factory !== 'function' ? first : factory(),
    );
    this.engine = this.clients[0]!.engine;
    this.onSecond = opts.onSecond;
    this.random = opts.random ?? Math.random;
    this.runId =
      opts.runId ??
      `${this.clock.now().toString(36)}${Math.floor(this.random() * 36 ** 4)
        .toString(36)
        .padStart(4, '0')}`;
  }

  /**
   * Connects every worker's client (each retrying until the retry deadline) and starts the
   * workload in the background. Throws OperationalError `probe-connect` when the cluster cannot be
   * reached, and BadInputError when called twice.
   */
  async start(): Promise<void> {
    if (this.starting) {
      throw new BadInputError('probe-started', 'probe already started; create a new Probe for another run');
    }
    this.starting = true;
    const distinct = [...new Set(this.clients)];
    const connected = await Promise.all(distinct.map((c) => this.attempt(c, () => c.connect())));
    const failed = connected.find((c) => !c.ok);
    if (failed) {
      // Some clients keep reconnecting in the background until closed.
      await this.closeClients();
      throw new OperationalError(
        'probe-connect',
        `probe could not connect to ${this.engine}: ${failed.error ?? 'unknown error'}`,
      );
    }
    this.startedAt = this.clock.now();
    this.measure = new ProbeMeasurements(this.startedAt, this.rate, this.onSecond);
    this.logger.info('probe started', {
      engine: this.engine,
      runId: this.runId,
      rate: this.rate,
      workers: this.workers,
    });
    const t0 = this.startedAt;
    this.loop = Promise.all(this.clients.map((c) => this.work(c, t0))).then(() => {
      this.stoppedAt = this.clock.now();
    });
  }

  /**
   * Stops the workload (operations in flight finish, bounded by their retry deadline), reads back
   * every acknowledged write in batches, closes the clients and returns the final report. Calling
   * it again returns the same report.
   */
  stop(): Promise<ProbeReport> {
    if (!this.loop) {
      return Promise.reject(new BadInputError('probe-not-started', 'probe stop() called before start()'));
    }
    this.stopped ??= this.finish(this.loop);
    return this.stopped;
  }

  /** When the workload started (clock ms), once it has. */
  get started(): number | undefined {
    return this.startedAt;
  }

  /** How this run loads the cluster. */
  get load(): ProbeLoad {
    const load = { workers: this.workers, readRatio: this.readRatio };
    return this.rate === undefined ? load : { rate: this.rate, ...load };
  }

  /** Live figures; after stop, the final ones. */
  snapshot(): ProbeFigures {
    const m = this.measure;
    const until = this.stoppedAt ?? this.clock.now();
    const sorted = m?.latencies() ?? [];
    const ops = this.writes + this.reads;
    return {
      ops,
      writes: this.writes,
      reads: this.reads,
      failedOps: this.failedOps,
      errorRate: ops === 0 ? 0 : this.failedOps / ops,
      maxGapMs: m ? m.gapUntil(until) : 0,
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      maxMs: sorted[sorted.length - 1] ?? 0,
      recentP99Ms: m ? m.recentP99(until) : 0,
      offered: m ? m.offered(until) : 0,
      errorKinds: { ...(m?.errorKinds ?? {}) },
      lostWrites: this.lost.size,
      unverifiedWrites: this.unverifiedWrites,
      acknowledgedWrites: this.acknowledged.size,
      readMismatches: this.readMismatches,
      durationMs: this.startedAt === undefined ? 0 : until - this.startedAt,
      final: this.final,
    };
  }

  /** The closed seconds of the series so far, oldest first. */
  seconds(): ProbeSecond[] {
    return [...(this.measure?.seconds ?? [])];
  }

  /** Closes the seconds that ended by now (reporting them to `onSecond`); call it on a timer. */
  flush(): void {
    if (this.stoppedAt === undefined) this.measure?.flush(this.clock.now());
  }

  /**
   * Whether the run so far stays within `budget` (see {@link probeVerdict}); the reason names
   * every exceeded limit, e.g. "probe: longest write gap 812 ms > 500 ms".
   */
  verdict(budget: ProbeBudget): ProbeVerdict {
    return probeVerdict(this.snapshot(), budget);
  }

  /** One worker: its client runs operations until the probe stops. */
  private async work(client: ProbeClient, t0: number): Promise<void> {
    while (!this.stopping) {
      let start = this.clock.now();
      if (this.rate !== undefined) {
        const due = t0 + Math.floor((this.nextDue++ * 1000) / this.rate);
        if (due > start && !(await this.sleep(due - start))) break;
        start = due;
        if (this.clock.now() - due > this.retryDeadlineMs) {
          this.notSent(due);
          continue;
        }
      } else {
        this.measure!.started(start);
      }
      await this.operate(client, start);
      if (this.stopping) break;
      if (this.rate === undefined && !(await this.sleep(this.intervalMs))) break;
    }
  }

  /** Sleeps `ms`; false when the probe stopped meanwhile. */
  private async sleep(ms: number): Promise<boolean> {
    try {
      await this.clock.sleep(ms, this.abort.signal);
      return !this.stopping;
    } catch {
      return false;
    }
  }

  private operate(client: ProbeClient, start: number): Promise<void> {
    const readable = this.recent.length > 0 && this.random() < this.readRatio;
    return readable ? this.readOnce(client, start) : this.writeOnce(client, start);
  }

  private async writeOnce(client: ProbeClient, start: number): Promise<void> {
    const id = `${this.runId}-${++this.seq}`;
    const value = `${id}@${start}`;
    const outcome = await this.attempt(client, () => client.write(id, value), start);
    const end = this.clock.now();
    this.writes += 1;
    if (outcome.ok) {
      this.acknowledged.set(id, value);
      this.recent.push(id);
      if (this.recent.length > RECENT_IDS) this.recent.shift();
    }
    this.record('write', id, start, end, outcome);
  }

  private async readOnce(client: ProbeClient, start: number): Promise<void> {
    const id = this.recent[Math.floor(this.random() * this.recent.length)] ?? '';
    const expected = this.acknowledged.get(id) ?? '';
    const outcome = await this.attempt(client, () => client.read(id), start);
    const end = this.clock.now();
    this.reads += 1;
    if (outcome.ok && outcome.value !== expected) {
      this.readMismatches += 1;
      this.noteLost({ id, expected, actual: outcome.value });
      outcome.ok = false;
      outcome.error = `read of acknowledged ${id} returned ${outcome.value === undefined ? 'nothing' : JSON.stringify(outcome.value)}`;
      outcome.errorKind = MISMATCH;
      this.measure!.attemptFailed(end, MISMATCH);
    }
    this.record('read', id, start, end, outcome);
  }

  /** Open loop: an operation that waited for a worker past its deadline fails without being sent. */
  private notSent(due: number): void {
    const end = this.clock.now();
    const kind: ProbeOperationKind =
      this.recent.length > 0 && this.random() < this.readRatio ? 'read' : 'write';
    if (kind === 'read') this.reads += 1;
    else this.writes += 1;
    const error = `not sent: every one of ${this.workers} workers stayed busy for ${this.retryDeadlineMs} ms`;
    this.measure!.attemptFailed(end, NOT_SENT);
    this.errorCounts.set(error, (this.errorCounts.get(error) ?? 0) + 1);
    this.record(kind, '', due, end, { ok: false, attempts: 0, error, errorKind: NOT_SENT });
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
    if (outcome.errorKind !== undefined) op.errorKind = outcome.errorKind;
    this.operations.push(op);
    if (outcome.ok) {
      this.measure!.acknowledged(start, end, kind === 'write');
    } else {
      this.failedOps += 1;
      this.measure!.gaveUp(end);
      this.logger.warn('probe operation failed', {
        kind,
        id,
        attempts: outcome.attempts,
        error: outcome.error,
      });
    }
  }

  private noteLost(lost: LostWrite): void {
    if (!this.lost.has(lost.id)) this.lost.set(lost.id, lost);
  }

  /**
   * Runs `fn` on `client` until it succeeds or the retry deadline (counted from `since`, default
   * now) passes; after each failure rediscovers the cluster, then waits an exponential backoff
   * with jitter that never overshoots the deadline. Failed attempts are counted by kind once the
   * run has started.
   */
  private async attempt<T>(
    client: ProbeClient,
    fn: () => Promise<T>,
    since = this.clock.now(),
  ): Promise<AttemptOutcome<T>> {
    const deadline = Math.max(since + this.retryDeadlineMs, this.clock.now());
    let attempts = 0;
    let error: string | undefined;
    let errorKind: string | undefined;
    while (true) {
      attempts += 1;
      try {
        const value = await this.withTimeout(fn);
        const out: AttemptOutcome<T> = { ok: true, value, attempts };
        if (error !== undefined) out.error = error;
        if (errorKind !== undefined) out.errorKind = errorKind;
        return out;
      } catch (err) {
        error = describeError(err);
        errorKind = errorKindOf(client, err);
        this.errorCounts.set(error, (this.errorCounts.get(error) ?? 0) + 1);
        if (!this.verifying) this.measure?.attemptFailed(this.clock.now(), errorKind);
        this.logger.debug('probe attempt failed', { attempt: attempts, error, kind: errorKind });
      }
      if (this.clock.now() >= deadline) return { ok: false, attempts, error, errorKind };
      try {
        await this.rediscover(client);
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
      // A reason made once: abort() without one builds a DOMException with a stack trace, a cost
      // every operation of a 1,000 ops/s load would pay.
      cancel.abort(SETTLED);
    }
  }

  /** One rediscovery per client at a time: concurrent callers wait for the one in flight. */
  private rediscover(client: ProbeClient): Promise<void> {
    let running = this.rediscovering.get(client);
    if (!running) {
      running = this.withTimeout(() => client.rediscover()).finally(() => this.rediscovering.delete(client));
      this.rediscovering.set(client, running);
    }
    return running;
  }

  private async closeClients(): Promise<void> {
    for (const client of new Set(this.clients)) {
      try {
        await client.close();
      } catch (err) {
        this.logger.warn('probe client close failed', { error: describeError(err) });
      }
    }
  }

  private async finish(loop: Promise<void>): Promise<ProbeReport> {
    this.stopping = true;
    this.abort.abort(new OperationalError('probe-stopped', 'probe stopped'));
    try {
      await loop;
      this.measure!.finish(this.stoppedAt ?? this.clock.now());
      this.verifying = true;
      await this.verify();
    } finally {
      await this.closeClients();
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
    const client = this.clients[0]!;
    this.lost.clear();
    this.unverifiedWrites = 0;
    for (let i = 0; i < ids.length; i += this.verifyBatchSize) {
      const batch = ids.slice(i, i + this.verifyBatchSize);
      const outcome = await this.attempt(client, () => client.readMany(batch));
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
      engine: this.engine,
      runId: this.runId,
      startedAt: this.startedAt ?? 0,
      stoppedAt: this.stoppedAt ?? 0,
      load: this.load,
      seconds: this.seconds(),
      lost: [...this.lost.values()].slice(0, MAX_LOST_RECORDED),
      errors,
      operations: [...this.operations],
      failedAttempts: [...this.measure!.attemptErrors],
    };
  }
}
