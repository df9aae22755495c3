/**
 * Kubernetes node upgrades in the style of ACK, GKE and Cluster API: the control plane first, one
 * master at a time (the masters run etcd, so a majority must stay up), then the worker nodes in
 * batches, each drained through the Eviction API so PodDisruptionBudgets are honoured.
 *
 * Version rules follow the Kubernetes version skew policy: the control plane moves one minor version
 * at a time (1.30 -> 1.31, never 1.30 -> 1.32), patches within a minor are free, kubelets are never
 * newer than the API server (so workers follow the control plane), and no provider supports moving
 * a cluster back to an older minor or patch.
 */
import type { EngineRules, RuleVerdict } from '../../core/rules.js';
import { compareVersions, type Version } from '../../core/version.js';

/** Kubernetes minor releases (ascending) usable as intermediate hops: `1.31` means its latest patch. */
export const KUBERNETES_MINORS: readonly string[] = Array.from({ length: 16 }, (_, i) => `1.${20 + i}`);

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
    reason: `the Kubernetes version skew policy allows one minor version at a time: ${minorOf(from)} -> ${minorOf(to)} must go through ${from.major}.${from.minor + 1}`,
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

/** Kubernetes node upgrades: control-plane nodes one at a time, then worker nodes in batches. */
export const kubernetesRules: EngineRules = {
  name: 'kubernetes',
  title: 'Kubernetes nodes (control plane, then workers)',
  components: [
    { name: 'control-plane', topology: 'raft', stage: 'control-plane', prerequisites: [], quorum: true },
    {
      name: 'workers',
      topology: 'stateless',
      stage: 'nodes',
      prerequisites: ['control-plane'],
      quorum: false,
    },
  ],
  versions: {
    direct,
    allowDowngrade,
    releases: [...KUBERNETES_MINORS],
    notes,
  },
  prechecks: [
    { name: 'nodes-ready', description: 'every node is Ready and none is cordoned by someone else' },
    {
      name: 'pdb-allows-eviction',
      description: 'no PodDisruptionBudget has 0 disruptions allowed (a drain would block on it)',
    },
    {
      name: 'api-server-healthy',
      description: 'the API server answers /readyz and etcd has a leader and a quorum',
    },
  ],
  hooks: [],
  // A drain that outlives its timeout ends only by deleting pods that a PodDisruptionBudget protects.
  drainTimeoutProceedSafe: false,
  stepEstimatesMs: { precheck: 10_000, drain: 120_000, replace: 300_000, verify: 60_000, soak: 60_000 },
};
