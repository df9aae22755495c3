/**
 * The vocabulary every layer shares: what a member is, what an observation of a cluster holds, what
 * a user asks for (the spec) and what Baton records (the status, which is also the journal).
 *
 * These shapes are persisted (journal files, the `Upgrade` resource's spec and status), so fields
 * are added, never renamed; everything is plain JSON (numbers are milliseconds since the epoch).
 */
/** Lifecycle of an upgrade. Terminal phases: Completed, Failed, Cancelled, Expired. */
export type Phase =
  | 'Pending'
  | 'Prechecking'
  | 'Running'
  | 'Paused'
  | 'AwaitingFinalization'
  | 'Completed'
  | 'Failed'
  | 'Cancelled'
  | 'Expired';

export const TERMINAL_PHASES: readonly Phase[] = ['Completed', 'Failed', 'Cancelled', 'Expired'];

/** True when nothing more will ever happen to an upgrade in this phase. */
export function isTerminal(phase: Phase): boolean {
  return TERMINAL_PHASES.includes(phase);
}

/**
 * A member's role as its database sees it. `leader`/`follower` for raft groups (etcd, PD),
 * `primary`/`replica` for replication (PostgreSQL, Redis), `none` for stateless tiers (TiDB SQL).
 */
export type Role = 'leader' | 'follower' | 'primary' | 'replica' | 'learner' | 'none';

/** True for the role that must go last and be handed over first. */
export function isLeaderRole(role: Role | undefined): boolean {
  return role === 'leader' || role === 'primary';
}

/** What a Platform knows about one member: where it runs and whether it is up. */
export interface PlatformMember {
  /** Unique within the cluster, e.g. `etcd-2`, `tikv-0`. */
  name: string;
  /** The component (tier) the member belongs to, e.g. `pd`, `tikv`, `etcd`. */
  component: string;
  /** Position within the component; StatefulSet ordinal or creation order. */
  ordinal: number;
  /** The version the member runs now (for a member being replaced: the version it is starting). */
  version: string;
  /** The process is up / the pod is Ready. Says nothing about replication. */
  ready: boolean;
  /** The member exists (process alive or pod present), ready or not. */
  running: boolean;
  /** Admin endpoint the engine talks to, e.g. `127.0.0.1:2379`. */
  endpoint?: string;
  /** Platform detail worth showing ("CrashLoopBackOff", "exited with code 1"). */
  detail?: string;
  /**
   * The member failed on its current version and will not come up by waiting (process exited
   * after start, CrashLoopBackOff, image pull failure). `detail` says why.
   */
  failed?: boolean;
  /**
   * Set when the platform can only replace members of a component in a fixed order (StatefulSet
   * partition stepping: highest ordinal first). Members are then replaced in ascending rank; the
   * safety order still decides leadership transfers, budgets and quorum.
   */
  rollRank?: number;
  /**
   * Position of the member's component in the platform's own order (the StatefulSets of a cluster
   * reference in its engine's order, or a list of StatefulSets as given). Components the engine's
   * rules do not name are upgraded in this order (then by name) instead of by name alone.
   */
  componentRank?: number;
}

/** What an Engine knows about one member, read through the database's own admin API. */
export interface EngineMemberState {
  role: Role;
  /** The database considers this member healthy (serving, raft member, replication link up). */
  healthy: boolean;
  /** Replicated state is within the engine's threshold of the leader/primary. */
  caughtUp: boolean;
  /**
   * How far behind the leader/primary the member is, in engine units (raft entries, WAL bytes,
   * replication offset). 0 for the leader. Larger means more lagging.
   */
  lag: number;
  /** Leaderships or primaries this member holds (TiKV region leaders, Redis primary shards). */
  leaderCount?: number;
  /**
   * For engines whose drain leaves something in place that the database itself may drop (TiKV:
   * the store in PD's evict-leader scheduler, which PD can forget when its leader changes): true
   * while it is in place, false when it is gone. The runner drains again a draining member that
   * reports false. Evacuating engines (a node): true while everything left on the member is
   * already leaving (pods terminating), so draining it again on the back-off would do nothing;
   * false while something is not (an eviction refused, a pod bound since). Absent for engines
   * without such a thing.
   */
  drainInPlace?: boolean;
  /** Human-readable detail, e.g. "raft index 1200, leader at 1250". */
  detail?: string;
  /**
   * Members of other databases this member hosts (a Kubernetes node running database pods): the
   * batch planner never stops members together when that would take more of one database down than
   * it tolerates.
   */
  hosts?: HostedMember[];
}

