/**
 * Database StatefulSets on the fake nodes of a node-upgrade test: process-backed pods spread one per
 * node, the database's own (paused) Upgrade naming the members' admin endpoints, a writer through
 * the database's client, and what the pods' process events say about members down at once.
 */
import { DATABASE_ENGINE_LABEL } from '../../src/api/nodes.js';
import { GROUP, PLURAL, VERSION, type UpgradeResourceSpec } from '../../src/api/upgrade.js';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import { Probe, createProbeClient } from '../../src/probe/index.js';
import type { ProcessPods } from '../kube/process-pods.js';
import { waitFor } from '../kube/helpers.js';
import { statefulSet } from '../k8s/platform-fixture.js';
import type { NodeCluster } from './k8s-fixture.js';

/**
 * Create StatefulSet `name` of `replicas` pods labelled `baton.dev/engine: engine`, one pod per node
 * (required anti-affinity on the hostname), on nodes labelled `pool=workers`; started in parallel
 * unless `ordered` (OrderedReady: each pod once the one before is Ready).
 */
export async function createSpreadDatabase(
  n: NodeCluster,
  o: {
    name: string;
    replicas: number;
    engine: string;
    image: string;
    ordered?: boolean;
    /** More labels on the StatefulSet (`baton.dev/component`). */
    labels?: Record<string, string>;
  },
): Promise<void> {
  const sts = statefulSet(o.name, o.replicas, {
    image: o.image,
    labels: { [DATABASE_ENGINE_LABEL]: o.engine, ...o.labels },
  });
  sts.spec!.podManagementPolicy = o.ordered ? 'OrderedReady' : 'Parallel';
  sts.spec!.template.spec!.nodeSelector = { pool: 'workers' };
  sts.spec!.template.spec!.affinity = {
    podAntiAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [
        { labelSelector: { matchLabels: { app: o.name } }, topologyKey: 'kubernetes.io/hostname' },
      ],
    },
  };
  await n.apps.createNamespacedStatefulSet({ namespace: n.c.namespace, body: sts });
}

/** Wait until StatefulSet `name` has `replicas` pods Ready. */
export async function waitDatabaseReady(n: NodeCluster, name: string, replicas: number): Promise<void> {
  try {
    await waitFor(
      `${name} ready`,
      async () =>
        (await n.apps.readNamespacedStatefulSet({ name, namespace: n.c.namespace })).status?.readyReplicas ===
        replicas,
      120_000,
      50,
    );
  } catch (err) {
    const pods = await n.core.listNamespacedPod({ namespace: n.c.namespace, labelSelector: `app=${name}` });
    const where = pods.items.map(
      (p) => `${p.metadata?.name} ${p.status?.phase} on ${p.spec?.nodeName ?? '-'}`,
    );
    throw new Error(
      `${(err as Error).message}: ${where.join(', ')}; kubelet: ${n.c.kubelet.errors.join('; ')}`,
      {
        cause: err,
      },
    );
  }
}

/** The short name of the node pod `pod` of the test's namespace is bound to, once it is. */
export async function nodeOfPod(n: NodeCluster, pod: string): Promise<string> {
  return waitFor(
    `${pod} bound to a node`,
    async () => {
      const p = await n.core
        .readNamespacedPod({ name: pod, namespace: n.c.namespace })
        .catch(() => undefined);
      const node = p?.spec?.nodeName;
      return node ? node.slice(n.c.namespace.length + 1) : undefined;
    },
    60_000,
    50,
  );
}

/** The database's own Upgrade (paused, never run): where the node drains find its members' endpoints. */
export async function databaseUpgrade(
  n: NodeCluster,
  o: {
    name: string;
    engine: string;
    version: string;
    endpoints: Record<string, string>;
    /** The Secret of the database's admin credentials (Redis Enterprise's REST API). */
    credentialsSecret?: string;
    /**
     * What the Upgrade targets, when not StatefulSet `name` alone: the database's StatefulSets
     * with their components (TiDB's PD, TiKV), or the cluster object they form (a TidbCluster).
     */
    target?: Pick<UpgradeResourceSpec['target'], 'statefulSets' | 'cluster'>;
  },
): Promise<void> {
  await n.c.rest.post(`/apis/${GROUP}/${VERSION}/namespaces/${n.c.namespace}/${PLURAL}`, {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'Upgrade',
    metadata: { name: o.name },
    spec: {
      engine: o.engine,
      version: o.version,
      paused: true,
      target: { ...(o.target ?? { statefulSet: o.name }), endpoints: o.endpoints },
      ...(o.credentialsSecret ? { credentialsSecret: { name: o.credentialsSecret } } : {}),
    },
  });
}

/** A started writer through the database's own client (stopped when `t` ends if not before). */
export async function startWriter(
  t: { after(fn: () => unknown): void },
  engine: 'etcd' | 'redis' | 'postgres',
  endpoints: () => string[],
): Promise<Probe> {
  const probe = new Probe({
    client: createProbeClient(engine, { endpoints: () => Promise.resolve(endpoints()), logger: nullLogger }),
    clock: systemClock,
    logger: nullLogger,
  });
  await probe.start();
  t.after(() => probe.stop().catch(() => undefined));
  return probe;
}

/** The most members whose processes were down at once, after the first `initial` starts. */
export function mostDownAtOnce(pods: ProcessPods, initial: number): number {
  let down = 0;
  let worst = 0;
  for (const e of pods.events.slice(initial)) {
    down += e.kind === 'stop' ? 1 : -1;
    worst = Math.max(worst, down);
  }
  return worst;
}
