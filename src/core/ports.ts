/**
 * The two ports all I/O goes through, plus the journal store. The runner never touches a process,
 * a pod or a socket directly: it asks a {@link Platform} where members run and to replace them, and
 * an {@link Engine} what the database thinks of them. Any engine runs on any platform.
 */
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import type {
  ClusterHealth,
  EngineMemberState,
  MemberView,
  PlatformMember,
  PrecheckResult,
  Snapshot,
  UpgradeSpec,
  UpgradeStatus,
} from './types.js';
import type { EngineRules } from './rules.js';

/** Things every port call may use; passed in, never imported. */
export interface PortContext {
  clock: Clock;
  logger: Logger;
  /** Aborted when the runner is shutting down; long calls should give up promptly. */
  signal?: AbortSignal;
}

/** Options for replacing a member. */
export interface ReplaceOptions {
  /**
   * Engine-specific settings the new member must start with (e.g. PostgreSQL: `primary_conninfo`
   * of the primary to follow). Platforms pass them to the engine's member configuration.
   */
  settings?: Record<string, string>;
}

/** Where members run: processes, pods, or a simulation. */
export interface Platform {
  readonly name: string;
  /** Every member of the cluster, in no particular order. */
  listMembers(ctx: PortContext): Promise<PlatformMember[]>;
  /**
   * Replace one member so that it runs `version`: stop it gracefully and start it on the target
   * version with the same data. Returns once the replacement is under way (the member may not be
   * ready yet). Idempotent: a member already running (or starting) `version` is left alone, so a
   * call repeated after a crash never restarts a member twice.
   */
  replaceMember(name: string, version: string, opts: ReplaceOptions, ctx: PortContext): Promise<void>;
  /**
   * True when the platform's writes outlive Baton: a replacement (a StatefulSet's partition lowered,
   * an upgrade Job created), a take-over or a hand-back, once asked for, is carried out by the
   * cluster itself even if Baton dies the next instant, and the next observation shows it. The
   * runner then performs these actions first and journals their intent together with their
   * outcome, in one write: a crash before that write only means the same action is decided again,
   * and each is idempotent. Platforms where Baton itself carries a replacement out (the local
   * platform restarts the process) leave it unset, and every intent is journalled before its
   * action. Drains, restores, hooks and finalization are always journalled first: what they set up
   * must be undone later, and only the journal remembers that they ran.
   */
  readonly durableActions?: boolean;
  /**
   * Stop a member without starting it again (PostgreSQL switchover stops the old primary before
   * promoting a standby). Idempotent. Platforms that cannot stop without replacing omit it.
   */
  stopMember?(name: string, ctx: PortContext): Promise<void>;
  /**
   * Platform-level prechecks run with the engine's (e.g. the local platform: the target version's
   * binaries are installed). Optional.
   */
  prechecks?(snapshot: Snapshot, spec: UpgradeSpec, ctx: PortContext): Promise<PrecheckResult[]>;
  /**
   * Present when the members belong to an owner that would roll them by itself (Kubernetes: the
   * StatefulSet controller, TiDB Operator): the runner takes the workload over before the first
   * member moves and hands it back when the pass ends, as journalled steps of their own.
   */
  readonly custody?: Custody;
  /** The durable store of this cluster's upgrades. */
  readonly journal: JournalStore;
}

/** What a hand-back did, or why it cannot happen yet. */
export type HandBackResult =
  /** Done: `message` says what was given back and what stays held, and why. */
  | { done: true; message: string }
  /** The workload is not at rest yet (the owner's controller is behind): try again later. */
  | { done: false; reason: string };

/**
 * Taking members over from their owner and giving them back. Observation never writes: these two
 * calls are the platform's only writes besides member replacements, and the runner journals each
 * one's intent before it runs, or with its outcome where the platform's actions are durable
 * (`Platform.durableActions`), so a crash between any two steps resumes with the next or repeats
 * the last.
 */
export interface Custody {
  /** One line each for `baton plan`: what taking over and handing back mean for this target. */
  describe(ctx: PortContext): Promise<{ takeOver: string; handBack: string }>;
  /**
   * Stop the owner from rolling members by itself (freeze a StatefulSet's partition, pause a
   * TidbCluster). Idempotent. Returns what was done, for history and Events.
   */
  takeOver(spec: UpgradeSpec, ctx: PortContext): Promise<string>;
  /**
   * Give the workload back to its owner as `spec` leaves it (completed, rolled back or cancelled):
   * what the roll finished goes back, what it left half-way stays held and the message says so.
   * Idempotent; `done: false` while the owner's controller has not caught up with the last step.
   */
  handBack(spec: UpgradeSpec, ctx: PortContext): Promise<HandBackResult>;
}

/** What an engine reports about the whole cluster in one observation. */
export interface EngineObservation {
  /** State per member name; a member the engine could not reach is absent. */
  members: Record<string, EngineMemberState>;
  health: ClusterHealth;
}

