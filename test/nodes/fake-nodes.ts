/**
 * The node side of a node upgrade, beside the fake kubelet (which runs the upgrade Job's pod like
 * any other pod): when Baton's upgrade Job for a node completes, the node restarts as a kubeadm
 * node does after `kubeadm upgrade node` and a kubelet upgrade (NotReady for `restartMs`, then Ready
 * with the Job's TARGET_VERSION as `nodeInfo.kubeletVersion`); when Baton deletes a Node of a
 * `replace` pool, the pool brings up a new node with the same labels at the pool's version (as a
 * managed node pool's surge replacement does). Pods of chosen nodes' Jobs can be made to fail.
 */
import type { V1Job, V1Node, V1Pod } from '@kubernetes/client-node';
import { EXIT_CODE_ANNOTATION, RUN_MS_ANNOTATION } from '../kube/fake-kubelet.js';
import type { TestCluster } from '../kube/test-cluster.js';

/** Options of {@link startNodeSide}. */
export interface NodeSideOptions {
  /** Namespace of Baton's upgrade Jobs. */
  jobNamespace: string;
  /** How long a restarting node stays NotReady (default 100 ms). */
  restartMs?: number;
  /** How long an upgrade Job's pod runs (default 100 ms). */
  jobRunMs?: number;
  /** Version new nodes of a replaced pool come up with. */
  replaceVersion?: string;
}

/** The running node side: what it did, and knobs. */
export interface NodeSide {
  /** Nodes whose upgrade Job pods exit with code 1. */
  failJobsOn: Set<string>;
  /** Nodes restarted with a new version, in order. */
  restarted: string[];
  /** Replacements: [deleted node, new node]. */
  replaced: [string, string][];
  stop(): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Start acting the nodes' side of `c`'s kubelet (stopped via `stop`): only its own nodes, so several
 * kubelets (processes) can share a namespace's Jobs.
 */
export function startNodeSide(
  c: Pick<TestCluster, 'rest' | 'kubelet' | 'namespace'>,
  o: NodeSideOptions,
): NodeSide {
  const restartMs = o.restartMs ?? 100;
  const side: NodeSide = { failJobsOn: new Set(), restarted: [], replaced: [], stop: () => {} };
  const done = new Set<string>();
  const annotated = new Set<string>();
  let replacements = 0;
  const jobs = c.rest.listWatch<V1Job>(
    `/apis/batch/v1/namespaces/${o.jobNamespace}/jobs`,
    {},
    (type, job) => {
      if (type === 'DELETED') return;
      const node = job.metadata?.annotations?.['baton.dev/node'];
      const version = job.metadata?.annotations?.['baton.dev/target-version'];
      const complete = job.status?.conditions?.some((x) => x.type === 'Complete' && x.status === 'True');
      const uid = job.metadata!.uid!;
      if (!node || !version || !complete || done.has(uid) || !c.kubelet.nodeNames().includes(node)) return;
      done.add(uid);
      void (async () => {
        await c.kubelet.setNodeReady(node, false);
        await sleep(restartMs);
        await c.kubelet.setKubeletVersion(node, version);
        await c.kubelet.setNodeReady(node, true);
        side.restarted.push(node);
      })().catch((err: unknown) => c.kubelet.errors.push(`node side: ${String(err)}`));
    },
  );
  // The Job pods: how long they run and whether they fail, set as soon as they exist.
  const pods = c.rest.listWatch<V1Pod>(`/api/v1/namespaces/${o.jobNamespace}/pods`, {}, (type, pod) => {
    if (type === 'DELETED' || !pod.metadata?.labels?.['job-name']) return;
    if (!c.kubelet.nodeNames().includes(pod.spec?.nodeName ?? '')) return;
    const key = pod.metadata.uid!;
    if (annotated.has(key)) return;
    annotated.add(key);
    const fail = side.failJobsOn.has(pod.spec?.nodeName ?? '');
    void c.rest
      .patch(`/api/v1/namespaces/${o.jobNamespace}/pods/${pod.metadata.name}`, {
        metadata: {
          annotations: {
            [RUN_MS_ANNOTATION]: String(o.jobRunMs ?? 100),
            [EXIT_CODE_ANNOTATION]: fail ? '1' : '0',
          },
        },
      })
      .catch((err: unknown) => c.kubelet.errors.push(`node side: ${String(err)}`));
  });
  // A Node of this test deleted while its kubelet still serves it: the pool replaces it.
  const nodes = c.rest.listWatch<V1Node>('/api/v1/nodes', {}, (type, node) => {
    const name = node.metadata!.name!;
    if (type !== 'DELETED' || !c.kubelet.nodeNames().includes(name) || !o.replaceVersion) return;
    replacements += 1;
    const next = `${c.namespace}-new-${replacements}`;
    const labels = { ...node.metadata?.labels };
    delete labels['kubernetes.io/hostname'];
    const taints = (node.spec?.taints ?? []).filter((t) => !t.key.startsWith('node.kubernetes.io/')) as {
      key: string;
      value?: string;
      effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
    }[];
    void (async () => {
      await c.kubelet.removeNode(name);
      await sleep(restartMs);
      await c.kubelet.addNode({ name: next, labels, taints, kubeletVersion: o.replaceVersion });
      side.replaced.push([name, next]);
    })().catch((err: unknown) => c.kubelet.errors.push(`node side: ${String(err)}`));
  });
  side.stop = () => {
    jobs.stop();
    pods.stop();
    nodes.stop();
  };
  return side;
}