/** A member of some database that runs on (is hosted by) a member of this cluster. */
export interface HostedMember {
  /** The database it belongs to, e.g. `default/etcd` (its StatefulSet). */
  group: string;
  /** Its own name, e.g. the pod `etcd-1`. */
  member: string;
  /** Members of `group` that may be down at once (raft: a minority; otherwise 1). */
  tolerates: number;
  /** Members of `group` down now as its database (or controller) sees it, this one included. */
  groupDown: number;
  /** This member is up and healthy now. */
  healthy: boolean;
}

/** A member as the runner sees it: platform facts plus, when reachable, engine facts. */
export interface MemberView extends PlatformMember {
  /** Absent when the engine could not reach the member. */
  engine?: EngineMemberState;
}

/** Cluster-wide facts an engine reports alongside per-member states. */
export interface ClusterHealth {
  /** The database as a whole serves reads and writes. */
  healthy: boolean;
  /** Why it is or is not healthy, in one line. */
  detail: string;
  /** Engine-specific figures (under-replicated ranges, slots served...). */
  facts?: Record<string, number | string | boolean>;
  /**
   * Conditions a user must act on that do not stop the upgrade, one line each with what to do
   * (TiDB: the force-upgrade annotation still set after PD recovered). The runner keeps them in
   * the status (`warnings`) while they hold and records each new one as a `warning` history entry
   * (a Warning event); `baton status` and `baton plan` show them.
   */
  warnings?: string[];
}

/** One observation of a cluster; the only input (with the status) to the runner's decisions. */
export interface Snapshot {
  observedAt: number;
  members: MemberView[];
  health: ClusterHealth;
}

/** Result of one named precheck. */
export interface PrecheckResult {
  name: string;
  ok: boolean;
  reason: string;
  /**
   * Set when the check failed and does not block: `force` named it, or the cluster itself forces
   * it (TiDB Operator's `tidb.pingcap.com/force-upgrade` annotation for `pd-available`).
   */
  forced?: boolean;
}

/** How many members go at once. */
export type BatchPolicy =
  | { kind: 'serial' }
  | { kind: 'fixed'; size: number }
  | { kind: 'percent'; percent: number }
  /** 1, 2, 4, ... never more than `capPercent` of the members (at least 1); 1 again after a pause. */
  | { kind: 'exponential'; capPercent: number };

/** What to do when a step outlives its timeout. `proceed` applies only where the engine says it is safe. */
export type TimeoutPolicy = 'pause' | 'proceed';

/**
 * What to do when a drain outlives its timeout: the {@link TimeoutPolicy}s, or, for engines that
 * evacuate their members (Kubernetes nodes), `delete` the pods an eviction cannot move, or `give-up`
 * on the member and leave it cordoned for a human (it counts as a failed member).
 */
export type DrainTimeoutPolicy = TimeoutPolicy | 'delete' | 'give-up';

/** Per-step time limits in seconds, with the policy applied when one runs out. */
export interface TimeoutsSpec {
  /** Moving leadership/primaries away from a member. */
  drainSeconds: number;
  drainPolicy: DrainTimeoutPolicy;
  /** From replacement to ready and caught up. */
  readySeconds: number;
  readyPolicy: TimeoutPolicy;
}

/** How the roll proceeds. */
export interface StrategySpec {
  batch: BatchPolicy;
  /** Most members of one component that may be unavailable at once (the disruption budget). */
  maxUnavailable: number;
  /** Time to wait after a batch is ready before the next starts. */
  soakSeconds: number;
  pauseAfterFirstBatch: boolean;
  pauseAfterEachBatch: boolean;
  timeouts: TimeoutsSpec;
  /**
   * Members that may fail (not ready in time, a failed upgrade Job, a drain given up) and be left
   * aside while the upgrade goes on; one more pauses it. Absent or 0: the first failure pauses.
   */
  maxFailedMembers?: number;
}

