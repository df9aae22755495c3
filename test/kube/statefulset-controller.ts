/**
 * StatefulSet controller, following the real controller's algorithm (stateful_set_control.go)
 * closely enough that rollouts behave the same way:
 *
 * - Revisions: the pod template is hashed (FNV-32a of its canonical JSON, safe-encoded like
 *   `rand.SafeEncodeString`) into a ControllerRevision `<sts>-<hash>`; pods carry the label
 *   `controller-revision-hash`. Returning to an earlier template reuses its ControllerRevision
 *   (with a new revision number).
 * - Pods `<sts>-<ordinal>` are created from the template of their revision: with RollingUpdate,
 *   ordinals below `partition` get the current revision and the rest the update revision; with
 *   OnDelete every new pod gets the update revision. PVCs from `volumeClaimTemplates` are created
 *   (`<claim>-<pod>`) and kept when the StatefulSet goes.
 * - OrderedReady: pods are created in ordinal order, one at a time, each waiting for its
 *   predecessors to be Running and Ready; any unready or terminating pod stops all progress. This
 *   is the "rollback trap": a pod that never becomes Ready at a bad revision blocks the controller
 *   even after the template is reverted, until someone deletes that pod. Parallel: all at once.
 * - Scale down removes the highest ordinals first (one at a time with OrderedReady).
 * - RollingUpdate: from the highest ordinal down to `partition`, the first pod not at the update
 *   revision is deleted (and recreated at the update revision); the controller waits for each
 *   updated pod to be Running and Ready before moving to the next. OnDelete: pods are only
 *   replaced when someone deletes them.
 * - Status: replicas, readyReplicas, availableReplicas, currentReplicas, updatedReplicas,
 *   currentRevision, updateRevision, observedGeneration, collisionCount. With RollingUpdate,
 *   once every replica is updated and ready, currentRevision becomes updateRevision; with OnDelete
 *   currentRevision stays where it was, as on the real server.
 */
import type { Cluster } from './cluster.js';
import { invalid } from './errors.js';
import { isPodReady } from './kubelet.js';
import type { Scheduler } from './scheduler.js';
import { fromLabelSelector, matchesLabels } from './selectors.js';
import type { StoreEvent } from './store.js';
import {
  clone,
  isObject,
  jsonEqual,
  stableStringify,
  type JsonObject,
  type KubeObject,
  type LabelSelectorSpec,
} from './types.js';

/** Label on pods and revisions naming the ControllerRevision they were made from. */
export const REVISION_LABEL = 'controller-revision-hash';

interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: JsonObject;
}

interface StatefulSetSpec {
  replicas?: number;
  selector?: LabelSelectorSpec;
  serviceName?: string;
  template?: PodTemplate;
  podManagementPolicy?: 'OrderedReady' | 'Parallel';
  updateStrategy?: { type?: 'RollingUpdate' | 'OnDelete'; rollingUpdate?: { partition?: number } };
  volumeClaimTemplates?: KubeObject[];
  revisionHistoryLimit?: number;
}

const MUTABLE_SPEC_FIELDS = [
  'replicas',
  'ordinals',
  'template',
  'updateStrategy',
  'persistentVolumeClaimRetentionPolicy',
  'minReadySeconds',
];

/** Defaults the API server applies to a StatefulSet. */
export function defaultStatefulSet(obj: KubeObject): void {
  const spec = (isObject(obj.spec) ? obj.spec : (obj.spec = {})) as StatefulSetSpec & JsonObject;
  spec.replicas ??= 1;
  spec.podManagementPolicy ??= 'OrderedReady';
  spec.updateStrategy ??= { type: 'RollingUpdate' };
  spec.updateStrategy.type ??= 'RollingUpdate';
  if (spec.updateStrategy.type === 'RollingUpdate') {
    spec.updateStrategy.rollingUpdate ??= {};
    spec.updateStrategy.rollingUpdate.partition ??= 0;
  }
  spec.revisionHistoryLimit ??= 10;
  spec.persistentVolumeClaimRetentionPolicy ??= { whenDeleted: 'Retain', whenScaled: 'Retain' };
  obj.status ??= { replicas: 0, availableReplicas: 0 };
}

