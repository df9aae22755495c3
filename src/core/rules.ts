/**
 * Pure engine knowledge shared by the planner, the runner, the simulator and the real adapters:
 * which components a cluster has and in what order, how each replicates, which version steps the
 * database supports, what must be checked first and what finalization means. No I/O here.
 */
import type { StepKind } from './types.js';
import type { Version } from './version.js';

/**
 * How a component replicates, which decides what "drain" and "safe to stop" mean.
 * - `raft`: one leader, quorum of voters (etcd, PD). Transfer leadership; keep a majority.
 * - `replication`: one primary, streaming replicas (PostgreSQL). Switchover; primary last.
 * - `multi-raft`: many leaders spread across members (TiKV, CockroachDB). Evict leaders; keep
 *   a majority of replicas for every range.
 * - `sharded`: each member may hold primaries of several shards (Redis Cluster). Fail over each.
 * - `stateless`: no leadership (TiDB SQL tier). Nothing to move.
 */
export type Topology = 'raft' | 'replication' | 'multi-raft' | 'sharded' | 'stateless';

/** A component as the engine defines it. */
export interface ComponentRule {
  name: string;
  topology: Topology;
  /** Stage: `operator`, `cluster`, `databases`... Default `cluster`. */
  stage: string;
  /** Components that must be fully upgraded and healthy first. */
  prerequisites: string[];
  /** Stopping a member must leave a majority of this component's members up. */
  quorum: boolean;
}

/** Answer of a version rule: allowed, or refused with a reason the user can act on. */
export type RuleVerdict = { ok: true } | { ok: false; reason: string };

/** What versions a database accepts and how it moves between them. */
export interface VersionRules {
  /** Whether `from -> to` may be done in one rolling pass (forward or back). */
  direct(from: Version, to: Version): RuleVerdict;
  /** Whether going from `from` down to `to` is allowed at all (before finalization). */
  allowDowngrade(from: Version, to: Version): RuleVerdict;
  /** Known releases, ascending, used to build multi-step paths when a direct step is refused. */
  releases?: string[];
  /** "Compatibility changes" a user must read when passing through `version`. */
  notes?(version: Version): string[];
}

/** A named precheck and what it verifies. */
export interface PrecheckRule {
  name: string;
  description: string;
}

/** Finalization (CockroachDB): after it, rollback is impossible. */
export interface FinalizationRule {
  /** Whether the hop `from -> to` needs finalization (a major version change). */
  required(from: Version, to: Version): boolean;
  /** One line for plans and docs. */
  description: string;
}

/** Everything pure an engine knows. */
export interface EngineRules {
  name: string;
  /** Human name, e.g. "etcd", "PostgreSQL (streaming replication)". */
  title: string;
  /** Components in the engine's default order; a cluster may have a subset. */
  components: ComponentRule[];
  versions: VersionRules;
  prechecks: PrecheckRule[];
  /** Hook names the engine implements (see Engine.hook). */
  hooks: string[];
  finalization?: FinalizationRule;
  /**
   * Set when the engine's own rule is one version for every component (TiDB Operator v2); the
   * text is quoted in a plan warning when a spec gives components different targets, which stays
   * allowed (TiDB Operator v1's per-component override). Absent: versions may differ freely.
   */
  uniformVersion?: string;
  /** Whether proceeding after a drain timeout is safe (the member then stops still leading). */
  drainTimeoutProceedSafe: boolean;
  /**
   * After a drained member is back and restored, wait until it leads again at least `fraction` of
   * the leaderships it held before its drain, unless it held fewer than `minimum`, for at most
   * `timeoutSeconds` (then go on). TiDB Operator's rule for TiKV stores: 2/3, 200, 400 s.
   */
  leadershipReturn?: { fraction: number; minimum: number; timeoutSeconds: number };
  /** The port a member's admin/client API listens on by default (etcd 2379), when there is one. */
  defaultPort?: number;
  /** Typical duration of each step in ms, used for plan estimates before any is observed. */
  stepEstimatesMs: Partial<Record<StepKind, number>>;
}

/**
 * Engine rules by name, as the composition root hands them to code below it (the simulator
 * resolves a description's engine through it). Implemented by `engines/registry.ts`.
 */
export interface RulesByName {
  /** Every engine name, sorted. */
  names(): string[];
  /** The rules of `name`; throws BadInputError `unknown-engine` naming the known engines otherwise. */
  get(name: string): EngineRules;
}