/** A component of the cluster and where it sits in the order. */
export interface ComponentSpec {
  name: string;
  /** Stage the component belongs to (operator -> cluster -> databases). Default `cluster`. */
  stage?: string;
  /** Components that must be fully upgraded and healthy before this one starts. */
  prerequisites?: string[];
  /** Target version for this component when it differs from the upgrade's. */
  version?: string;
}

/** Whether finalization happens by itself once every member runs the target version. */
export type FinalizeMode = 'auto' | 'manual';

/**
 * The client probe of an upgrade driven with `--probe`: its load and its safety gate. A threshold
 * that is exceeded pauses the upgrade with the probe's figure as the cause.
 */
export interface ProbeSpec {
  /** Operations per second offered (open loop); absent: the light closed loop. */
  rate?: number;
  /** Connections, i.e. operations in flight at most. */
  workers?: number;
  /** Share of reads, 0..1. */
  readRatio?: number;
  /** Longest tolerated window without an acknowledged write. */
  maxWriteGapMs?: number;
  /** Highest tolerated share of failed operations, 0..1. */
  maxErrorRate?: number;
  /** Highest tolerated p99 latency of the operations acknowledged in the last 10 s. */
  maxP99Ms?: number;
}

/**
 * What the user asks for. Control fields (`paused`, `cancel`, `finalize...`, `rollback`) are
 * flipped by `baton pause|resume|cancel|finalize|rollback` or `kubectl patch`; the runner only
 * reads the spec, never writes it.
 */
export interface UpgradeSpec {
  /** Name of this upgrade (unique per cluster). */
  name: string;
  /** Name of the cluster as the platform knows it. */
  cluster: string;
  engine: string;
  /** Target version for every component without its own. */
  version: string;
  components?: ComponentSpec[];
  strategy: StrategySpec;
  paused: boolean;
  cancel: boolean;
  /** Names of prechecks whose failure does not block; `*` skips every failing check. */
  force: string[];
  finalize: FinalizeMode;
  /** Set by `baton finalize` when `finalize` is manual. */
  finalizeRequested: boolean;
  /** Set by `baton rollback`: roll every upgraded member back to its original version. */
  rollback: boolean;
  /** Pause before the leader/primary of each component is touched until resumed. */
  supervised: boolean;
  /** A paused upgrade ends Expired after this long. Default 15 days. */
  pausedExpirySeconds: number;
  /** The probe's load and safety gate when the upgrade is driven with a probe. */
  probe?: ProbeSpec;
  /** Bumped on every spec change (the Kubernetes `metadata.generation` where there is one). */
  generation: number;
}

/** Where a member is in its own replacement. */
export type MemberState = 'pending' | 'draining' | 'replacing' | 'verifying' | 'done' | 'failed';

/** Progress of one member within the current pass. */
export interface MemberProgress {
  component: string;
  state: MemberState;
  /** Version the member ran before this upgrade touched it (the rollback target). */
  from: string;
  /** Version this pass takes it to. */
  to: string;
  /** When the member entered its current state. */
  since: number;
  /** Batch number (1-based, across the pass) the member went in. */
  batch?: number;
  /** The member was the leader/primary when it was drained; target it was handed to. */
  leadershipMovedTo?: string;
  /**
   * The member chosen to take its leadership, journalled with the drain's intent, so a drain
   * re-issued after a crash asks for the same hand-over.
   */
  drainTarget?: string;
  /** Number of times `replace` was issued (1 normally; recorded to prove nothing restarts twice). */
  replaceCalls: number;
  /** The drain was requested (so a re-observation does not request it again). */
  drainIssued?: boolean;
  /** Drains requested so far and when the last one was (evacuating engines repeat them). */
  drainCalls?: number;
  drainedAt?: number;
  /** The platform accepted the replacement. */
  replaceIssued?: boolean;
  /** The engine's per-member restore ran after the member came back. */
  restored?: boolean;
  /** When the restore ran (the wait for leaderships to come back counts from here). */
  restoredAt?: number;
  /** Leaderships the member held when its drain was decided (TiKV region leaders). */
  leadersBefore?: number;
  /** The last action on this member failed and paused the upgrade (cleared on resume). */
  lastError?: string;
  finishedAt?: number;
}