/** 422 when the selector is missing or does not match the template labels, or a fixed field changed. */
export function validateStatefulSet(obj: KubeObject, old: KubeObject | undefined): void {
  const name = obj.metadata.name ?? '';
  const spec = (obj.spec ?? {}) as StatefulSetSpec & JsonObject;
  const selector = fromLabelSelector(spec.selector);
  if (selector.length === 0)
    throw invalid('apps', 'StatefulSet', name, [{ field: 'spec.selector', message: 'Required value' }]);
  if (!matchesLabels(selector, spec.template?.metadata?.labels)) {
    throw invalid('apps', 'StatefulSet', name, [
      {
        field: 'spec.template.metadata.labels',
        message: `Invalid value: ${JSON.stringify(spec.template?.metadata?.labels ?? {})}: \`selector\` does not match template \`labels\``,
      },
    ]);
  }
  if (!Array.isArray(spec.template?.spec?.containers) || spec.template.spec.containers.length === 0) {
    throw invalid('apps', 'StatefulSet', name, [
      { field: 'spec.template.spec.containers', message: 'Required value' },
    ]);
  }
  if (old) {
    const fixed = (o: KubeObject) => {
      const s = { ...((o.spec ?? {}) as JsonObject) };
      for (const f of MUTABLE_SPEC_FIELDS) delete s[f];
      return s;
    };
    if (!jsonEqual(fixed(obj), fixed(old))) {
      throw invalid('apps', 'StatefulSet', name, [
        {
          field: 'spec',
          message:
            "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        },
      ]);
    }
  }
}

/** FNV-32a of the canonical JSON of a pod template, safe-encoded like the real controller's hash. */
export function templateHash(template: unknown, collisionCount = 0): string {
  let h = 0x811c9dc5;
  const text = stableStringify(template) + (collisionCount ? String(collisionCount) : '');
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...String(h)].map((c) => alphabet[c.charCodeAt(0) % alphabet.length]).join('');
}

/** The StatefulSet controller of the fake. */
export class StatefulSetController {
  constructor(
    private readonly cluster: Cluster,
    private readonly scheduler: Scheduler,
  ) {}

  /** React to a store change: StatefulSets themselves and pods they own. */
  observe(e: StoreEvent): void {
    if (e.key === 'apps/statefulsets') {
      if (e.type !== 'DELETED') this.enqueue(e.object.metadata.namespace!, e.object.metadata.name!);
      return;
    }
    if (e.key === '/pods') {
      const owner = (e.object.metadata.ownerReferences ?? []).find(
        (r) => r.controller && r.kind === 'StatefulSet',
      );
      if (owner) this.enqueue(e.object.metadata.namespace!, owner.name);
    }
  }

  private enqueue(namespace: string, name: string): void {
    this.scheduler.enqueue(`sts/${namespace}/${name}`, () => this.sync(namespace, name));
  }

  private types() {
    const r = this.cluster.registry;
    return {
      sts: r.byResource('apps', 'statefulsets')!,
      pods: r.byResource('', 'pods')!,
      revisions: r.byResource('apps', 'controllerrevisions')!,
      pvcs: r.byResource('', 'persistentvolumeclaims')!,
    };
  }

