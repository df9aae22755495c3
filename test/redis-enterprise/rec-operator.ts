/**
 * The part of the Redis Enterprise operator that reconciles a RedisEnterpriseCluster (REC), for
 * tests on the control plane (the real operator's code is closed and cannot run here). What it does
 * follows Redis's documentation, not its code:
 * - the REC CRD (`app.redislabs.com/v1`, `redisenterpriseclusters`, with the status subresource;
 *   the fields used: `spec.nodes`, `spec.redisEnterpriseImageSpec.{repository,versionTag}`,
 *   `status.state`), redis/docs `content/operate/kubernetes/reference/api/
 *   redis_enterprise_cluster_api.md`;
 * - it owns one StatefulSet named like the REC (controller ownerReference; "kubectl rollout status
 *   sts <REC_name>" follows the roll, so it is a RollingUpdate StatefulSet), its first container
 *   running `<repository>:<versionTag>`, and puts back a template it did not write;
 * - when the versionTag changes it rolls the pods one at a time, each after the previous one
 *   completed, and before each pod goes promotes replicas on other pods for the primary shards the
 *   pod hosts and moves the cluster's master role away (https://redis.io/docs/latest/operate/
 *   kubernetes/upgrade/, "How does the REC upgrade work?"; the seed); here: the template and a
 *   partition of `nodes` in one write, then per pod, highest ordinal first as the StatefulSet
 *   controller goes, {@link RecDoubleCluster.handOverNode} until the pod holds nothing, the
 *   partition lowered to its ordinal (the real StatefulSet controller recreates it), and the next
 *   pod only once that one is Ready at the update revision;
 * - `status.state` is `Upgrade` during the roll and `Running` when it is over
 *   (https://redis.io/docs/latest/operate/kubernetes/upgrade/upgrade-redis-cluster/, "Monitor the
 *   upgrade").
 * It has no pause (nor has the real one): nothing Baton does stops a roll once started. It reads by
 * polling every `tickMs` (the real one watches) and decides from the objects alone, so a restart of
 * it goes on where it was. Its requests go straight to the apiserver, not through the fault proxy.
 */
import type { V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { REDIS_ENTERPRISE_CLUSTER as REC } from '../../src/platforms/kubernetes/cluster-ref.js';
import { applyCrd } from '../kube/crds.js';
import { PATCH } from '../kube/rest.js';
import type { TestCluster } from '../kube/test-cluster.js';
import type { RecDoubleCluster } from './cluster.js';

/** A REC as the stand-in reads it. */
export interface RecObject {
  metadata: {
    name: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    annotations?: Record<string, string>;
  };
  spec: { nodes: number; redisEnterpriseImageSpec?: { repository?: string; versionTag?: string } };
  status?: { state?: string };
}

/** The REC CRD with the fields the stand-in reads, and the status subresource. */
export async function installRecCrd(server: TestCluster): Promise<void> {
  const str = { type: 'string' };
  await applyCrd(server.rest, {
    metadata: { name: `${REC.plural}.${REC.group}` },
    spec: {
      group: REC.group,
      scope: 'Namespaced',
      names: { kind: REC.kind, plural: REC.plural, singular: 'redisenterprisecluster', shortNames: ['rec'] },
      versions: [
        {
          name: REC.version,
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: {
                  type: 'object',
                  properties: {
                    nodes: { type: 'integer', format: 'int32' },
                    redisEnterpriseImageSpec: {
                      type: 'object',
                      properties: { repository: str, versionTag: str, imagePullPolicy: str },
                    },
                  },
                  'x-kubernetes-preserve-unknown-fields': true,
                },
                status: {
                  type: 'object',
                  properties: { state: str, specStatus: str },
                  'x-kubernetes-preserve-unknown-fields': true,
                },
              },
            },
          },
        },
      ],
    },
  });
}

/** What the stand-in did; {@link stop} it (also when the test ends). */
export interface RecOperator {
  /** Every versionTag it started a roll to (a change of the REC's spec it acted on). */
  rolls: string[];
  /** Pods it let go, in order (the partition lowered to their ordinal). */
  released: string[];
  /** `status.state` values it wrote, in order. */
  states: string[];
  stop(): void;
}

