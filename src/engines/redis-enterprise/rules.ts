/**
 * Redis Enterprise for Kubernetes: the operator first, then the Redis Enterprise cluster (REC, one
 * pod at a time; before a pod goes, replicas on other pods are promoted for every primary shard it
 * hosts), then the databases (REDB). Versions are `MAJOR.MINOR.PATCH-BUILD` (operator `7.4.6-2`).
 *
 * Version rules: one release series (`major.minor`) at a time over {@link REDIS_ENTERPRISE_SERIES},
 * no downgrade, and "both your Kubernetes version and Redis operator version need to be supported at
 * all times", which {@link REDIS_ENTERPRISE_K8S_MATRIX} records for the planner's multi-track path.
 */
import type { EngineRules, RuleVerdict } from '../../core/rules.js';
import { compareVersions, series, type Version } from '../../core/version.js';
import { OPERATOR_K8S_SUPPORT, operatorSeries, supportedKubernetes } from './k8s-support.js';

/** Release series of Redis Enterprise (Software and the Kubernetes operator), ascending. */
export const REDIS_ENTERPRISE_SERIES: readonly string[] = [
  '6.0',
  '6.2',
  '6.4',
  '7.2',
  '7.4',
  '7.8',
  '7.22',
  '8.0',
];

function seriesIndex(v: Version): number {
  return REDIS_ENTERPRISE_SERIES.indexOf(series(v));
}

function direct(from: Version, to: Version): RuleVerdict {
  if (compareVersions(from, to) > 0) {
    return {
      ok: false,
      reason: `Redis Enterprise does not support downgrades (${from.raw} -> ${to.raw}); restore the databases from a backup on a cluster of the older version instead`,
    };
  }
  if (series(from) === series(to)) return { ok: true };
  const i = seriesIndex(from);
  const j = seriesIndex(to);
  if (i < 0 || j < 0) {
    const unknown = i < 0 ? series(from) : series(to);
    return {
      ok: false,
      reason: `Redis Enterprise ${unknown} is not a known release series (known: ${REDIS_ENTERPRISE_SERIES.join(', ')})`,
    };
  }
  if (j === i + 1) return { ok: true };
  return {
    ok: false,
    reason: `Redis Enterprise upgrades one release series at a time: ${series(from)} -> ${series(to)} must go through ${REDIS_ENTERPRISE_SERIES[i + 1]}`,
  };
}

function allowDowngrade(from: Version, to: Version): RuleVerdict {
  return {
    ok: false,
    reason: `Redis Enterprise does not support downgrades (${from.raw} -> ${to.raw}); restore the databases from a backup on a cluster of the older version instead`,
  };
}

/** The Kubernetes window an operator at `v` needs (why a hop exists), from Redis's support table. */
function kubernetesWindow(v: Version): string[] {
  const support = supportedKubernetes(v.raw);
  if (!support) return [];
  const minors = support.minors;
  return [
    `operator ${support.source} supports Kubernetes ${minors[0]}-${minors[minors.length - 1]}: the cluster's Kubernetes must stay within it while the operator runs this version`,
  ];
}

function notes(v: Version): string[] {
  const s = series(v);
  if (!REDIS_ENTERPRISE_SERIES.includes(s)) return [];
  const window = kubernetesWindow(v);
  if (v.patch !== 0 || v.build !== 0) return window;
  return [
    `read the Redis Enterprise for Kubernetes ${s} release notes (breaking changes, supported distributions, known limitations): https://redis.io/docs/latest/operate/kubernetes/release-notes/`,
    ...window,
  ];
}

/** Redis Enterprise for Kubernetes: operator -> cluster (REC) -> databases (REDB). */
export const redisEnterpriseRules: EngineRules = {
  name: 'redis-enterprise',
  title: 'Redis Enterprise for Kubernetes',
  components: [
    { name: 'operator', topology: 'stateless', stage: 'operator', prerequisites: [], quorum: false },
    { name: 'rec', topology: 'sharded', stage: 'cluster', prerequisites: ['operator'], quorum: true },
    { name: 'redb', topology: 'sharded', stage: 'databases', prerequisites: ['rec'], quorum: false },
  ],
  versions: {
    direct,
    allowDowngrade,
    releases: [...REDIS_ENTERPRISE_SERIES],
    notes,
  },
  prechecks: [
    { name: 'all-pods-ready', description: 'the operator and every REC pod are Ready' },
    { name: 'cluster-quorum', description: 'the REC has a master node and a healthy majority of nodes' },
    { name: 'databases-active', description: 'every REDB is active with all shards and replicas in sync' },
    {
      name: 'operator-supports-kubernetes',
      description: 'every operator version on the way supports the Kubernetes version the cluster runs',
    },
  ],
  hooks: [],
  // A pod stopped while it still hosts primary shards loses writes to them until the cluster
  // fails them over; never proceed after a failover timeout.
  defaultPort: 9443,
  drainTimeoutProceedSafe: false,
  // Maintenance mode is turned off as soon as the pod is back on its version: a node in
  // maintenance takes no shard back, so its shards are waited for after that (caught up = synced
  // and out of maintenance).
  steps: { restoreWhenReady: true },
  stepEstimatesMs: { precheck: 5_000, drain: 20_000, replace: 120_000, verify: 60_000 },
};

/** Kubernetes minor versions one operator release series supports (both ends inclusive). */
export interface OperatorKubernetesSupport {
  /** Operator release series, e.g. `7.4`. */
  operator: string;
  /** Oldest and newest supported Kubernetes minor, e.g. `1.26` and `1.30`. */
  kubernetes: { min: string; max: string };
}

function byMinor(a: string, b: string): number {
  return Number(a.split('.')[1]) - Number(b.split('.')[1]);
}

/**
 * Per release series, the Kubernetes window of the series' newest listed release (the release a
 * hop to the series lands on), from {@link OPERATOR_K8S_SUPPORT} (redis/docs' "Supported
 * Kubernetes distributions", community Kubernetes). Oldest series first.
 */
export const REDIS_ENTERPRISE_K8S_MATRIX: readonly OperatorKubernetesSupport[] =
  REDIS_ENTERPRISE_SERIES.flatMap((series) => {
    const newest = OPERATOR_K8S_SUPPORT.find((r) => operatorSeries(r.operator) === series);
    if (!newest) return [];
    const sorted = [...newest.kubernetes].sort(byMinor);
    return [{ operator: series, kubernetes: { min: sorted[0]!, max: sorted[sorted.length - 1]! } }];
  });

/**
 * The matrix as constraints for the planner's multi-track path (`findCompatiblePath` in
 * src/plan/path.ts, whose `CompatibilityConstraint` this returns structurally): "while the
 * `operator` track runs series S, the `kubernetes` track must run a minor within [min, max]".
 * Bounds are written as series, which the planner reads as covering every patch of that series.
 */
export function redisEnterpriseCompatibility(
  tracks: { operator: string; kubernetes: string } = { operator: 'operator', kubernetes: 'kubernetes' },
): { track: string; versions: string; requires: { track: string; min?: string; max?: string } }[] {
  return REDIS_ENTERPRISE_K8S_MATRIX.map((row) => ({
    track: tracks.operator,
    versions: row.operator,
    requires: { track: tracks.kubernetes, min: row.kubernetes.min, max: row.kubernetes.max },
  }));
}