  private sync(namespace: string, name: string): void {
    const T = this.types();
    const sts = this.cluster.find(T.sts, namespace, name);
    if (!sts || sts.metadata.deletionTimestamp) return;
    const spec = sts.spec as StatefulSetSpec;
    const status = (isObject(sts.status) ? sts.status : {}) as {
      currentRevision?: string;
      updateRevision?: string;
    };
    const update = this.ensureRevision(sts);
    const currentName = status.currentRevision || update.metadata.name!;
    const current = this.cluster.find(T.revisions, namespace, currentName) ?? update;
    const replicas = spec.replicas ?? 1;
    const monotonic = spec.podManagementPolicy !== 'Parallel';
    const rolling = spec.updateStrategy?.type !== 'OnDelete';
    const partition = rolling ? (spec.updateStrategy?.rollingUpdate?.partition ?? 0) : 0;

    const pods = this.ownedPods(sts);
    const slots: (KubeObject | undefined)[] = [];
    const condemned: KubeObject[] = [];
    for (const [ord, pod] of pods) {
      if (ord < replicas) slots[ord] = pod;
      else condemned.push(pod);
    }
    condemned.sort((a, b) => ordinalOf(name, b) - ordinalOf(name, a));

    const act = (): void => {
      for (let ord = 0; ord < replicas; ord++) {
        const pod = slots[ord];
        if (!pod) {
          const rev = rolling && ord < partition ? current : update;
          this.createPod(sts, rev, ord);
          if (monotonic) return;
          continue;
        }
        if (pod.metadata.deletionTimestamp) {
          if (monotonic) return;
          continue;
        }
        if (!isPodReady(pod) && monotonic) return;
      }
      for (const pod of condemned) {
        if (pod.metadata.deletionTimestamp) {
          if (monotonic) return;
          continue;
        }
        this.cluster.delete(T.pods, namespace, pod.metadata.name!);
        if (monotonic) return;
      }
      if (!rolling) return;
      for (let ord = replicas - 1; ord >= partition; ord--) {
        const pod = slots[ord];
        if (!pod) return;
        if (revisionOf(pod) !== update.metadata.name && !pod.metadata.deletionTimestamp) {
          this.cluster.delete(T.pods, namespace, pod.metadata.name!);
          return;
        }
        if (!isPodReady(pod)) return;
      }
    };
    act();
    this.writeStatus(sts, currentName, update.metadata.name!, rolling);
  }

  /** The ControllerRevision of the current template, created or renumbered as needed. */
  private ensureRevision(sts: KubeObject): KubeObject {
    const T = this.types();
    const spec = sts.spec as StatefulSetSpec;
    const namespace = sts.metadata.namespace!;
    const hash = templateHash(spec.template);
    const revName = `${sts.metadata.name}-${hash}`;
    const owned = this.cluster
      .list(T.revisions, namespace)
      .filter((r) => (r.metadata.ownerReferences ?? []).some((o) => o.uid === sts.metadata.uid));
    const maxRevision = Math.max(0, ...owned.map((r) => Number(r.revision ?? 0)));
    const existing = owned.find((r) => r.metadata.name === revName);
    if (existing) {
      if (Number(existing.revision ?? 0) !== maxRevision) {
        const next = clone(existing);
        next.revision = maxRevision + 1;
        return this.cluster.controllerWrite(T.revisions, next, false) ?? existing;
      }
      return existing;
    }
    const labels: Record<string, string> = {
      ...(spec.selector?.matchLabels ?? {}),
      'controller.kubernetes.io/hash': hash,
    };
    return this.cluster.create(T.revisions, 'v1', namespace, {
      metadata: { name: revName, namespace, labels, ownerReferences: [ownerRef(sts)] },
      data: { spec: { template: { ...clone(spec.template ?? {}), $patch: 'replace' } } },
      revision: maxRevision + 1,
    });
  }

  /** The pods `sts` controls, by ordinal: the stored objects themselves, read only. */
  private ownedPods(sts: KubeObject): Map<number, Readonly<KubeObject>> {
    const T = this.types();
    const out = new Map<number, Readonly<KubeObject>>();
    const owned = (pod: Readonly<KubeObject>) =>
      (pod.metadata.ownerReferences ?? []).some((r) => r.uid === sts.metadata.uid && r.controller);
    for (const pod of this.cluster.store.view(
      T.pods.group,
      T.pods.resource,
      sts.metadata.namespace!,
      owned,
    )) {
      const ord = ordinalOf(sts.metadata.name!, pod);
      if (ord >= 0) out.set(ord, pod);
    }
    return out;
  }