/** Kinds of step; also the keys of observed step durations used for the ETA. */
export type StepKind = 'precheck' | 'hook' | 'drain' | 'replace' | 'verify' | 'soak' | 'finalize';

/** One line of history: a phase transition, a step, a control, or a block. */
export interface HistoryEntry {
  at: number;
  /** `phase`, `step`, `control`, `block`, `error`, `force`, `warning` (an engine warning appeared), `summary`. */
  type: 'phase' | 'step' | 'control' | 'block' | 'error' | 'force' | 'warning' | 'summary';
  message: string;
  member?: string;
  phase?: Phase;
  /** For a member's step: the state the member entered (timelines are drawn from these). */
  state?: MemberState;
}

/** A step that is blocked by a named check. */
export interface BlockedBy {
  check: string;
  reason: string;
  since: number;
}

/** Where the upgrade stands, in the terms the CLI and printer columns show. */
export interface ProgressSummary {
  /** Members at the target of the current pass, over all members. */
  done: number;
  total: number;
  stage?: string;
  component?: string;
  /** "member i of n" within the component. */
  memberIndex?: number;
  memberTotal?: number;
  batchIndex?: number;
  batchTotal?: number;
  /** The step in progress, e.g. "replace etcd-1 with 3.5.9". */
  step?: string;
  /** Members given up on in this pass (left as they are for a human). */
  failed?: number;
  /** Where it stands in the engine's words: "control plane node 2 of 3", "workers 37 of 200". */
  text?: string;
  /** Estimated remaining time in ms, from observed step durations. */
  etaMs?: number;
}

/** Direction of the current pass. */
export type Direction = 'forward' | 'rollback';

/**
 * Everything Baton records about an upgrade. It is the journal: the runner persists it atomically
 * after every decision and before every disruptive step, and resumes from it after a crash.
 */
export interface UpgradeStatus {
  phase: Phase;
  /** Reason of the last decision, verbatim. */
  reason: string;
  /** The spec generation this status reflects. */
  observedGeneration: number;
  direction: Direction;
  /** Index into the plan's version path (multi-step upgrades). */
  hop: number;
  /** The plan computed when the upgrade started (shown by `baton plan`). */
  plan?: Plan;
  prechecks: PrecheckResult[];
  /** When prechecks last ran, and for which spec generation (a spec change re-runs them at once). */
  prechecksAt?: number;
  prechecksGeneration?: number;
  /** Precheck names skipped by force, reported while `force` stays set. */
  forced: string[];
  /** The engine's warnings at the last observation (see {@link ClusterHealth.warnings}); absent when none. */
  warnings?: string[];
  /** Per member progress of the current pass. */
  members: Record<string, MemberProgress>;
  /** Engine hooks already run in this pass (`beforeUpgrade`, `beforeComponent:tikv`, ...). */
  hooksDone: string[];
  /**
   * The platform's hold on the members' owner (see `Platform.custody`): `held` once the take-over
   * step ran, `returned` once the hand-back did. Absent before either, and for platforms without one.
   */
  custody?: 'held' | 'returned';
  /**
   * A hand-back that found the workload not at rest yet: since when, the last try and why. The
   * runner tries again after a poll, until the ready timeout.
   */
  handBackWait?: { since: number; at: number; reason: string };
  /** Batches started in the current pass, and since the last pause (exponential sizing). */
  batchesStarted: number;
  batchesSincePause: number;
  /** Members of the batch in flight, if any. */
  currentBatch: string[];
  /** When the current batch became fully ready (soak starts here). */
  batchReadyAt?: number;
  blockedBy?: BlockedBy;
  /** Auto-pause cause; cleared on resume. */
  pauseCause?: string;
  pausedAt?: number;
  /** The pause was a supervised stop before this member (cleared on resume). */
  supervisedGate?: string;
  /** The pause was a pause-after-batch stop for this batch number. */
  batchGate?: number;
  /**
   * Spec generation when the runner paused by itself (error, gate, probe). Resuming needs a newer
   * generation with `paused: false`, which `baton resume` writes.
   */
  pausedGeneration?: number;
  /** Supervised gates already passed (members whose leader step a human approved). */
  supervisedPassed?: string[];
  /** Consecutive failures of the same action, for bounded retries of transient errors. */
  retry?: { key: string; count: number; lastError: string };
  finalized: boolean;
  /** Recent durations per step kind, newest last, capped; feeds the ETA. */
  stepDurations: Partial<Record<StepKind, number[]>>;
  progress: ProgressSummary;
  history: HistoryEntry[];
  startedAt?: number;
  finishedAt?: number;
  updatedAt: number;
}