/** Result of asking an engine to move leadership away from a member. */
export interface DrainResult {
  /** Member that now (or soon) holds what the drained member held, when there is one. */
  movedTo?: string;
  /** What was done, for history ("moved etcd leadership from etcd-0 to etcd-2"). */
  message: string;
}

/**
 * What a database knows: roles and health through its own admin API, how to move leadership away,
 * whether a restarted member has caught up, prechecks, version rules and finalization.
 */
export interface Engine {
  readonly name: string;
  /** Pure knowledge: components, topology, version rules, prechecks, finalization. */
  readonly rules: EngineRules;
  /** Roles, lag and health of the given members. Must not throw for an unreachable member. */
  observe(members: PlatformMember[], ctx: PortContext): Promise<EngineObservation>;
  /** Run every named precheck in `rules.prechecks` against the observed cluster. */
  prechecks(snapshot: Snapshot, spec: UpgradeSpec, ctx: PortContext): Promise<PrecheckResult[]>;
  /**
   * Move leadership/primaries away from `member` before it stops, preferring `target` (the most
   * caught-up healthy member chosen by the planner). Idempotent: a member that holds nothing is a
   * no-op. Returns once the move is requested; the runner observes until it has happened.
   */
  drain(
    member: MemberView,
    target: MemberView | undefined,
    snapshot: Snapshot,
    ctx: EngineActionContext,
  ): Promise<DrainResult>;
  /**
   * Why {@link drain} cannot hand `member` over on `platform` in a way no retry would change (a
   * PostgreSQL primary on a platform that cannot stop a member without replacing it:
   * `platform-cannot-stop`), judged from the observed `snapshot` without touching anything;
   * undefined when it can, or when the member holds nothing. Lets a precheck name the member before
   * anything moves. Optional: without it every hand-over is assumed possible.
   */
  handOverBlocked?(member: MemberView, snapshot: Snapshot, platform: Platform): HandOverBlocked | undefined;
  /**
   * Settings the replacement of `member` must start with (e.g. the primary a PostgreSQL standby
   * follows). Optional.
   */
  replaceOptions?(member: MemberView, snapshot: Snapshot, ctx: PortContext): Promise<ReplaceOptions>;
  /** Undo per-member preparation after the member is back (TiKV: remove evict-leader scheduler). */
  restore?(member: MemberView, snapshot: Snapshot, ctx: PortContext): Promise<void>;
  /**
   * Named hooks around the roll: `beforeUpgrade` (CockroachDB preserve_downgrade_option),
   * `beforeComponent`/`afterComponent` (TiDB DDL pause), `afterUpgrade` (sweep leftovers).
   * Idempotent. Only hook names listed in `rules.hooks` are called.
   */
  hook?(
    name: string,
    component: string | undefined,
    snapshot: Snapshot,
    ctx: EngineActionContext,
  ): Promise<string>;
  /** Make the upgrade permanent (CockroachDB: reset preserve_downgrade_option). Idempotent. */
  finalize?(snapshot: Snapshot, ctx: PortContext): Promise<string>;
  /** Release connections and timers. */
  close?(): Promise<void>;
}

/** Why an engine cannot hand a member over on a platform: the error code its drain fails with, and why. */
export interface HandOverBlocked {
  code: string;
  message: string;
}

/** Context for engine actions that may need the platform (PostgreSQL switchover stops a member). */
export interface EngineActionContext extends PortContext {
  platform: Platform;
  spec: UpgradeSpec;
  /**
   * The drain of the member outlived its timeout and the spec's drain policy applies (an evacuating
   * engine with policy `delete` deletes what an eviction cannot move).
   */
  timedOut?: boolean;
}

/** A stored upgrade: the user's spec and Baton's status, each with its own revision. */
export interface UpgradeRecord {
  spec: UpgradeSpec;
  status: UpgradeStatus;
  /** Opaque revision of the status for optimistic concurrency (resourceVersion on Kubernetes). */
  revision: string;
}

/**
 * Durable store of upgrades. Spec and status are written separately so a control verb (spec) and
 * the runner (status) never overwrite each other. Status writes are atomic and conditional.
 */
export interface JournalStore {
  /** Create a new upgrade; fails with BadInputError if one with that name exists and is not terminal. */
  create(spec: UpgradeSpec, status: UpgradeStatus): Promise<UpgradeRecord>;
  /** The upgrade by name, or undefined. */
  get(name: string): Promise<UpgradeRecord | undefined>;
  /** Every upgrade of this cluster. */
  list(): Promise<UpgradeRecord[]>;
  /**
   * Replace the status if its revision is still `revision`; throws ConflictError otherwise.
   * Returns the new revision.
   */
  writeStatus(name: string, status: UpgradeStatus, revision: string): Promise<string>;
  /** Apply `change` to the spec (read-modify-write; bumps `generation`). */
  updateSpec(name: string, change: (spec: UpgradeSpec) => UpgradeSpec): Promise<UpgradeSpec>;
  /** Remove an upgrade record (cluster deletion). */
  delete?(name: string): Promise<void>;
}
