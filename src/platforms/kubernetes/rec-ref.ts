/**
 * A `RedisEnterpriseCluster` reference (REC, `app.redislabs.com/v1`, the Redis Enterprise
 * operator's resource): Baton drives the cluster through its spec and gates the operator's own
 * roll, since that operator has no documented pause and rolls its StatefulSet itself. Facts from
 * Redis's documentation this relies on:
 * - "Upgrade Redis Enterprise for Kubernetes"
 *   (https://redis.io/docs/latest/operate/kubernetes/upgrade/upgrade-redis-cluster/, redis/docs
 *   `content/operate/kubernetes/upgrade/upgrade-redis-cluster.md`): the user replaces
 *   `spec.redisEnterpriseImageSpec.versionTag` of the REC; `kubectl get rec` shows state `Upgrade`
 *   during the roll, `Running` when it is over, `InvalidUpgrade` on an error in the upgrade; the
 *   roll is followed with `kubectl rollout status sts <REC name>` (the StatefulSet is named like
 *   the REC).
 * - "How does the REC upgrade work?" (https://redis.io/docs/latest/operate/kubernetes/upgrade/,
 *   the seed): a rolling upgrade, one pod after the other once the previous one completed; before
 *   each pod goes the operator promotes replicas on other pods for the primary shards it hosts,
 *   and moves the cluster's master role away.
 * - The REC API reference (redis/docs `content/operate/kubernetes/reference/api/
 *   redis_enterprise_cluster_api.md`): `status.state`, `status.specStatus`; no pause field.
 *
 * So Baton's replace step for a REC pod sets `spec.redisEnterpriseImageSpec.versionTag` once (a
 * resourceVersion-guarded merge patch; equal already -> nothing), and the runner's usual gates
 * decide when each pod is done (recreated at the new image, Ready, its REST node back on the
 * target software with its shards in sync). Baton never writes the StatefulSet or its pods. The
 * annotation {@link PAUSED_BY_ANNOTATION} marks which Upgrade drives the REC (a second Upgrade is
 * refused); it does not pause the operator, and the hand-back only removes it once the roll is over.
 */
import type { PrecheckResult } from '../../core/types.js';
import { OperationalError } from '../../core/errors.js';
import type { UpgradeResource } from '../../api/upgrade.js';
import { isConflict } from './api.js';
import {
  type ClusterIo,
  type ClusterKind,
  type ClusterObject,
  controllerOf,
  type HandOver,
  heldByAnother,
  markHeld,
  type ObservedTarget,
  OWNER_PRECHECK,
  PAUSED_BY_ANNOTATION,
  patchCluster,
  readClusterObject,
  REDIS_ENTERPRISE_CLUSTER,
  type ResolvedCluster,
  unmarkHeld,
  unsettled,
} from './cluster-ref.js';

const MAX_CONFLICTS = 5;

/** `status.state` of a REC whose roll is over (and the one that reports an error). */
export const REC_RUNNING = 'Running';
/** `status.state` of a REC whose upgrade has an error (usually its configuration). */
export const REC_INVALID_UPGRADE = 'InvalidUpgrade';

/** Whether `kind` is the Redis Enterprise operator's RedisEnterpriseCluster. */
export function isRecCluster(kind: ClusterKind): boolean {
  return kind.kind === REDIS_ENTERPRISE_CLUSTER.kind && kind.group === REDIS_ENTERPRISE_CLUSTER.group;
}

interface RecSpec {
  redisEnterpriseImageSpec?: { repository?: string; versionTag?: string };
}

interface RecStatus {
  state?: string;
}

/** `spec.redisEnterpriseImageSpec.versionTag` of a REC, if set. */
export function recVersionTag(object: ClusterObject): string | undefined {
  return (object.spec as RecSpec | undefined)?.redisEnterpriseImageSpec?.versionTag;
}

/** `status.state` of a REC, if reported. */
export function recState(object: ClusterObject): string | undefined {
  return (object as { status?: RecStatus }).status?.state;
}

/**
 * The `statefulset-owner` verdict for a REC reference: fails unless the REC's StatefulSet has a
 * controller ownerReference to this REC (another controller would fight the Redis operator; none
 * means nothing rolls it when the spec changes), or when another Upgrade drives the REC; otherwise
 * says how Baton drives it.
 */
export function recRefVerdict(cluster: ResolvedCluster, upgradeName: string): PrecheckResult {
  const { object } = cluster;
  const self = `${cluster.kind.kind} ${object.metadata.name}`;
  for (const sts of cluster.statefulSets) {
    const owner = controllerOf(sts);
    const stsName = sts.metadata!.name!;
    if (!owner) {
      return {
        name: OWNER_PRECHECK,
        ok: false,
        reason: `statefulset ${stsName} has no controller ownerReference to ${self}, so no Redis operator rolls it when the REC's spec changes: target the StatefulSet itself (spec.target.statefulSet), then retry`,
      };
    }
    if (owner.uid !== object.metadata.uid) {
      return {
        name: OWNER_PRECHECK,
        ok: false,
        reason: `statefulset ${stsName} is reconciled by ${owner.kind} ${owner.name} (${owner.apiVersion}), not by ${self}: fix spec.target.cluster, then retry`,
      };
    }
  }
  const held = heldByAnother(object, self, upgradeName, 'driven');
  if (held) return held;
  return {
    name: OWNER_PRECHECK,
    ok: true,
    reason: recDriveReason(
      object.metadata.name,
      cluster.targets.map((t) => t.name),
    ),
  };
}

