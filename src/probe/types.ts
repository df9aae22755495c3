/**
 * The probe's vocabulary: the client every engine provides, the record of one operation and the
 * figures a run produces. A probe is a client workload that runs against a cluster while it is
 * upgraded, the way an application would, so Baton can prove availability and that no
 * acknowledged write was lost.
 */

/**
 * Where the cluster's members answer now, as `host:port` strings. Called again on every
 * rediscovery, so a probe follows members that moved (new ports, a switched-over primary).
 */
export type EndpointSource = () => Promise<string[]>;

/**
 * A database client as the probe uses it: one application connection. One operation is in flight
 * at a time unless the client says it is {@link ProbeClient.concurrent} (otherwise a probe with
 * several workers makes one client per worker); after any failed call the
 * probe calls {@link ProbeClient.rediscover} before it retries. Adding an engine to the probe is one
 * file implementing this interface plus its line in `createProbeClient`.
 */
export interface ProbeClient {
  /** Engine name for reports, e.g. `etcd`, `postgres`, `redis`. */
  readonly engine: string;
  /**
   * True when one client carries many operations at once (multiplexed connections such as
   * gRPC or Redis pipelining): the probe then shares one client between its workers, as an
   * application would, and never runs two rediscoveries of it at once.
   */
  readonly concurrent?: boolean;
  /** Opens connections and prepares storage (tables). Throws when the cluster cannot be reached. */
  connect(): Promise<void>;
  /**
   * Stores `value` under `id`. Resolving means the database acknowledged the write; writing the
   * same id and value again is harmless (retries after an ambiguous failure do exactly that).
   */
  write(id: string, value: string): Promise<void>;
  /** The value stored under `id`, or undefined when there is none. */
  read(id: string): Promise<string | undefined>;
  /** Values for many ids at once, in the order of `ids` (undefined where missing). */
  readMany(ids: readonly string[]): Promise<(string | undefined)[]>;
  /** Re-reads the endpoints and reconnects to wherever the cluster now serves writes. */
  rediscover(): Promise<void>;
  /** Closes every connection; the client is not used afterwards. */
  close(): Promise<void>;
  /**
   * Short stable name of why a call failed, for errors by kind (`no-leader`, `read-only`,
   * `cluster-down`); undefined leaves it to the generic kinds (`timeout`, `refused`, `reset`, ...).
   */
  errorKind?(err: unknown): string | undefined;
}

/** Makes a new client each time it is called (one per worker). */
export type ProbeClientFactory = () => ProbeClient;

/** Kind of a logical operation. */
export type ProbeOperationKind = 'write' | 'read';

/**
 * One logical operation with all its attempts. `start` and `end` are clock milliseconds: `start`
 * is when it was due (open loop) or started (closed loop), `end` when it was acknowledged (ok) or
 * given up (not ok). An operation that waited past its retry deadline for a free worker was never
 * sent: `attempts` 0.
 */
export interface ProbeOperation {
  kind: ProbeOperationKind;
  id: string;
  start: number;
  end: number;
  ok: boolean;
  /** Last error, one line; set when not ok and, for ok operations, when an attempt failed first. */
  error?: string;
  /** Attempts made; 0 when it was never sent. */
  attempts: number;
  /** Kind of the last error (see `errors.ts`), when there was one. */
  errorKind?: string;
}

/** Figures of a run; live while it runs ({@link ProbeFigures.final} false), final after stop. */
export interface ProbeFigures {
  /** Logical operations finished (acknowledged or given up). */
  ops: number;
  writes: number;
  reads: number;
  /** Operations that did not succeed before their retry deadline, plus reads that saw a wrong value. */
  failedOps: number;
  /** failedOps / ops, 0 when no operation finished. */
  errorRate: number;
  /**
   * Longest window without a successful write: between the start and the first acknowledged
   * write, between consecutive acknowledgements, and from the last one until now (live) or
   * until the workload stopped (final).
   */
  maxGapMs: number;
  /**
   * Latency of successful operations, retries included: from when the operation was due (open
   * loop, so time spent waiting for a free worker counts) or started (closed loop) to its
   * acknowledgement.
   */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** p99 of the operations acknowledged in the last 10 s (what the `maxP99Ms` gate checks). */
  recentP99Ms: number;
  /** Operations due so far (open loop: rate x elapsed time; closed loop: the ones started). */
  offered: number;
  /** Failed attempts by kind (an operation may fail several attempts before it succeeds). */
  errorKinds: Record<string, number>;
  /** Acknowledged writes found missing or with another value. Live: seen by reads so far. */
  lostWrites: number;
  /** Acknowledged writes the final read-back could not check because reads kept failing. */
  unverifiedWrites: number;
  acknowledgedWrites: number;
  /** Reads of an acknowledged id that returned nothing or another value. */
  readMismatches: number;
  durationMs: number;
  /** True once the final read-back ran. */
  final: boolean;
}

