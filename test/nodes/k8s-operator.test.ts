/**
 * Node upgrades driven by the operator on the real control plane, with the RBAC deploy/ ships (its
 * ServiceAccount's token, never admin): an Upgrade written by `baton apply --detach --engine
 * kubernetes-nodes` and its node flags is reconciled to Completed; an operator killed while a node
 * is half drained is followed by another replica that finishes without draining any node twice and
 * without leaving Baton's cordon behind.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NODE_ANNOTATIONS } from '../../src/api/nodes.js';
import { GROUP, PLURAL, VERSION } from '../../src/api/upgrade.js';
import { MERGE_PATCH } from '../../src/platforms/kubernetes/api.js';
import { NODE_GROUP_KEY } from '../kube/test-cluster.js';
import { kubeCli } from '../k8s/cli-fixture.js';
import {
  cordonCounter,
  deployment,
  nodeCluster,
  nodesOperator,
  testNodes,
  testTarget,
  testTargetFlags,
  waitAvailable,
  waitBudget,
  waitUpgradeWhere,
} from './k8s-fixture.js';

const FROM = 'v1.36.5';
const TO = 'v1.37.2'; // the control plane's own /version

describe('node upgrades driven by the operator (real control plane, shipped RBAC)', () => {
  it(
    'baton apply --detach writes a nodes target from flags; the operator upgrades every node',
    { timeout: 240_000 },
    async (t) => {
      const n = await nodeCluster(t, { cp: 1, workers: 3, from: FROM });
      const ns = n.c.namespace;
      await n.apps.createNamespacedDeployment({ namespace: ns, body: deployment('web', 3) });
      await waitAvailable(n, 'web');
      const baton = await kubeCli(t, n.c);
      const group = `${NODE_GROUP_KEY}=${ns}`;
      const flags = testTargetFlags(n.c, TO);

      // Bad node flags: one line, exit 2, nothing written.
      const bad = await baton('plan', ...flags, '--pool', 'GPU=pool=gpu');
      assert.equal(bad.code, 2, bad.err);
      assert.match(bad.err, /--pool GPU=pool=gpu/);
      const noActuator = await baton('plan', '--engine', 'kubernetes-nodes', '--to', TO);
      assert.equal(noActuator.code, 2, noActuator.err);
      assert.match(noActuator.err, /--job-image/);
      const stray = await baton('plan', '--statefulset', 'db', '--to', TO, '--pool', 'a=b');
      assert.equal(stray.code, 2);
      assert.match(stray.err, /--pool describes a node upgrade: add --engine kubernetes-nodes/);

      // The plan: the control plane first, then the pool in batches (1, 2 with 10% of 3 -> cap 1).
      const plan = await baton('plan', ...flags, '--batch', 'exponential:67');
      assert.equal(plan.code, 0, plan.err + plan.out);
      assert.match(plan.out, /control-plane/);
      assert.match(plan.out, /workers/);

      const applied = await baton('apply', ...flags, '--detach', '--name', 'nodes');
      assert.equal(applied.code, 0, applied.err + applied.out);
      const created = await waitUpgradeWhere(n, 'nodes', 'written', () => true, 5_000);
      assert.equal(created.spec.engine, 'kubernetes-nodes');
      assert.deepEqual(created.spec.target.nodes?.pools, [
        { name: 'workers', selector: `${group},pool=workers` },
      ]);
      assert.equal(created.spec.target.nodes?.actuator.job?.namespace, ns);

      const op = await nodesOperator(t, n);
      await op.start();
      const done = await waitUpgradeWhere(n, 'nodes', 'Completed', (u) =>
        ['Completed', 'Paused', 'Failed'].includes(u.status?.phase ?? ''),
      );
      assert.equal(done.status?.phase, 'Completed', JSON.stringify(done.status?.history?.slice(-5)));
      for (const [name, node] of await testNodes(n)) {
        assert.equal(node.status?.nodeInfo?.kubeletVersion, TO, `${name} upgraded`);
        assert.equal(node.spec?.unschedulable ?? false, false, `${name} uncordoned`);
        assert.equal(node.metadata?.annotations?.[NODE_ANNOTATIONS.cordonedBy], undefined);
      }
      assert.equal(n.side.restarted[0], n.node('cp-1'), 'the control plane first');
      await waitAvailable(n, 'web');
    },
  );

  it(
    'an operator killed while a node is half drained: another replica finishes, no node drained twice, no cordon left',
    { timeout: 240_000 },
    async (t) => {
      const n = await nodeCluster(t, { cp: 1, workers: 3, from: FROM });
      const ns = n.c.namespace;
      await n.apps.createNamespacedDeployment({ namespace: ns, body: deployment('web', 3) });
      // No disruption allowed: the first drain that meets a web pod stays half done.
      await n.policy.createNamespacedPodDisruptionBudget({
        namespace: ns,
        body: {
          metadata: { name: 'web' },
          spec: { minAvailable: 3, selector: { matchLabels: { app: 'web' } } },
        },
      });
      await waitAvailable(n, 'web');
      await waitBudget(n, 'web', 0);
      const watch = await cordonCounter(t, n);
      await n.c.rest.post(`/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}`, {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'Upgrade',
        metadata: { name: 'nodes' },
        spec: {
          engine: 'kubernetes-nodes',
          version: TO,
          target: { nodes: testTarget(n.c) },
          force: ['drain-simulation'],
          strategy: { timeouts: { drain: '10m' } },
        },
      });
      const a = await nodesOperator(t, n, 'op-a');
      await a.start();
      const stuck = await waitUpgradeWhere(n, 'nodes', 'a drain held by the budget', (u) =>
        /PodDisruptionBudget [^ ]*\/web allows 0/.test(JSON.stringify(u.status ?? {})),
      );
      assert.equal(stuck.status?.phase, 'Running');
      await a.kill();
      const cordoned = [...(await testNodes(n)).entries()].filter(([, x]) => x.spec?.unschedulable);
      assert.equal(cordoned.length, 1, 'one node half drained when the operator died');
      assert.equal(cordoned[0]![1].metadata?.annotations?.[NODE_ANNOTATIONS.cordonedBy], `${ns}/nodes`);

      // The budget relents; a second replica takes the Lease over and finishes from the journal.
      await n.policy.patchNamespacedPodDisruptionBudget(
        { name: 'web', namespace: ns, body: { spec: { minAvailable: 2 } } },
        MERGE_PATCH,
      );
      const b = await nodesOperator(t, n, 'op-b');
      await b.start();
      const done = await waitUpgradeWhere(n, 'nodes', 'ended', (u) =>
        ['Completed', 'Paused', 'Failed'].includes(u.status?.phase ?? ''),
      );
      assert.equal(done.status?.phase, 'Completed', JSON.stringify(done.status?.history?.slice(-5)));
      for (const [name, node] of await testNodes(n)) {
        assert.equal(node.status?.nodeInfo?.kubeletVersion, TO, `${name} upgraded`);
        assert.equal(node.spec?.unschedulable ?? false, false, `${name}: Baton's cordon lifted`);
        assert.equal(node.metadata?.annotations?.[NODE_ANNOTATIONS.cordonedBy], undefined);
        assert.equal(watch.cordons().get(name), 1, `${name} cordoned (drained) exactly once`);
      }
      const jobs = (await n.batch.listNamespacedJob({ namespace: ns })).items;
      assert.equal(jobs.length, 4, 'one upgrade Job per node');
    },
  );
});