const isReady = (p: V1Pod) =>
  !p.metadata?.deletionTimestamp &&
  (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/**
 * The REC CRD, REC `name` (`nodes` pods of `repository:versionTag`, state Running) and the stand-in
 * reconciling it over `cluster` (the REST double behind its pods), stopped when `t` ends.
 */
export async function startRecOperator(
  t: { after(fn: () => unknown): void },
  server: TestCluster,
  cluster: RecDoubleCluster,
  opts: { name: string; nodes: number; repository: string; versionTag: string; tickMs?: number },
): Promise<RecOperator> {
  await installRecCrd(server);
  const ns = server.namespace;
  const recPath = `/apis/${REC.group}/${REC.version}/namespaces/${ns}/${REC.plural}/${opts.name}`;
  const stsPath = `/apis/apps/v1/namespaces/${ns}/statefulsets/${opts.name}`;
  await server.rest.call('POST', `/apis/${REC.group}/${REC.version}/namespaces/${ns}/${REC.plural}`, {
    apiVersion: `${REC.group}/${REC.version}`,
    kind: REC.kind,
    metadata: { name: opts.name },
    spec: {
      nodes: opts.nodes,
      redisEnterpriseImageSpec: { repository: opts.repository, versionTag: opts.versionTag },
    },
  });
  const op: RecOperator = { rolls: [], released: [], states: [], stop: () => void (stopped = true) };
  let stopped = false;

  const setState = async (rec: RecObject, state: string) => {
    if (rec.status?.state === state) return;
    await server.rest.patch(`${recPath}/status`, { status: { state } }, PATCH.merge);
    op.states.push(state);
  };

  const reconcile = async (): Promise<void> => {
    const rec = (await server.rest.call('GET', recPath)) as RecObject;
    const image = `${rec.spec.redisEnterpriseImageSpec?.repository ?? opts.repository}:${
      rec.spec.redisEnterpriseImageSpec?.versionTag ?? opts.versionTag
    }`;
    let sts: V1StatefulSet;
    try {
      sts = (await server.rest.call('GET', stsPath)) as V1StatefulSet;
    } catch {
      await server.rest.call('POST', `/apis/apps/v1/namespaces/${ns}/statefulsets`, build(rec, image));
      await setState(rec, 'Running');
      return;
    }
    const replicas = sts.spec?.replicas ?? rec.spec.nodes;
    if (sts.spec?.template.spec?.containers[0]?.image !== image) {
      // A new versionTag (or a template someone else wrote): the roll starts, frozen at first.
      op.rolls.push(rec.spec.redisEnterpriseImageSpec?.versionTag ?? '');
      await setState(rec, 'Upgrade');
      await server.rest.patch(
        stsPath,
        {
          spec: {
            template: { spec: { containers: [{ name: 'redis-enterprise-node', image }] } },
            updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: replicas } },
          },
        },
        PATCH.strategic,
      );
      return;
    }
    const partition = sts.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
    if ((sts.status?.observedGeneration ?? 0) < (sts.metadata?.generation ?? 0)) return;
    const update = sts.status?.updateRevision;
    const pods = (await server.rest.call(
      'GET',
      `/api/v1/namespaces/${ns}/pods?labelSelector=app%3D${opts.name}`,
    )) as { items: V1Pod[] };
    const byName = new Map(pods.items.map((p) => [p.metadata!.name!, p]));
    for (let o = partition; o < replicas; o++) {
      const p = byName.get(`${opts.name}-${o}`);
      // The pod let go last is not back yet: the next waits (one pod at a time).
      if (!p || !isReady(p) || p.metadata?.labels?.['controller-revision-hash'] !== update) return;
    }
    if (partition === 0) {
      await setState(rec, 'Running');
      return;
    }
    const next = partition - 1;
    // Its documented hand-over: replicas on other pods promoted, the master role moved away.
    if (cluster.handOverNode(next + 1) > 0) return;
    await server.rest.patch(
      stsPath,
      { spec: { updateStrategy: { rollingUpdate: { partition: next } } } },
      PATCH.strategic,
    );
    op.released.push(`${opts.name}-${next}`);
  };

  const build = (rec: RecObject, image: string): V1StatefulSet => ({
    metadata: {
      name: opts.name,
      labels: { app: opts.name },
      ownerReferences: [
        {
          apiVersion: `${REC.group}/${REC.version}`,
          kind: REC.kind,
          name: opts.name,
          uid: rec.metadata.uid!,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      replicas: rec.spec.nodes,
      serviceName: opts.name,
      selector: { matchLabels: { app: opts.name } },
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
      template: {
        metadata: { labels: { app: opts.name } },
        spec: { containers: [{ name: 'redis-enterprise-node', image }] },
      },
    },
  });

  const loop = async () => {
    while (!stopped) {
      try {
        await reconcile();
      } catch {
        // A conflict or the namespace going away: the next tick decides again.
      }
      await new Promise((r) => setTimeout(r, opts.tickMs ?? 50));
    }
  };
  void loop();
  t.after(() => op.stop());
  return op;
}
