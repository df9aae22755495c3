/**
 * The plan: what Baton will do, in order, before anything moves. Produced by `buildPlan` from an
 * observed snapshot, shown by `baton plan`, stored in the status when an upgrade starts.
 */
import type { BatchPolicy, Role } from '../core/types.js';

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
}
