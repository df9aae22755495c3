/**
 * The catch-up after a node's drain on the real control plane: a workload whose replica was broken
 * before the upgrade (on a node outside it) does not hold the nodes whose drains evicted its other
 * pods. The drain records how many replicas were unavailable before it evicted any (in the cordon's
 * write), and the node counts as done once the workload is back to that.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NODE_ANNOTATIONS, readDrainRecord } from '../../src/api/nodes.js';
import { MERGE_PATCH } from '../../src/platforms/kubernetes/api.js';
import { NEVER_READY_ANNOTATION } from '../kube/fake-kubelet.js';
import { waitFor } from '../kube/helpers.js';
import {
  deployment,
  nodeCluster,
  testNodes,
  testTarget,
  wireNodes,
  type NodeCluster,
} from './k8s-fixture.js';

const FROM = 'v1.36.5';
const TO = 'v1.37.2';

/** Cordon (true) or uncordon (false) the test's nodes `names`, as an admin would. */
async function cordon(n: NodeCluster, names: string[], on: boolean): Promise<void> {
  for (const name of names)
    await n.core.patchNode({ name: n.node(name), body: { spec: { unschedulable: on } } }, MERGE_PATCH);
}

/** The pods of Deployment `app`, by name, with their node. */
async function podsOf(n: NodeCluster, app: string) {
  const pods = await n.core.listNamespacedPod({ namespace: n.c.namespace, labelSelector: `app=${app}` });
  return pods.items.filter((p) => !p.metadata?.deletionTimestamp);
}

async function availableReplicas(n: NodeCluster, name: string): Promise<number> {
  const d = await n.apps.readNamespacedDeployment({ name, namespace: n.c.namespace });
  return d.status?.availableReplicas ?? 0;
}

describe('the catch-up after a node drain (real control plane)', () => {
  it(
    'a replica broken before the upgrade does not hold the nodes that evicted its healthy siblings',
    { timeout: 240_000 },
    async (t) => {
      const n = await nodeCluster(t, { cp: 1, workers: 2, from: FROM });
      const ns = n.c.namespace;
      // w-02 is outside the upgrade (another pool), and hosts the broken replica.
      await n.core.patchNode(
        { name: n.node('w-02'), body: { metadata: { labels: { pool: 'spare' } } } },
        MERGE_PATCH,
      );
      await cordon(n, ['cp-1', 'w-01'], true);
      await n.apps.createNamespacedDeployment({ namespace: ns, body: deployment('web', 1) });
      const broken = await waitFor('the first web pod on w-02', async () => {
        const [p] = await podsOf(n, 'web');
        return p?.spec?.nodeName === n.node('w-02') ? p.metadata!.name! : undefined;
      });
      await n.core.patchNamespacedPod(
        {
          name: broken,
          namespace: ns,
          body: { metadata: { annotations: { [NEVER_READY_ANNOTATION]: 'true' } } },
        },
        MERGE_PATCH,
      );
      // Two healthy replicas on the nodes to upgrade.
      await cordon(n, ['w-02'], true);
      await cordon(n, ['cp-1', 'w-01'], false);
      await n.apps.patchNamespacedDeployment(
        { name: 'web', namespace: ns, body: { spec: { replicas: 3 } } },
        MERGE_PATCH,
      );
      await waitFor(
        'two of three web replicas available',
        async () => (await availableReplicas(n, 'web')) === 2,
        60_000,
        20,
      );
      await cordon(n, ['w-02'], false);
      const healthyOn = new Set(
        (await podsOf(n, 'web')).filter((p) => p.metadata!.name !== broken).map((p) => p.spec!.nodeName),
      );
      assert.ok(!healthyOn.has(n.node('w-02')), 'the healthy replicas run on the nodes to upgrade');

      // The catch-up of a node is bounded by the ready timeout: waiting for the broken replica would pause.
      const w = await wireNodes(n, 'catchup', {
        version: TO,
        target: { nodes: testTarget(n.c) },
        strategy: { timeouts: { ready: '20s', readyPolicy: 'pause' } },
      });
      const r = await w.runner().run({
        stopWhen: (x) => x.status.phase === 'Paused',
        signal: AbortSignal.timeout(200_000),
      });
      assert.equal(r.status.phase, 'Completed', r.status.pauseCause ?? r.status.reason);
      const nodes = await testNodes(n);
      for (const name of ['cp-1', 'w-01']) {
        const node = nodes.get(name)!;
        assert.equal(node.status?.nodeInfo?.kubeletVersion, TO, name);
        assert.equal(node.spec?.unschedulable ?? false, false, `${name} uncordoned`);
      }
      // At least one drain evicted a healthy web pod while the broken one was down: its record says so.
      const records = ['cp-1', 'w-01'].map((name) => readDrainRecord(nodes.get(name)!.metadata?.annotations));
      const web = records.filter((rec) => rec?.workloads.some((k) => k.startsWith(`${ns}/ReplicaSet/web-`)));
      assert.ok(web.length > 0, `a drain evicted web: ${JSON.stringify(records)}`);
      for (const rec of web) {
        const key = rec!.workloads.find((k) => k.startsWith(`${ns}/ReplicaSet/web-`))!;
        assert.ok(
          (rec!.unavailableBefore?.[key] ?? 0) >= 1,
          `recorded the broken replica: ${JSON.stringify(rec)}`,
        );
      }
      assert.equal(
        nodes.get('w-02')!.metadata?.annotations?.[NODE_ANNOTATIONS.drained],
        undefined,
        'w-02 untouched',
      );
      assert.equal(await availableReplicas(n, 'web'), 2, 'the broken replica is still broken');
    },
  );
});
