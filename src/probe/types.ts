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
 * A database client as the probe uses it. One operation is in flight at a time; after any failed
 * call the probe calls {@link ProbeClient.rediscover} before it retries.
 */
export interface ProbeClient {
  /** Engine name for reports, e.g. `etcd`, `postgres`, `redis`. */
  readonly engine: string;
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
}

/** Kind of a logical operation. */
export type ProbeOperationKind = 'write' | 'read';

/**
 * One logical operation with all its attempts. `start` and `end` are clock milliseconds; `end`
 * is when it was acknowledged (ok) or given up (not ok).
 */
export interface ProbeOperation {
  kind: ProbeOperationKind;
  id: string;
  start: number;
  end: number;
  ok: boolean;
  /** Last error, one line; set when not ok and, for ok operations, when an attempt failed first. */
  error?: string;
  /** Attempts made, at least 1. */
  attempts: number;
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
  /** Latency of successful operations from first attempt to acknowledgement, retries included. */
  p50Ms: number;
  p99Ms: number;
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

/** Everything a finished run knows. */
export interface ProbeReport extends ProbeFigures {
  engine: string;
  runId: string;
  startedAt: number;
  stoppedAt: number;
  /** Up to 100 lost writes, for the record. */
  lost: LostWrite[];
  /** Distinct error messages with how often an attempt failed with each, most frequent first. */
  errors: { message: string; count: number }[];
  /** Every logical operation in order. */
  operations: ProbeOperation[];
}

/** Limits a probe must stay within; an absent limit is not checked (lost writes: 0 by default). */
export interface ProbeBudget {
  /** Highest tolerated failedOps / ops, e.g. 0.01. */
  maxErrorRate?: number;
  /** Longest tolerated window without a successful write. */
  maxGapMs?: number;
  /** Lost or unverifiable acknowledged writes tolerated; default 0. */
  maxLostWrites?: number;
}

/** Whether a run stays within its budget, with the reason in one line. */
export interface ProbeVerdict {
  ok: boolean;
  reason: string;
}
