/**
 * A `CrdbCluster` reference (`crdb.cockroachlabs.com/v1alpha1`, the CockroachDB operator's
 * resource): Baton takes custody of the one StatefulSet the operator owns (named like the cluster)
 * in the way the operator's reconcile permits, since the operator has no pause switch. Facts from
 * cockroachdb/cockroach-operator this relies on:
 * - The director (pkg/actor/director.go `GetActorToExecute`) deploys (`needsDeploy`) only when the
 *   StatefulSet it builds from the CrdbCluster differs from the live one by a three-way patch
 *   (pkg/kube AnnotatingPersister): a field only the live object has (Baton's partition, Baton's
 *   annotations) is no difference; a template image other than the CrdbCluster's is, and the
 *   deploy's Update then writes its whole spec back (pkg/resource/statefulset.go `Build`: the
 *   image of `spec.image.name`, `RollingUpdate` without a partition).
 * - It runs its own partitioned update (`needsPartitionedUpdate`, pkg/actor/partitioned_update.go)
 *   when the CrdbCluster's `crdb.io/version` annotation (written by the version checker,
 *   pkg/actor/validate_version.go, from the image's build tag) differs from the StatefulSet's;
 *   the built StatefulSet carries the CrdbCluster's `crdb.io/version` and `crdb.io/containerimage`.
 * - A changed image makes the reconcile mark `CrdbVersionChecked` False at once
 *   (pkg/controller/cluster_controller.go: image != `status.crdbcontainerimage`), and neither
 *   deploy nor partitioned update runs until the version checker's Job has finished.
 * - `spec.cockroachDBVersion`, when set, wins over `spec.image.name` and is turned into an image
 *   from the operator's own environment (`RELATED_IMAGE_COCKROACH_*`, pkg/resource/cluster.go).
 *
 * So, for each version Baton rolls to (forward, each hop, or back): it sets `spec.image.name` on
 * the CrdbCluster, waits until the operator acknowledges it (`status.crdbcontainerimage` is the new
 * image or `CrdbVersionChecked` is not True), then, in the same write as the template image, puts
 * the version and image annotations on the StatefulSet (and keeps it frozen): when the version
 * check ends, the operator finds the StatefulSet it would build and the versions equal, so it
 * neither reverts the template nor rolls the pods itself while Baton replaces them one by one. The
 * `baton.dev/paused-by` annotation marks custody (a second Upgrade is refused); the hand-back
 * restores the StatefulSet's strategy and removes it. A cluster that sets
 * `spec.cockroachDBVersion` is refused: Baton cannot know the image the operator would build.
 */
import type { Clock } from '../../core/clock.js';
import { OperationalError } from '../../core/errors.js';
import type { PrecheckResult } from '../../core/types.js';
import type { UpgradeResource } from '../../api/upgrade.js';
import { isConflict } from './api.js';
import {
  CRDB_CLUSTER,
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
  type ResolvedCluster,
  unmarkHeld,
  unsettled,
} from './cluster-ref.js';
import { imageTag } from './members.js';

/** The StatefulSet (and CrdbCluster) annotation with the version the operator deployed. */
export const CRDB_VERSION_ANNOTATION = 'crdb.io/version';
/** The StatefulSet (and CrdbCluster) annotation with the image the operator deployed. */
export const CRDB_IMAGE_ANNOTATION = 'crdb.io/containerimage';
/** The operator's condition that its version checker has run for the current image. */
export const CRDB_VERSION_CHECKED = 'CrdbVersionChecked';

const MAX_CONFLICTS = 5;

/** Whether `kind` is the CockroachDB operator's CrdbCluster. */
export function isCrdbCluster(kind: ClusterKind): boolean {
  return kind.kind === CRDB_CLUSTER.kind && kind.group === CRDB_CLUSTER.group;
}

interface CrdbSpec {
  image?: { name?: string };
  cockroachDBVersion?: string;
}

interface CrdbStatus {
  crdbcontainerimage?: string;
  conditions?: { type?: string; status?: string }[];
}