/** An acknowledged write the cluster no longer returns as written. */
export interface LostWrite {
  id: string;
  expected: string;
  /** What the cluster returned; undefined when the key is missing. */
  actual: string | undefined;
}

/** How a run loads the cluster. */
export interface ProbeLoad {
  /** Operations per second offered (open loop); undefined for the closed loop. */
  rate?: number;
  /** Operations in flight at most (one client each). */
  workers: number;
  /** Share of operations that are reads, 0..1. */
  readRatio: number;
}

/** What one second of a run did; the series a dashboard draws and a report plots. */
export interface ProbeSecond {
  /** Start of the second, clock milliseconds. */
  at: number;
  /** Operations due in this second (open loop: the offered rate; closed loop: the ones started). */
  offered: number;
  /** Operations acknowledged in this second. */
  ok: number;
  /** Writes acknowledged in this second. */
  writesOk: number;
  /** Operations given up in this second. */
  failed: number;
  /** Latency of the operations acknowledged in this second. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Longest window without an acknowledged write that ended in this second or was still open at its end. */
  maxGapMs: number;
  /** Failed attempts in this second by kind. */
  errors: Record<string, number>;
}

/** Figures of a time window of a run (a phase of the upgrade). */
export interface ProbeWindow {
  from: number;
  to: number;
  /** Operations due per second in the window. */
  offeredPerSec: number;
  /** Operations acknowledged per second in the window. */
  achievedPerSec: number;
  ok: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Longest window without an acknowledged write overlapping this window. */
  maxGapMs: number;
  /** Failed operations by kind of their last error. */
  errors: Record<string, number>;
}

/**
 * A phase of the upgrade as the probe saw it: before the first member step (the baseline), each
 * member's step (from the runner's first step on it until it was ready and caught up), and after
 * the last one.
 */
export interface ProbePhase extends ProbeWindow {
  kind: 'before' | 'member' | 'after';
  /** The member of a `member` phase. */
  member?: string;
  /** Member phases: throughput below the baseline's, in percent of the baseline (0 when not below). */
  throughputLossPct?: number;
}

/** Everything a finished run knows. */
export interface ProbeReport extends ProbeFigures {
  engine: string;
  runId: string;
  startedAt: number;
  stoppedAt: number;
  load: ProbeLoad;
  /** One entry per second of the run. */
  seconds: ProbeSecond[];
  /** Up to 100 lost writes, for the record. */
  lost: LostWrite[];
  /** Distinct error messages with how often an attempt failed with each, most frequent first. */
  errors: { message: string; count: number }[];
  /** Every logical operation in the order it ended. */
  operations: ProbeOperation[];
  /** Failed attempts with their time and kind (the first 100,000), for per-phase figures. */
  failedAttempts: { at: number; kind: string }[];
}

/** Limits a probe must stay within; an absent limit is not checked (lost writes: 0 by default). */
export interface ProbeBudget {
  /** Highest tolerated failedOps / ops, e.g. 0.01. */
  maxErrorRate?: number;
  /** Longest tolerated window without a successful write. */
  maxGapMs?: number;
  /** Lost or unverifiable acknowledged writes tolerated; default 0. */
  maxLostWrites?: number;
  /** Highest tolerated p99 latency of the operations acknowledged in the last 10 s. */
  maxP99Ms?: number;
}

/** Whether a run stays within its budget, with the reason in one line. */
export interface ProbeVerdict {
  ok: boolean;
  reason: string;
}
