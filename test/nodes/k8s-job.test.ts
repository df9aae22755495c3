/**
 * Node upgrades with the `job` actuator on the real control plane (kube-apiserver, the controller
 * manager's Deployment, ReplicaSet, DaemonSet, Job and disruption controllers, the scheduler); the
 * fake kubelet plays the nodes and `fake-nodes.ts` restarts a node at the version its upgrade Job
 * installed. Drains go through the real Eviction API, so the real disruption controller's
 * PodDisruptionBudget status decides.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NODE_ANNOTATIONS } from '../../src/api/nodes.js';
import { MERGE_PATCH } from '../../src/platforms/kubernetes/api.js';
import {
  deployment,
  nodeCluster,
  testNodes,
  testTarget,
  waitAvailable,
  waitBudget,
  wireNodes,
} from './k8s-fixture.js';

const FROM = 'v1.36.5';
const TO = 'v1.37.2'; // the control plane's own /version

describe('node upgrade with the job actuator (real control plane)', () => {
  it(
    'control plane first, then workers: cordon, evictions under a PodDisruptionBudget, Job, restart, uncordon; an admin cordon stays',
    { timeout: 240_000 },
    async (t) => {
      const n = await nodeCluster(t, { cp: 1, workers: 4, from: FROM });
      const ns = n.c.namespace;
      // An admin cordoned w-04 before the upgrade: it must stay cordoned at the end.
      await n.core.patchNode({ name: n.node('w-04'), body: { spec: { unschedulable: true } } }, MERGE_PATCH);
      await n.apps.createNamespacedDeployment({ namespace: ns, body: deployment('web', 4) });
      await n.apps.createNamespacedDaemonSet({
        namespace: ns,
        body: {
          metadata: { name: 'agent' },
          spec: {
            selector: { matchLabels: { app: 'agent' } },
            template: {
              metadata: { labels: { app: 'agent' } },
              spec: {
                tolerations: [n.c.toleration()],
                containers: [{ name: 'a', image: 'registry.local:5000/agent:1' }],
              },
            },
          },
        },
      });
      await n.policy.createNamespacedPodDisruptionBudget({
        namespace: ns,
        body: {
          metadata: { name: 'web' },
          spec: { minAvailable: 3, selector: { matchLabels: { app: 'web' } } },
        },
      });
      await waitAvailable(n, 'web');
      await waitBudget(n, 'web', 1);

      const w = await wireNodes(n, 'nodes', { version: TO, target: { nodes: testTarget(n.c) } });
      n.c.resetRequests();
      const r = await w
        .runner()
        .run({ stopWhen: (x) => x.status.phase === 'Paused', signal: AbortSignal.timeout(200_000) })
        .catch((err: unknown) => {
          const last = w.statuses.at(-1);
          throw new Error(
            `${String(err)}; last status: ${last?.blockedBy?.reason ?? ''} ${JSON.stringify(last?.progress)} ${JSON.stringify(last?.history.slice(-5))}`,
          );
        });
      assert.equal(r.status.phase, 'Completed', r.status.pauseCause ?? JSON.stringify(r.status.progress));

      const nodes = await testNodes(n);
      for (const [name, node] of nodes) {
        assert.equal(node.status?.nodeInfo?.kubeletVersion, TO, `${name} upgraded`);
        assert.equal(
          node.metadata?.annotations?.[NODE_ANNOTATIONS.cordonedBy],
          undefined,
          `${name}: Baton's cordon lifted`,
        );
        assert.equal(
          node.spec?.unschedulable ?? false,
          name === 'w-04',
          `${name}: only the admin's cordon stays`,
        );
      }
      // The control plane went first, then the pool.
      assert.equal(n.side.restarted[0], n.node('cp-1'));
      assert.equal(n.side.restarted.length, 5);
      // One upgrade Job per node, pinned to it, with the target in its environment.
      const jobs = (await n.batch.listNamespacedJob({ namespace: ns })).items;
      assert.equal(jobs.length, 5);
      for (const j of jobs) {
        const pod = j.spec!.template.spec!;
        const env = Object.fromEntries(pod.containers[0]!.env!.map((e) => [e.name, e.value]));
        assert.equal(env.NODE_NAME, pod.nodeName);
        assert.equal(env.TARGET_VERSION, TO);
        assert.equal(env.NODE_ROLE, pod.nodeName === n.node('cp-1') ? 'control-plane' : 'worker');
        assert.equal(env.FIRST_CONTROL_PLANE, String(pod.nodeName === n.node('cp-1')));
      }
      // Pods left through the Eviction API, never DaemonSet pods; the workload is whole again.
      const log = n.c.requests().entries.filter((e) => e.verb === 'create' && e.resource === 'pods/eviction');
      assert.ok(log.length >= 1, 'evictions were requested');
      assert.ok(
        log.every((e) => !e.path.includes('/pods/agent-')),
        'no DaemonSet pod was evicted',
      );
      await waitAvailable(n, 'web');
      // Progress and history speak of nodes.
      assert.ok(w.statuses.some((s) => s.progress?.text === 'control plane node 1 of 1'));
      assert.ok(w.statuses.some((s) => /^workers \d of 4$/.test(s.progress?.text ?? '')));
    },
  );
});