/** Why Baton cannot take custody of this CrdbCluster, or undefined when it can. */
export function crdbRefusal(object: ClusterObject): string | undefined {
  const spec = object.spec as CrdbSpec | undefined;
  if (spec?.cockroachDBVersion) {
    return `CrdbCluster ${object.metadata.name} sets spec.cockroachDBVersion (${spec.cockroachDBVersion}), which the CockroachDB operator turns into an image from its own environment that Baton cannot see: set spec.image.name to the image it runs instead (and remove spec.cockroachDBVersion), then retry`;
  }
  return undefined;
}

/**
 * The `statefulset-owner` verdict for a CrdbCluster reference: fails when its StatefulSet is
 * reconciled by another controller, when {@link crdbRefusal} says Baton cannot take custody, or
 * when another Upgrade holds it; otherwise says how Baton keeps the operator from undoing the roll.
 */
export function crdbOwnerVerdict(cluster: ResolvedCluster, upgradeName: string): PrecheckResult {
  const { object } = cluster;
  const self = `${cluster.kind.kind} ${object.metadata.name}`;
  for (const sts of cluster.statefulSets) {
    const owner = controllerOf(sts);
    if (owner && owner.uid !== object.metadata.uid) {
      return {
        name: OWNER_PRECHECK,
        ok: false,
        reason: `statefulset ${sts.metadata!.name!} is reconciled by ${owner.kind} ${owner.name} (${owner.apiVersion}), not by ${self}, and Baton cannot pause it (it would undo Baton's changes): upgrade it through ${owner.kind} ${owner.name}, or remove that ownerReference, then retry`,
      };
    }
  }
  const refusal = crdbRefusal(object);
  if (refusal) return { name: OWNER_PRECHECK, ok: false, reason: refusal };
  const held = heldByAnother(object, self, upgradeName, 'held');
  if (held) return held;
  return {
    name: OWNER_PRECHECK,
    ok: true,
    reason: crdbCustodyReason(
      object,
      cluster.targets.map((t) => t.name),
    ),
  };
}

/** The line the `statefulset-owner` precheck gives for a CrdbCluster Baton can take custody of. */
export function crdbCustodyReason(object: ClusterObject, statefulSets: string[]): string {
  return `CrdbCluster ${object.metadata.name} reconciles ${statefulSets.join(', ')} and has no pause: Baton takes custody (annotation ${PAUSED_BY_ANNOTATION}), sets spec.image.name to each version before changing the StatefulSet, and writes the operator's ${CRDB_VERSION_ANNOTATION} / ${CRDB_IMAGE_ANNOTATION} annotations with it, so the operator finds nothing to undo or roll itself`;
}

/** The sentence of the take-over and hand-back steps for `baton plan`. */
export function crdbDescribe(name: string): { takeOver: string; handBack: string } {
  return {
    takeOver: `take custody of CrdbCluster ${name} (annotation ${PAUSED_BY_ANNOTATION}); each version is set as its spec.image.name before the StatefulSet changes`,
    handBack: `release CrdbCluster ${name} once its StatefulSet is at rest (its spec already names the image that runs)`,
  };
}

/**
 * Take custody of CrdbCluster `name` for `upgrade`: the annotation {@link PAUSED_BY_ANNOTATION}, in
 * one resourceVersion-guarded merge patch. Idempotent; a line for events when it wrote something.
 * OperationalError `owner-held` when another Upgrade holds it, `owner-refused` when
 * {@link crdbRefusal} says Baton cannot.
 */
export async function holdCrdbCluster(
  io: ClusterIo,
  upgrade: UpgradeResource,
  kind: ClusterKind,
  name: string,
): Promise<string | undefined> {
  const wrote = await markHeld(io, upgrade, kind, name, { verb: 'held', refuse: crdbRefusal });
  return wrote
    ? `${kind.kind} ${name}: in Baton's custody (annotation ${PAUSED_BY_ANNOTATION}=${upgrade.metadata.name}); the CockroachDB operator keeps reconciling, and each version Baton rolls to is set as spec.image.name first`
    : undefined;
}

/** Whether the operator has seen `image` as the CrdbCluster's image (see the module comment). */
export function acknowledged(object: ClusterObject, image: string): boolean {
  const status = (object as { status?: CrdbStatus }).status;
  if (status?.crdbcontainerimage === image) return true;
  const checked = status?.conditions?.find((c) => c.type === CRDB_VERSION_CHECKED);
  return checked !== undefined && checked.status !== 'True';
}

