/**
 * Pure engine knowledge shared by the planner, the runner, the simulator and the real adapters:
 * which components a cluster has and in what order, how each replicates, which version steps the
 * database supports, what must be checked first and what finalization means. No I/O here.
 */
import type { BatchPolicy, StepKind } from './types.js';
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
  /**
   * Batch policy this component always uses, whatever the spec says (Kubernetes control-plane
   * nodes: serial). Absent: the spec's policy.
   */
  batch?: BatchPolicy;
  /** The component's version follows another's within a skew (Kubernetes node pools). */
  versionSkew?: VersionSkewRule;
  /**
   * The component has its own release line (TiProxy's v1.x beside TiDB's v8.x): it moves only to
   * a version the spec gives for it (`spec.components`), never to the cluster's target, and is
   * left out of a plan that gives it none. The text says why, for the plan's note.
   */
  ownVersion?: string;
  /**
   * The component no longer exists from `version` on: a plan whose targets reach `version` while
   * the cluster still has members of it is refused with `reason` (what to do instead).
   */
  removedIn?: { version: string; reason: string };
}

/**
 * "This component never runs a newer version than `follows`, and at most `maxMinorsBehind` minor
 * versions older." On a multi-step path the component then moves only in the hops where staying
 * would break the skew, and in the last hop: a Kubernetes node pool is not drained once per minor
 * the control plane takes.
 */
export interface VersionSkewRule {
  follows: string;
  maxMinorsBehind: number;
}

/**
 * How members of an engine are taken out and brought back, where it differs from a database member
 * (leadership moved away only when held, one member per decision, restored once caught up). Every
 * field is optional and off by default.
 */
export interface StepRules {
  /**
   * Every member is drained before it is replaced, holding leadership or not (a Kubernetes node is
   * cordoned and its pods evicted), and the drain is issued again after `redrainMs` (doubling up
   * to `maxRedrainMs`) while the member still holds something (an eviction refused with 429).
   */
  evacuate?: { redrainMs: number; maxRedrainMs: number };
  /**
   * Restore as soon as the member is ready at its version, before it counts as caught up (a node is
   * uncordoned so the pods evicted from it can come back before their workloads are waited for).
   */
  restoreWhenReady?: boolean;
  /** A member the platform reports failed while its replacement runs has failed (a failed upgrade Job). */
  failedWhileReplacing?: boolean;
  /** The members of a batch take each step together: one decision drains (replaces...) them all. */
  batchTogether?: boolean;
  /**
   * A component's unavailability budget is the largest batch its policy allows (ACK: 10% of the
   * pool), never more than the spec's maxUnavailable: members already down count against it.
   */
  budgetFromBatch?: boolean;
  /**
   * `baton cancel` is offered only for a paused upgrade (as in ACK: pause, then cancel). The runner
   * treats a cancel the same either way: members in flight finish, no new member starts.
   */
  cancelOnlyWhenPaused?: boolean;
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
  /**
   * Rule of a component the engine does not name (a Kubernetes node pool other than `workers`).
   * Absent: a copy of the only component's rule, or a stateless component without quorum.
   */
  defaultComponent?: Omit<ComponentRule, 'name'>;
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
  /** Step behaviours that differ from a database member's; absent: none. */
  steps?: StepRules;
  /**
   * Progress in the engine's words for the component in progress ("control plane node 2 of 3",
   * "workers 37 of 200"): `index` is the member in progress (1-based), `done` the members finished,
   * of `total`. Absent: "COMPONENT member i of n".
   */
  describeProgress?(component: string, index: number, done: number, total: number): string;
  /** Typical duration of each step in ms, used for plan estimates before any is observed. */
  stepEstimatesMs: Partial<Record<StepKind, number>>;
}

/**
 * Replicas of each range (CockroachDB's default zone `num_replicas`) or region (TiKV and TiFlash:
 * PD's `replication.max-replicas`) unless configured otherwise. A multi-raft database keeps serving
 * with (this - 1) / 2 of a range's replicas down, whatever its number of stores: any two stores may
 * hold two of one range's three replicas (cockroachlabs.com/docs/stable/architecture/replication-layer,
 * "The number of failures that can be tolerated is equal to (Replication factor - 1)/2").
 */
export const DEFAULT_RANGE_REPLICAS = 3;

/**
 * How many members of a database of `replicas` members may be down at once when something else
 * takes them down (the nodes hosting them drained together), by the topology of its components, or
 * of `component` alone when the database names one of the engine's components (a TiDB cluster's
 * PD, TiKV or TiDB servers). A raft group (etcd, PD) keeps serving with a minority down (1 of 3, 2
 * of 5), and so do stateless servers (a majority keeps serving); a multi-raft store (TiKV, TiFlash,
 * CockroachDB) loses one at a time ({@link DEFAULT_RANGE_REPLICAS}); any other (a PostgreSQL primary
 * with its standbys, Redis Cluster shards whose primary and replica may sit on the two nodes, Redis
 * Enterprise, a generic StatefulSet, an engine Baton does not know: `rules` absent) one at a time.
 * Without a component, the least tolerant of the engine's stateful components decides. Never below
 * one: a database of one or two members still lets its nodes be drained, one member at a time.
 */
export function membersDownTolerated(
  rules: EngineRules | undefined,
  replicas: number,
  component?: string,
): number {
  const named = component ? rules?.components.find((c) => c.name === component) : undefined;
  const judged = named ? [named] : (rules?.components ?? []).filter((c) => c.topology !== 'stateless');
  if (judged.length === 0) return 1;
  const minority = Math.max(1, Math.floor((replicas - 1) / 2));
  const ofRange = Math.max(1, Math.floor((DEFAULT_RANGE_REPLICAS - 1) / 2));
  const each = (t: Topology): number =>
    t === 'raft' || t === 'stateless' ? minority : t === 'multi-raft' ? Math.min(minority, ofRange) : 1;
  return Math.min(...judged.map((c) => each(c.topology)));
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