  private createPod(sts: KubeObject, revision: KubeObject, ordinal: number): void {
    const T = this.types();
    const spec = sts.spec as StatefulSetSpec;
    const namespace = sts.metadata.namespace!;
    const podName = `${sts.metadata.name}-${ordinal}`;
    const data = revision.data as { spec?: { template?: PodTemplate } } | undefined;
    const template = clone(data?.spec?.template ?? spec.template ?? {}) as PodTemplate & JsonObject;
    delete template.$patch;
    const podSpec = clone(template.spec ?? {}) as JsonObject & { volumes?: JsonObject[] };
    podSpec.hostname = podName;
    if (spec.serviceName) podSpec.subdomain = spec.serviceName;
    for (const claim of spec.volumeClaimTemplates ?? []) {
      const claimName = `${claim.metadata.name}-${podName}`;
      podSpec.volumes = (podSpec.volumes ?? []).filter((v) => v.name !== claim.metadata.name);
      podSpec.volumes.push({ name: claim.metadata.name, persistentVolumeClaim: { claimName } });
      if (!this.cluster.find(T.pvcs, namespace, claimName)) {
        this.cluster.create(T.pvcs, 'v1', namespace, {
          metadata: { name: claimName, namespace, labels: { ...(spec.selector?.matchLabels ?? {}) } },
          spec: clone(claim.spec ?? {}),
        });
      }
    }
    this.cluster.create(T.pods, 'v1', namespace, {
      metadata: {
        name: podName,
        namespace,
        labels: {
          ...(template.metadata?.labels ?? {}),
          [REVISION_LABEL]: revision.metadata.name!,
          'statefulset.kubernetes.io/pod-name': podName,
          'apps.kubernetes.io/pod-index': String(ordinal),
        },
        ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
        ownerReferences: [ownerRef(sts)],
      },
      spec: podSpec,
    });
  }

  private writeStatus(
    sts: KubeObject,
    currentRevision: string,
    updateRevision: string,
    rolling: boolean,
  ): void {
    const T = this.types();
    const fresh = this.cluster.find(T.sts, sts.metadata.namespace!, sts.metadata.name!);
    if (!fresh) return;
    const spec = fresh.spec as StatefulSetSpec;
    const live = [...this.ownedPods(fresh).values()].filter((p) => !p.metadata.deletionTimestamp);
    const ready = live.filter(isPodReady).length;
    const updated = live.filter((p) => revisionOf(p) === updateRevision).length;
    let current = currentRevision;
    let currentReplicas = live.filter((p) => revisionOf(p) === currentRevision).length;
    const want = spec.replicas ?? 1;
    if (rolling && updated === want && ready === want) {
      current = updateRevision;
      currentReplicas = updated;
    }
    const old = (isObject(fresh.status) ? fresh.status : {}) as JsonObject;
    const status: JsonObject = {
      observedGeneration: fresh.metadata.generation,
      replicas: live.length,
      readyReplicas: ready,
      availableReplicas: ready,
      currentReplicas,
      updatedReplicas: updated,
      currentRevision: current,
      updateRevision,
      collisionCount: 0,
    };
    if (jsonEqual(old, status)) return;
    const next = clone(fresh);
    next.status = status;
    this.cluster.controllerWrite(T.sts, next, true);
  }
}

function ownerRef(sts: KubeObject) {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    name: sts.metadata.name!,
    uid: sts.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

function ordinalOf(stsName: string, pod: KubeObject): number {
  const name = pod.metadata.name ?? '';
  if (!name.startsWith(`${stsName}-`)) return -1;
  const rest = name.slice(stsName.length + 1);
  return /^(0|[1-9][0-9]*)$/.test(rest) ? Number(rest) : -1;
}

/** The `controller-revision-hash` label of a pod. */
export function revisionOf(pod: KubeObject): string | undefined {
  return pod.metadata.labels?.[REVISION_LABEL];
}