/** What {@link pointCrdbClusterAt} needs besides the cluster: the wait for the operator. */
export interface PointOptions {
  /** Longest wait for the operator to acknowledge the image. */
  timeoutMs: number;
  /** Interval between reads while waiting. */
  pollMs: number;
  clock: Clock;
  signal?: AbortSignal;
}

/**
 * Before the StatefulSet's template runs `image`: the CrdbCluster's `spec.image.name` set to it
 * (when it differs), then wait until the operator acknowledges it ({@link acknowledged}). Returns
 * the annotations to write on the StatefulSet together with the template, the ones the operator's
 * StatefulSet builder would put there once its version check is done. OperationalError
 * `owner-not-held` unless `upgrade` holds the cluster, `crdb-operator-silent` when the operator
 * does not acknowledge within `opts.timeoutMs` (is it running?).
 */
export async function pointCrdbClusterAt(
  io: ClusterIo,
  upgrade: UpgradeResource,
  kind: ClusterKind,
  name: string,
  image: string,
  opts: PointOptions,
): Promise<{ annotations: Record<string, string>; message?: string }> {
  const me = upgrade.metadata.name;
  let object = await readClusterObject(io, upgrade, kind, name);
  let message: string | undefined;
  for (let attempt = 0; ; attempt++) {
    if (object.metadata.annotations?.[PAUSED_BY_ANNOTATION] !== me) {
      throw new OperationalError(
        'owner-not-held',
        `${kind.kind} ${name} is not held by upgrade ${me}: the take-over step must run before any pod is replaced`,
      );
    }
    if ((object.spec as CrdbSpec | undefined)?.image?.name === image) break;
    try {
      object = await patchCluster(io, kind, name, {
        metadata: { resourceVersion: object.metadata.resourceVersion },
        spec: { image: { name: image } },
      });
      message = `${kind.kind} ${name}: spec.image.name=${image} (the CockroachDB operator then expects the StatefulSet Baton rolls)`;
      break;
    } catch (err) {
      if (!isConflict(err) || attempt >= MAX_CONFLICTS) throw err;
      object = await readClusterObject(io, upgrade, kind, name);
    }
  }
  const deadline = opts.clock.now() + opts.timeoutMs;
  while (!acknowledged(object, image)) {
    if (opts.clock.now() > deadline) {
      throw new OperationalError(
        'crdb-operator-silent',
        `the CockroachDB operator has not acknowledged spec.image.name=${image} on ${kind.kind} ${name} within ${Math.round(opts.timeoutMs / 1000)} s (status.crdbcontainerimage unchanged, ${CRDB_VERSION_CHECKED} still True): is it running? Baton changes the StatefulSet only after it has`,
      );
    }
    await opts.clock.sleep(opts.pollMs, opts.signal);
    object = await readClusterObject(io, upgrade, kind, name);
  }
  return {
    annotations: { [CRDB_VERSION_ANNOTATION]: imageTag(image), [CRDB_IMAGE_ANNOTATION]: image },
    ...(message ? { message } : {}),
  };
}

/**
 * The hand-back of a CrdbCluster `upgrade` holds, once every StatefulSet is at rest with one
 * version running: the custody annotation removed (its spec already names the image that runs,
 * written before each version's first pod). Undefined when `upgrade` does not hold it; a decision
 * that is not ready says why (a cancelled roll left on two versions stays held: releasing it
 * would let the operator's deploy roll the rest to the spec's image).
 */
export async function releaseCrdbCluster(
  io: ClusterIo,
  upgrade: UpgradeResource,
  kind: ClusterKind,
  name: string,
  observed: ObservedTarget[],
): Promise<HandOver | undefined> {
  for (const o of observed) {
    const why = unsettled(o);
    if (why) return { ready: false, reason: why };
    const versions = [...new Set(o.members.map((m) => m.version))];
    if (versions.length > 1) {
      return {
        ready: false,
        reason: `${o.component} runs ${versions.join(' and ')}: ${kind.kind} ${name} stays in Baton's custody until one version runs everywhere`,
      };
    }
  }
  return unmarkHeld(io, upgrade, kind, name, (object) => ({
    ready: true,
    spec: {},
    message: `${kind.kind} ${name} released to the CockroachDB operator (spec.image.name=${(object.spec as CrdbSpec | undefined)?.image?.name ?? '?'}, what runs)`,
  }));
}
