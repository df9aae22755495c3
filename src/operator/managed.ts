/**
 * Managed StatefulSets: a StatefulSet labelled `baton.dev/managed=true` whose roll is frozen
 * (updateStrategy OnDelete, or RollingUpdate with partition >= replicas) gets an Upgrade as soon as
 * its template changes (`kubectl patch`, `kubectl apply`, `helm upgrade`): the controller reports a
 * new `status.updateRevision` while pods still run the old one. The Upgrade is named
 * `<sts>-<revision hash>`, labelled `baton.dev/statefulset`, owned by the StatefulSet, uses the
 * engine from label `baton.dev/engine` (default `generic`) and targets the new template's image
 * tag. At most one open Upgrade per StatefulSet: a new one waits until the previous is terminal.
 *
 * The operator only creates Upgrades here; it never writes the StatefulSet. Holding its roll for
 * Baton and freezing it again afterwards are the runner's own journalled steps (take-over and
 * hand-back, platforms/kubernetes/custody.ts): the hand-back gives a StatefulSet frozen before
 * its roll (`partition = replicas`) exactly that strategy back, so the next template change is
 * Baton's too, and a crash between any two steps resumes where the journal says.
 */
import type { V1StatefulSet } from '@kubernetes/client-node';
import { API_VERSION, KIND, LABELS, type UpgradeResource } from '../api/upgrade.js';
import { isTerminal, type Phase } from '../core/types.js';
import { imageTag } from '../platforms/kubernetes/members.js';

/** On a managed Upgrade: the StatefulSet revision it was created for. */
export const UPDATE_REVISION_ANNOTATION = 'baton.dev/update-revision';

/** Whether Baton (not the StatefulSet controller) rolls this StatefulSet. */
export function isManaged(sts: V1StatefulSet): boolean {
  return sts.metadata?.labels?.[LABELS.managed] === 'true';
}

/** Whether the controller will not roll pods by itself (OnDelete, or partition >= replicas). */
export function isRollFrozen(sts: V1StatefulSet): boolean {
  const strategy = sts.spec?.updateStrategy;
  if (strategy?.type === 'OnDelete') return true;
  const replicas = sts.spec?.replicas ?? 1;
  return (strategy?.rollingUpdate?.partition ?? 0) >= replicas;
}

/** The hash part of a revision name `<sts>-<hash>`. */
export function revisionSuffix(sts: string, revision: string): string {
  return revision.startsWith(`${sts}-`) ? revision.slice(sts.length + 1) : revision;
}

/** Whether an Upgrade of this StatefulSet is still open (not terminal, or not started yet). */
function isOpen(u: UpgradeResource): boolean {
  const phase = u.status?.phase as Phase | undefined;
  return !phase || !isTerminal(phase);
}

/**
 * The Upgrade to create for a managed StatefulSet whose template changed, or undefined when none
 * is due (not managed, not frozen, no pending revision, an open Upgrade exists, or this revision
 * already has its Upgrade). `upgrades` are the known Upgrades of the StatefulSet's namespace.
 */
export function managedUpgradeFor(
  sts: V1StatefulSet,
  upgrades: UpgradeResource[],
): UpgradeResource | undefined {
  if (!isManaged(sts) || !isRollFrozen(sts)) return undefined;
  const name = sts.metadata?.name;
  const namespace = sts.metadata?.namespace;
  const uid = sts.metadata?.uid;
  const status = sts.status;
  if (!name || !namespace || !uid || !status?.updateRevision || !status.currentRevision) return undefined;
  // The controller must have seen the current template, so updateRevision names it.
  if ((status.observedGeneration ?? 0) < (sts.metadata?.generation ?? 0)) return undefined;
  const replicas = sts.spec?.replicas ?? 1;
  if (status.updateRevision === status.currentRevision || (status.updatedReplicas ?? 0) >= replicas)
    return undefined;
  const mine = upgrades.filter(
    (u) => u.metadata.namespace === namespace && u.metadata.labels?.[LABELS.statefulSet] === name,
  );
  const upgradeName = `${name}-${revisionSuffix(name, status.updateRevision)}`;
  if (
    mine.some(isOpen) ||
    upgrades.some((u) => u.metadata.namespace === namespace && u.metadata.name === upgradeName)
  )
    return undefined;
  const image = sts.spec?.template?.spec?.containers?.[0]?.image;
  if (!image) return undefined;
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: upgradeName,
      namespace,
      labels: { [LABELS.statefulSet]: name },
      annotations: { [UPDATE_REVISION_ANNOTATION]: status.updateRevision },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name, uid, blockOwnerDeletion: false }],
    } as UpgradeResource['metadata'],
    spec: {
      target: { statefulSet: name },
      engine: sts.metadata?.labels?.[LABELS.engine] ?? 'generic',
      version: imageTag(image),
    },
  };
}
