/**
 * The prechecks of {@link redisEnterpriseRules}, from one look at the REST API and, when the
 * platform gives it, the Kubernetes version: whether every operator version the upgrade passes
 * through supports it (Redis: "both your Kubernetes version and Redis operator version need to be
 * supported at all times").
 */
import type { PrecheckResult, Snapshot, UpgradeSpec } from '../../core/types.js';
import { findVersionPath } from '../../plan/path.js';
import { kubernetesMinor, supportedKubernetes } from './k8s-support.js';
import { nodeOf, type RecView, shardInService } from './observe.js';
import { redisEnterpriseRules } from './rules.js';

function check(name: string, problems: string[], ok: string): PrecheckResult {
  return problems.length === 0
    ? { name, ok: true, reason: ok }
    : { name, ok: false, reason: problems.join('; ') };
}

/** Whether each operator version on the way supports `kubernetes`, naming the first that does not. */
export function operatorKubernetesCheck(
  snapshot: Snapshot,
  spec: UpgradeSpec,
  kubernetes: string | undefined,
): PrecheckResult {
  const name = 'operator-supports-kubernetes';
  const operator = snapshot.members.find((m) => m.component === 'operator');
  if (!operator) return { name, ok: true, reason: 'no operator member in this upgrade' };
  if (!kubernetes)
    return { name, ok: true, reason: 'not checked: the platform reports no Kubernetes version' };
  const minor = kubernetesMinor(kubernetes);
  const target = spec.components?.find((c) => c.name === 'operator')?.version ?? spec.version;
  const hops = findVersionPath(redisEnterpriseRules, operator.version, target, {}).map((h) => h.to);
  const steps: string[] = [];
  for (const v of [operator.version, ...hops]) {
    const support = supportedKubernetes(v);
    if (!support) {
      return {
        name,
        ok: false,
        reason: `no published Kubernetes support data for operator ${v} (Baton's table ends at 7.8.4-8); check Redis's support matrix and force this check if it supports Kubernetes ${minor}`,
      };
    }
    if (!support.minors.includes(minor)) {
      const range = `${support.minors[0]}-${support.minors[support.minors.length - 1]}`;
      const which = v === operator.version ? 'the running operator' : `operator ${v}`;
      return {
        name,
        ok: false,
        reason: `${which} (${support.source}) supports Kubernetes ${range}, not ${minor}: upgrade Kubernetes or choose an operator version that supports ${minor} at every step`,
      };
    }
    steps.push(`${v} (${support.minors[0]}-${support.minors[support.minors.length - 1]})`);
  }
  return { name, ok: true, reason: `Kubernetes ${minor} is supported at every step: ${steps.join(' -> ')}` };
}

export function redisEnterprisePrechecks(
  view: RecView,
  snapshot: Snapshot,
  spec: UpgradeSpec,
  kubernetes: string | undefined,
): PrecheckResult[] {
  const notReady = snapshot.members
    .filter((m) => m.component !== 'redb' && !m.ready)
    .map((m) => `${m.name} is not ready${m.detail ? ` (${m.detail})` : ''}`);
  for (const m of snapshot.members.filter((x) => x.component === 'rec')) {
    if (!nodeOf(m, view)) notReady.push(`${m.name} has no REC node`);
  }
  const active = view.nodes.filter((n) => n.status === 'active').length;
  const master = Object.values(view.status).some((s) => s.role === 'master');
  const quorum: string[] = [];
  if (!master) quorum.push('the cluster has no master node');
  if (active - 1 <= view.nodes.length / 2) {
    quorum.push(`${active}/${view.nodes.length} nodes active: restarting one would leave no majority`);
  }
  const dbs = view.bdbs.flatMap((b) => {
    const behind = view.shards.filter((s) => s.bdb_uid === b.uid && !shardInService(s));
    return [
      ...(b.status === 'active' ? [] : [`${b.name} is ${b.status}`]),
      ...(behind.length > 0 ? [`${b.name} has ${behind.length} shard(s) not in sync`] : []),
      ...(b.replication
        ? []
        : [`${b.name} has no replication: its data is unavailable while its shard's node restarts`]),
    ];
  });
  return [
    check('all-pods-ready', notReady, 'the operator and every REC pod are ready'),
    check('cluster-quorum', quorum, `${active}/${view.nodes.length} nodes active with a master node`),
    check('databases-active', dbs, `${view.bdbs.length} database(s) active, every shard in sync`),
    operatorKubernetesCheck(snapshot, spec, kubernetes),
  ];
}
