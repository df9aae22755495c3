/**
 * The three stages of Redis Enterprise for Kubernetes as platform members, beside the REC pods the
 * wrapped platform lists (redis.io/docs "Upgrade Redis Enterprise for Kubernetes": operator, then
 * the cluster, then the databases):
 * - `operator`: the operator Deployment (`redis-enterprise-operator`, as the operator bundle names
 *   it); its version is the image tag of its containers, replacing it sets that tag on every
 *   container running the operator image (the bundle's admission container shares it), and it is
 *   ready when the rollout is complete as `kubectl rollout status` decides
 *   (k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go: observed generation, every replica
 *   updated, no old replica left, every updated replica available);
 * - `redb`: each RedisEnterpriseDatabase (`app.redislabs.com/v1alpha1`) of the namespace; its
 *   version is `spec.redisVersion`, replacing it sets `spec.redisVersion` (the Redis operator then
 *   upgrades the database), ready while `status.status` is `active`.
 * A Deployment or REDB that does not exist gives no member. Everything else goes to the wrapped
 * platform.
 *
 * The REC's own StatefulSet belongs to the Redis operator when it has a controller ownerReference
 * to a `RedisEnterpriseCluster`: the operator rolls it itself when `redisEnterpriseImageSpec`
 * changes and puts back a template it did not write, and it has no documented pause. Baton does not
 * drive such a StatefulSet behind its back: targeted directly, the platform precheck
 * {@link REC_OWNER_PRECHECK} blocks, saying to target the REC instead (`spec.target.cluster`), which
 * Baton drives through its spec and whose roll it gates (rec-ref.ts).
 */
