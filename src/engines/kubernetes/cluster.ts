/**
 * What the node engine reads from the API server in one observation, and the small client calls it
 * makes (cordon, eviction, uncordon), with `@kubernetes/client-node` 1.4. The Eviction request is
 * policy/v1 `Eviction` POSTed to `pods/<name>/eviction`, as kubectl drain sends it
 * (staging/src/k8s.io/kubectl/pkg/drain/drain.go EvictPod); the apiserver answers 429 while a
 * PodDisruptionBudget refuses it (pkg/registry/core/pod/storage/eviction.go) and 404 for a pod
 * already gone.
 */
import {
  AppsV1Api,
  CoreV1Api,
  PolicyV1Api,
  type KubeConfig,
  type V1Node,
  type V1Pod,
  type V1PodDisruptionBudget,
  type V1ReplicaSet,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { httpStatus } from '../../api/client.js';
import { isReady } from '../../api/conditions.js';
import type { NodeInformers } from '../../api/node-informers.js';

/** Objects of one observation. */
export interface ClusterView {
  nodes: Map<string, V1Node>;
  /** Pods by node name (pods not bound to a node are left out). */
  podsByNode: Map<string, V1Pod[]>;
  pdbs: V1PodDisruptionBudget[];
  /** StatefulSets and ReplicaSets by `namespace/Kind/name`. */
  workloads: Map<string, Workload>;
}

/** A StatefulSet or ReplicaSet (the controllers of evicted pods Baton waits for). */
export type Workload =
  { kind: 'StatefulSet'; obj: V1StatefulSet } | { kind: 'ReplicaSet'; obj: V1ReplicaSet };

/** The API clients of the node engine, and the informers it reads through when it has them. */
export class NodeApi {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly policy: PolicyV1Api;
  constructor(
    kc: KubeConfig,
    private readonly informers?: NodeInformers,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.policy = kc.makeApiClient(PolicyV1Api);
  }

  /**
   * Nodes, pods, PodDisruptionBudgets and (when `workloads`) the StatefulSets and ReplicaSets of the
   * whole cluster: from the informers once they have seen Baton's own Node writes (no request), else
   * one LIST each, whatever the number of nodes.
   */
  async view(workloads: boolean, signal?: AbortSignal): Promise<ClusterView> {
    const inf = this.informers;
    if (inf && (await inf.fresh(signal))) {
      return viewOf(
        inf.nodes.list(),
        inf.pods.list(),
        inf.pdbs.list(),
        workloads ? inf.statefulSets.list() : [],
        workloads ? inf.replicaSets.list() : [],
      );
    }
    const [nodes, pods, pdbs, sts, rs] = await Promise.all([
      this.core.listNode(),
      this.core.listPodForAllNamespaces(),
      this.policy.listPodDisruptionBudgetForAllNamespaces(),
      workloads ? this.apps.listStatefulSetForAllNamespaces() : undefined,
      workloads ? this.apps.listReplicaSetForAllNamespaces() : undefined,
    ]);
    return viewOf(nodes.items, pods.items, pdbs.items, sts?.items ?? [], rs?.items ?? []);
  }

  /** Record a write to Node `node` (its new object), so later views wait until they see it. */
  wrote(node: V1Node): void {
    this.informers?.wrote(node.metadata?.name ?? '', node.metadata?.resourceVersion);
  }

  /**
   * The pods bound to `node`: from the pod informer once it has listed (a pod bound a moment ago
   * may be missing; callers act again while the node is not empty), else one LIST.
   */
  async podsOn(node: string): Promise<V1Pod[]> {
    const pods = this.informers?.pods;
    if (pods?.synced) return pods.list().filter((p) => p.spec?.nodeName === node);
    return (await this.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` })).items;
  }

  /**
   * StatefulSet or ReplicaSet `key` (`namespace/Kind/name`): the informer's copy once it has
   * listed, else one GET; undefined when it does not exist.
   */
  async workload(key: string): Promise<Workload | undefined> {
    const [namespace = '', kind, name = ''] = key.split('/');
    const inf = this.informers;
    if (kind === 'StatefulSet') {
      if (inf?.statefulSets.synced) return wrap('StatefulSet', inf.statefulSets.get(`${namespace}/${name}`));
      return wrap('StatefulSet', await this.apps.readNamespacedStatefulSet({ namespace, name }).catch(gone));
    }
    if (kind === 'ReplicaSet') {
      if (inf?.replicaSets.synced) return wrap('ReplicaSet', inf.replicaSets.get(`${namespace}/${name}`));
      return wrap('ReplicaSet', await this.apps.readNamespacedReplicaSet({ namespace, name }).catch(gone));
    }
    return undefined;
  }

  /** The informer's copy of Node `node`, when it has one (possibly a little behind). */
  cachedNode(node: string): V1Node | undefined {
    return this.informers?.nodes.synced ? this.informers.nodes.get(`/${node}`) : undefined;
  }
}

function wrap(kind: 'StatefulSet', obj: V1StatefulSet | undefined): Workload | undefined;
function wrap(kind: 'ReplicaSet', obj: V1ReplicaSet | undefined): Workload | undefined;
function wrap(kind: Workload['kind'], obj: V1StatefulSet | V1ReplicaSet | undefined): Workload | undefined {
  return obj ? ({ kind, obj } as Workload) : undefined;
}

/** undefined for a 404 (the object is gone), else the error again. */
function gone(err: unknown): undefined {
  if (httpStatus(err) === 404) return undefined;
  throw err;
}

/** A view of the objects given. */
function viewOf(
  nodes: V1Node[],
  pods: V1Pod[],
  pdbs: V1PodDisruptionBudget[],
  sts: V1StatefulSet[],
  rs: V1ReplicaSet[],
): ClusterView {
  const podsByNode = new Map<string, V1Pod[]>();
  for (const p of pods) {
    const n = p.spec?.nodeName;
    if (!n) continue;
    const list = podsByNode.get(n) ?? [];
    list.push(p);
    podsByNode.set(n, list);
  }
  const wl = new Map<string, Workload>();
  for (const obj of sts)
    wl.set(`${obj.metadata?.namespace}/StatefulSet/${obj.metadata?.name}`, { kind: 'StatefulSet', obj });
  for (const obj of rs)
    wl.set(`${obj.metadata?.namespace}/ReplicaSet/${obj.metadata?.name}`, { kind: 'ReplicaSet', obj });
  return {
    nodes: new Map(nodes.map((n) => [n.metadata!.name!, n])),
    podsByNode,
    pdbs,
    workloads: wl,
  };
}

/** Whether a Node reports Ready=True. */
export function nodeReady(node: V1Node | undefined): boolean {
  return isReady(node);
}

/** Whether a pod reports Ready=True. */
export function podReady(pod: V1Pod): boolean {
  return isReady(pod);
}

/**
 * How many of a workload's desired replicas are not available (a ReplicaSet) or not ready (a
 * StatefulSet); 0 for a workload that is gone (nothing to wait for).
 */
export function workloadUnavailable(w: Workload | undefined): number {
  if (!w) return 0;
  const want = w.obj.spec?.replicas ?? 1;
  const have = w.kind === 'StatefulSet' ? w.obj.status?.readyReplicas : w.obj.status?.availableReplicas;
  return Math.max(0, want - (have ?? 0));
}