// The plan: what Baton will do, in order, before anything moves. Produced by `buildPlan` from an
// observed snapshot, shown by `baton plan`, stored in the status when an upgrade starts.

/** One rolling pass from one version to the next; a multi-step upgrade has several. */
export interface VersionHop {
  from: string;
  to: string;
  /** Compatibility notes of every release this hop passes through (from excluded, to included). */
  notes: string[];
  /** This hop needs finalization before the next (CockroachDB majors). */
  finalize: boolean;
}

/** A member in its planned position, with why it is there. */
export interface PlannedMember {
  name: string;
  ordinal: number;
  role?: Role;
  /** Version before the upgrade. */
  version: string;
  ready: boolean;
  /** Why this member is at this position ("unready first", "follower, lag 120", "leader last"). */
  reason: string;
  /** Leadership/primaries will be moved away from it before it stops. */
  leadershipMove: boolean;
}

/** A batch of members of one component that go together. */
export interface PlannedBatch {
  /** 1-based within the component. */
  index: number;
  members: string[];
}

/** One component: its members in safe order, split into batches. */
export interface PlannedComponent {
  name: string;
  stage: string;
  prerequisites: string[];
  /** Target version of this component (last hop). */
  version: string;
  members: PlannedMember[];
  batches: PlannedBatch[];
  /** Members already at the target: nothing to do for them. */
  upToDate: string[];
  /**
   * This component's own rolling passes, from its lowest member version not at the target (may
   * be shorter than the plan's `path`, which is the widest component's). Absent in plans stored
   * before this field existed.
   */
  path?: VersionHop[];
  /**
   * Target of this component in each hop of the plan's `path` (same length), `null` where it stays
   * on the version it has (a node pool the version skew policy lets wait while the control plane takes
   * an intermediate minor). Absent: every hop's `to`, and the component's own version in the last.
   */
  hopTargets?: (string | null)[];
  /** The batch policy this component uses when it differs from the plan's (control plane: serial). */
  batchPolicy?: BatchPolicy;
}

/** A stage and its components in order. */
export interface PlannedStage {
  name: string;
  components: string[];
}

/** The whole preview. */
export interface Plan {
  engine: string;
  cluster: string;
  /** Lowest version found among members before the upgrade (the usual "from"). */
  from: string;
  to: string;
  path: VersionHop[];
  stages: PlannedStage[];
  /** Components in the order they will be upgraded (stages flattened, prerequisites first). */
  components: PlannedComponent[];
  /** Named prechecks that run before anything moves. */
  prechecks: { name: string; description: string }[];
  /** Expected leadership moves, e.g. "etcd-0 (leader) -> most caught-up healthy follower". */
  leadershipMoves: string[];
  batchPolicy: BatchPolicy;
  maxUnavailable: number;
  /** Estimated total duration in ms, from the engine's step estimates (or observed durations). */
  estimatedMs: number;
  /** Problems already visible (unready members, failing health) that will block or slow it. */
  warnings: string[];
  /** Whether the last hop needs finalization (then rollback stays possible until finalized). */
  finalization: boolean;
  /**
   * The platform's take-over and hand-back steps (see `Platform.custody`), one line each; absent
   * when the platform has none. The runner takes these steps only when the plan lists them.
   */
  custody?: { takeOver: string; handBack: string };
}
