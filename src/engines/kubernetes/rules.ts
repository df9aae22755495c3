/**
 * Kubernetes node upgrades (engine `kubernetes-nodes`) in the style of ACK, GKE and Cluster API:
 * the control plane first, one node at a time (the control-plane nodes run etcd, so a majority must
 * stay up), then every node pool in batches, each node cordoned and drained through the Eviction
 * API so PodDisruptionBudgets are honoured, upgraded by an actuator, and uncordoned.
 *
 * Version rules follow the Kubernetes version skew policy
 * (https://kubernetes.io/releases/version-skew-policy/): the control plane moves one minor version
 * at a time (1.35 -> 1.36, never 1.35 -> 1.37), patches within a minor are free, no kubelet is
 * newer than the API server (so node pools follow the control plane), no kubelet is more than
 * three minors older than the API server, and no provider moves a cluster back to an older version.
 * A larger jump is a multi-step path: the control plane takes every minor, node pools move only when
 * the skew policy makes them (or at the end), so a worker is drained as few times as possible.
 */
import type { ComponentRule, EngineRules, RuleVerdict, VersionSkewRule } from '../../core/rules.js';
import { compareVersions, type Version } from '../../core/version.js';
import { KUBERNETES_NODES_ENGINE } from '../../api/nodes.js';

export { KUBERNETES_NODES_ENGINE };

/** Component of the control-plane nodes. */
export const CONTROL_PLANE = 'control-plane';

/** Default node pool when a spec names none. */
export const DEFAULT_POOL = 'workers';

/** Kubernetes minor releases (ascending) usable as intermediate hops: `1.31` means its latest patch. */
export const KUBERNETES_MINORS: readonly string[] = Array.from({ length: 21 }, (_, i) => `1.${20 + i}`);

/** Most minors a kubelet may lag behind the API server (skew policy since Kubernetes 1.28). */
export const MAX_KUBELET_MINORS_BEHIND = 3;

function minorOf(v: Version): string {
  return `${v.major}.${v.minor}`;
}

function direct(from: Version, to: Version): RuleVerdict {
  if (compareVersions(from, to) > 0) {
    return {
      ok: false,
      reason: `Kubernetes clusters cannot be downgraded (${from.raw} -> ${to.raw}): the control plane never moves back to an older version`,
    };
  }
  if (from.major !== to.major) {
    return {
      ok: false,
      reason: `Kubernetes ${from.raw} -> ${to.raw} changes the major version, which no provider supports`,
    };
  }
  if (to.minor - from.minor <= 1) return { ok: true };
  return {
    ok: false,
    reason: `the Kubernetes version skew policy allows the control plane one minor version at a time: ${minorOf(from)} -> ${minorOf(to)} must go through ${from.major}.${from.minor + 1}`,
  };
}

function allowDowngrade(from: Version, to: Version): RuleVerdict {
  return {
    ok: false,
    reason: `Kubernetes clusters cannot be downgraded (${from.raw} -> ${to.raw}); create a new node pool or cluster on the older version instead`,
  };
}

function notes(v: Version): string[] {
  if (v.patch !== 0 || v.prerelease.length > 0) return [];
  const m = minorOf(v);
  return [
    `read the "Urgent Upgrade Notes" and removed APIs of Kubernetes ${m}: https://github.com/kubernetes/kubernetes/blob/master/CHANGELOG/CHANGELOG-${m}.md`,
  ];
}

/** Node pools follow the control plane and may stay up to three minors behind it. */
const POOL_SKEW: VersionSkewRule = { follows: CONTROL_PLANE, maxMinorsBehind: MAX_KUBELET_MINORS_BEHIND };

/** A node pool: nodes without roles of their own, after the control plane, never ahead of it. */
export const POOL_RULE: Omit<ComponentRule, 'name'> = {
  topology: 'stateless',
  stage: 'nodes',
  prerequisites: [CONTROL_PLANE],
  quorum: false,
  versionSkew: POOL_SKEW,
};

/** The precheck names of node upgrades, in report order. */
export const NODE_PRECHECKS = [
  { name: 'nodes-ready', description: 'every node to upgrade is Ready (NotReady nodes are named)' },
  {
    name: 'pool-can-lose-batch',
    description: 'each pool can lose its first batch: nodes already NotReady count against its budget',
  },
  {
    name: 'drain-simulation',
    description:
      'no PodDisruptionBudget would refuse an eviction right now (each is named with the pods behind it)',
  },
  {
    name: 'pods-drain-policy',
    description:
      'pods without a controller and pods with local storage, and what the drain policy does with each',
  },
  {
    name: 'databases-hand-over',
    description:
      'every database member on a node to upgrade can be handed over by its own engine before its pod is evicted (a PostgreSQL primary cannot be on Kubernetes: each is named with its node)',
  },
  {
    name: 'version-skew',
    description:
      'the target keeps every kubelet within the skew policy: never newer than the API server, at most three minors older',
  },
] as const;

/**
 * The rules of node upgrades with `via` as the releases an upgrade passes through (concrete patch
 * versions such as `v1.36.4`, one per minor skipped). Without `via` the intermediate hops are bare
 * minors (`1.36`), which the simulator accepts and a real cluster cannot install: a real upgrade
 * gives them (`--via`, `spec.target.nodes.via`).
 */
export function kubernetesNodesRules(via?: readonly string[]): EngineRules {
  return {
    name: KUBERNETES_NODES_ENGINE,
    title: 'Kubernetes nodes (control plane, then node pools)',
    components: [
      {
        name: CONTROL_PLANE,
        topology: 'raft',
        stage: CONTROL_PLANE,
        prerequisites: [],
        quorum: true,
        // Strictly one control-plane node at a time, whatever the spec's batch policy says.
        batch: { kind: 'serial' },
      },
      { name: DEFAULT_POOL, ...POOL_RULE },
    ],
    defaultComponent: POOL_RULE,
    versions: {
      direct,
      allowDowngrade,
      releases: via ? [...via] : [...KUBERNETES_MINORS],
      notes,
    },
    prechecks: NODE_PRECHECKS.map((p) => ({ ...p })),
    hooks: [],
    // A drain that outlives its timeout ends only by deleting pods that a PodDisruptionBudget protects.
    drainTimeoutProceedSafe: false,
    steps: {
      evacuate: { redrainMs: 1_000, maxRedrainMs: 30_000 },
      restoreWhenReady: true,
      failedWhileReplacing: true,
      batchTogether: true,
      budgetFromBatch: true,
      cancelOnlyWhenPaused: true,
    },
    stepEstimatesMs: { precheck: 10_000, drain: 120_000, replace: 300_000, verify: 60_000, soak: 60_000 },
    describeProgress: describeNodeProgress,
  };
}

/**
 * Progress in ACK's words: "control plane node 2 of 3" (the node in progress, from 1) for the control
 * plane, "workers 37 of 200" (nodes done) for a pool.
 */
export function describeNodeProgress(component: string, index: number, done: number, total: number): string {
  if (component === CONTROL_PLANE) return `control plane node ${index} of ${total}`;
  return `${component} ${done} of ${total}`;
}

/** Node upgrades with bare minors as intermediate hops (the registry's and the simulator's rules). */
export const kubernetesRules: EngineRules = kubernetesNodesRules();