import {
  AppsV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Deployment,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import type { Custody, JournalStore, Platform, PortContext, ReplaceOptions } from '../../core/ports.js';
import type { PlatformMember, PrecheckResult, Snapshot, UpgradeSpec } from '../../core/types.js';
import { isNotFound, MERGE_PATCH } from './api.js';
import { type ClusterKind, type ClusterRef, REDIS_ENTERPRISE_CLUSTER } from './cluster-ref.js';
import { imageTag, withTag } from './members.js';

/** The Redis operator's database resource. */
export const REDIS_ENTERPRISE_DATABASE: ClusterKind = {
  group: 'app.redislabs.com',
  version: 'v1alpha1',
  plural: 'redisenterprisedatabases',
  kind: 'RedisEnterpriseDatabase',
};

/** Name of the operator Deployment in the Redis operator bundle. */
export const REDIS_ENTERPRISE_OPERATOR = 'redis-enterprise-operator';

/** Name of the platform precheck about a REC StatefulSet the Redis operator controls. */
export const REC_OWNER_PRECHECK = 'rec-owner';

/** The Redis operator's cluster resource kind. */
export const REDIS_ENTERPRISE_CLUSTER_KIND = REDIS_ENTERPRISE_CLUSTER.kind;

/**
 * The {@link REC_OWNER_PRECHECK} verdict: fails when a member is a pod of a StatefulSet (from
 * `statefulSets`, the namespace's) that a RedisEnterpriseCluster controls, unless the Upgrade
 * targets that REC itself (`viaCluster`, its `spec.target.cluster`): then the cluster reference's
 * own `statefulset-owner` check judges it.
 */
export function recOwnerVerdict(
  statefulSets: V1StatefulSet[],
  members: string[],
  viaCluster?: ClusterRef,
): PrecheckResult {
  if (viaCluster?.kind === REDIS_ENTERPRISE_CLUSTER_KIND) {
    return {
      name: REC_OWNER_PRECHECK,
      ok: true,
      reason: `the upgrade targets ${REDIS_ENTERPRISE_CLUSTER_KIND} ${viaCluster.name} itself: Baton drives it through its spec (see statefulset-owner)`,
    };
  }
  for (const sts of statefulSets) {
    const name = sts.metadata?.name ?? '';
    const owner = sts.metadata?.ownerReferences?.find((r) => r.controller === true);
    if (owner?.kind !== REDIS_ENTERPRISE_CLUSTER_KIND) continue;
    const pods = members.filter((m) => m.startsWith(`${name}-`) && /^\d+$/.test(m.slice(name.length + 1)));
    if (pods.length === 0) continue;
    return {
      name: REC_OWNER_PRECHECK,
      ok: false,
      reason: `statefulset ${name} (pods ${pods.join(', ')}) is reconciled by ${REDIS_ENTERPRISE_CLUSTER_KIND} ${owner.name}: the Redis operator rolls it itself and would undo Baton's template changes; target the REC instead (spec.target.cluster: {kind: ${REDIS_ENTERPRISE_CLUSTER_KIND}, name: ${owner.name}}, or --cluster-ref ${REDIS_ENTERPRISE_CLUSTER_KIND}/${owner.name}): Baton then sets its versionTag and gates the operator's roll pod by pod`,
    };
  }
  return {
    name: REC_OWNER_PRECHECK,
    ok: true,
    reason: `no ${REDIS_ENTERPRISE_CLUSTER_KIND} controls the StatefulSets Baton rolls`,
  };
}

const STRATEGIC_MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

/** Whether a Deployment's rollout is complete (kubectl rollout status), with what it waits for. */
export function rolloutComplete(d: V1Deployment): { done: boolean; detail: string } {
  const want = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  if ((s.observedGeneration ?? 0) < (d.metadata?.generation ?? 0))
    return { done: false, detail: 'waiting for the Deployment spec update to be observed' };
  const updated = s.updatedReplicas ?? 0;
  if (updated < want) return { done: false, detail: `${updated} of ${want} new replicas updated` };
  if ((s.replicas ?? 0) > updated)
    return { done: false, detail: `${(s.replicas ?? 0) - updated} old replicas pending termination` };
  if ((s.availableReplicas ?? 0) < updated)
    return { done: false, detail: `${s.availableReplicas ?? 0} of ${updated} updated replicas available` };
  return { done: true, detail: 'Deployment available' };
}

interface Redb {
  metadata: { name?: string };
  spec?: { redisVersion?: string };
  status?: { status?: string };
}

/** Options of {@link RedisEnterpriseStages}. */
export interface RedisEnterpriseStagesOptions {
  kc: KubeConfig;
  namespace: string;
  /** The operator Deployment (default {@link REDIS_ENTERPRISE_OPERATOR}). */
  operatorDeployment?: string;
  /** The Upgrade's `spec.target.cluster` as it stands (for {@link recOwnerVerdict}). */
  clusterRef?: () => ClusterRef | undefined;
}

/** The wrapped platform plus the operator and database members (see the module comment). */
export class RedisEnterpriseStages implements Platform {
  readonly name: string;
  readonly journal: JournalStore;
  /** The wrapped platform's; the operator Deployment's and the databases' are written specs too. */
  readonly durableActions: boolean | undefined;
  /** The wrapped platform's take-over and hand-back (the REC StatefulSet's freeze and restore). */
  readonly custody?: Custody;
  private readonly apps: AppsV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly deployment: string;

  constructor(
    private readonly inner: Platform,
    private readonly opts: RedisEnterpriseStagesOptions,
  ) {
    this.name = inner.name;
    this.journal = inner.journal;
    this.durableActions = inner.durableActions;
    if (inner.custody) this.custody = inner.custody;
    this.apps = opts.kc.makeApiClient(AppsV1Api);
    this.custom = opts.kc.makeApiClient(CustomObjectsApi);
    this.deployment = opts.operatorDeployment ?? REDIS_ENTERPRISE_OPERATOR;
  }

  private async readOperator(): Promise<V1Deployment | undefined> {
    try {
      return await this.apps.readNamespacedDeployment({
        namespace: this.opts.namespace,
        name: this.deployment,
      });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async databases(): Promise<Redb[]> {
    try {
      const list = (await this.custom.listNamespacedCustomObject({
        group: REDIS_ENTERPRISE_DATABASE.group,
        version: REDIS_ENTERPRISE_DATABASE.version,
        plural: REDIS_ENTERPRISE_DATABASE.plural,
        namespace: this.opts.namespace,
      })) as { items?: Redb[] };
      return (list.items ?? []).sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
    } catch (err) {
      // No REDB CRD installed: no database members.
      if (isNotFound(err)) return [];
      throw err;
    }
  }

  private operatorMember(d: V1Deployment): PlatformMember {
    const image = d.spec?.template?.spec?.containers?.[0]?.image ?? '';
    const rollout = rolloutComplete(d);
    return {
      name: this.deployment,
      component: 'operator',
      ordinal: 0,
      version: imageTag(image),
      ready: rollout.done,
      running: true,
      detail: rollout.detail,
    };
  }

  async listMembers(ctx: PortContext): Promise<PlatformMember[]> {
    const [operator, pods, dbs] = await Promise.all([
      this.readOperator(),
      this.inner.listMembers(ctx),
      this.databases(),
    ]);
    return [
      ...(operator ? [this.operatorMember(operator)] : []),
      ...pods,
      ...dbs.map((db, i) => ({
        name: db.metadata.name!,
        component: 'redb',
        ordinal: i,
        version: db.spec?.redisVersion ?? '',
        ready: db.status?.status === 'active',
        running: true,
        detail: `REDB status ${db.status?.status ?? 'unknown'}`,
      })),
    ];
  }

  /** The operator: new image tag; a REDB: new `spec.redisVersion`; a pod: the wrapped platform. Idempotent. */
  async replaceMember(name: string, version: string, opts: ReplaceOptions, ctx: PortContext): Promise<void> {
    if (name === this.deployment) {
      const d = await this.readOperator();
      if (d) return this.setOperatorImage(d, version, ctx);
    }
    const db = (await this.databases()).find((x) => x.metadata.name === name);
    if (db) {
      if (db.spec?.redisVersion === version) return;
      await this.custom.patchNamespacedCustomObject(
        {
          group: REDIS_ENTERPRISE_DATABASE.group,
          version: REDIS_ENTERPRISE_DATABASE.version,
          plural: REDIS_ENTERPRISE_DATABASE.plural,
          namespace: this.opts.namespace,
          name,
          body: { spec: { redisVersion: version } },
        },
        MERGE_PATCH,
      );
      ctx.logger.info('redis enterprise database version set', { redb: name, version });
      return;
    }
    return this.inner.replaceMember(name, version, opts, ctx);
  }

  private async setOperatorImage(d: V1Deployment, version: string, ctx: PortContext): Promise<void> {
    const containers = d.spec?.template?.spec?.containers ?? [];
    const current = imageTag(containers[0]?.image ?? '');
    const changed = containers
      .filter((c) => c.image && imageTag(c.image) === current && imageTag(c.image) !== version)
      .map((c) => ({ name: c.name, image: withTag(c.image!, version) }));
    if (changed.length === 0) return;
    await this.apps.patchNamespacedDeployment(
      {
        namespace: this.opts.namespace,
        name: this.deployment,
        body: { spec: { template: { spec: { containers: changed } } } },
      },
      STRATEGIC_MERGE_PATCH,
    );
    ctx.logger.info('redis enterprise operator image set', { deployment: this.deployment, version });
  }

  stopMember(name: string, ctx: PortContext): Promise<void> {
    if (!this.inner.stopMember) return Promise.resolve();
    return this.inner.stopMember(name, ctx);
  }

  /** The wrapped platform's prechecks and {@link REC_OWNER_PRECHECK} (one LIST of StatefulSets). */
  async prechecks(snapshot: Snapshot, spec: UpgradeSpec, ctx: PortContext): Promise<PrecheckResult[]> {
    const inner = this.inner.prechecks ? await this.inner.prechecks(snapshot, spec, ctx) : [];
    const list = await this.apps.listNamespacedStatefulSet({ namespace: this.opts.namespace });
    return [
      ...inner,
      recOwnerVerdict(
        list.items,
        snapshot.members.map((m) => m.name),
        this.opts.clusterRef?.(),
      ),
    ];
  }
}