/** The line the `statefulset-owner` precheck gives for a REC Baton can drive. */
export function recDriveReason(name: string, statefulSets: string[]): string {
  return `${REDIS_ENTERPRISE_CLUSTER.kind} ${name} reconciles ${statefulSets.join(', ')} and has no pause: Baton sets its spec.redisEnterpriseImageSpec.versionTag once and gates the Redis operator's own roll pod by pod (it cannot stop that roll once started)`;
}

/** The sentence of the take-over and hand-back steps for `baton plan`. */
export function recDescribe(name: string): { takeOver: string; handBack: string } {
  return {
    takeOver: `mark ${REDIS_ENTERPRISE_CLUSTER.kind} ${name} as driven by this upgrade (annotation ${PAUSED_BY_ANNOTATION}; the Redis operator is not paused, its StatefulSet is left to it)`,
    handBack: `release ${REDIS_ENTERPRISE_CLUSTER.kind} ${name} once its StatefulSet is at rest on one version and its state is ${REC_RUNNING}`,
  };
}

/**
 * Mark REC `name` as driven by `upgrade`: the annotation {@link PAUSED_BY_ANNOTATION}, in one
 * resourceVersion-guarded merge patch. Idempotent; a line for events when it wrote something.
 * OperationalError `owner-held` when another Upgrade drives it.
 */
export async function holdRec(
  io: ClusterIo,
  upgrade: UpgradeResource,
  kind: ClusterKind,
  name: string,
): Promise<string | undefined> {
  const wrote = await markHeld(io, upgrade, kind, name, { verb: 'driven' });
  return wrote
    ? `${kind.kind} ${name}: driven by this upgrade (annotation ${PAUSED_BY_ANNOTATION}=${upgrade.metadata.name}); the Redis operator keeps reconciling and rolls the pods itself once spec.redisEnterpriseImageSpec.versionTag changes`
    : undefined;
}

/**
 * The replace step of a REC pod: `spec.redisEnterpriseImageSpec.versionTag` set to `version` when
 * it differs (a resourceVersion-guarded merge patch; the Redis operator then rolls every pod).
 * Idempotent: an equal tag writes nothing (a Baton resumed after a crash never patches twice).
 * Returns a line for events when it wrote. OperationalError `owner-not-held` unless `upgrade`
 * drives the REC (the take-over step runs first).
 */
export async function setRecVersion(
  io: ClusterIo,
  upgrade: UpgradeResource,
  kind: ClusterKind,
  name: string,
  version: string,
): Promise<string | undefined> {
  const me = upgrade.metadata.name;
  for (let attempt = 0; ; attempt++) {
    const object = await readClusterObject(io, upgrade, kind, name);
    if (object.metadata.annotations?.[PAUSED_BY_ANNOTATION] !== me) {
      throw new OperationalError(
        'owner-not-held',
        `${kind.kind} ${name} is not driven by upgrade ${me}: the take-over step must run before any pod is replaced`,
      );
    }
    const before = recVersionTag(object);
    if (before === version) return undefined;
    try {
      await patchCluster(io, kind, name, {
        metadata: { resourceVersion: object.metadata.resourceVersion },
        spec: { redisEnterpriseImageSpec: { versionTag: version } },
      });
      return `${kind.kind} ${name}: spec.redisEnterpriseImageSpec.versionTag ${before ?? '(unset)'} -> ${version}; the Redis operator now rolls its pods one at a time, Baton gates each`;
    } catch (err) {
      if (isConflict(err) && attempt < MAX_CONFLICTS) continue;
      throw err;
    }
  }
}

/**
 * Whether the roll of a REC is over for its hand-back: every StatefulSet at rest with one version
 * running, and the REC's `status.state` (when reported) {@link REC_RUNNING}. Pure.
 */
export function recRollOver(object: ClusterObject, observed: ObservedTarget[]): HandOver {
  for (const o of observed) {
    const why = unsettled(o);
    if (why) return { ready: false, reason: why };
    const versions = [...new Set(o.members.map((m) => m.version))];
    if (versions.length > 1) {
      return {
        ready: false,
        reason: `${o.component} runs ${versions.join(' and ')}: the Redis operator's roll of ${REDIS_ENTERPRISE_CLUSTER.kind} ${object.metadata.name} is not over`,
      };
    }
  }
  const state = recState(object);
  if (state !== undefined && state !== REC_RUNNING) {
    return {
      ready: false,
      reason: `${REDIS_ENTERPRISE_CLUSTER.kind} ${object.metadata.name} is in state ${state}, not ${REC_RUNNING}${state === REC_INVALID_UPGRADE ? ' (an error in the upgrade: see the Redis operator log)' : ''}`,
    };
  }
  return {
    ready: true,
    spec: {},
    message: `${REDIS_ENTERPRISE_CLUSTER.kind} ${object.metadata.name} released (versionTag ${recVersionTag(object) ?? '(unset)'}, state ${state ?? 'not reported'})`,
  };
}

/**
 * The hand-back of a REC `upgrade` drives: once {@link recRollOver} says so, the annotation
 * removed. Undefined when `upgrade` does not drive it; a decision that is not ready says why.
 */
export async function releaseRec(
  io: ClusterIo,
  upgrade: UpgradeResource,
  kind: ClusterKind,
  name: string,
  observed: ObservedTarget[],
): Promise<HandOver | undefined> {
  return unmarkHeld(io, upgrade, kind, name, (object) => recRollOver(object, observed));
}
