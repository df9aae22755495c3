/**
 * Expiry of a paused node upgrade on the real control plane, driven by the operator with the RBAC
 * deploy/ ships: a node upgrade pauses on a drain held by a PodDisruptionBudget (the node left
 * cordoned by Baton, drained but not upgraded) and, with a short `spec.expiry`, ends Expired: the
 * history pruned to a summary, the Upgrade's Events deleted (those of the expiry itself stay),
 * Baton's cordon lifted from the node it drained but did not upgrade, an admin's cordon kept.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NODE_ANNOTATIONS } from '../../src/api/nodes.js';
import { GROUP, PLURAL, VERSION } from '../../src/api/upgrade.js';
import { MERGE_PATCH } from '../../src/platforms/kubernetes/api.js';
import { waitFor } from '../kube/helpers.js';
import {
  deployment,
  nodeCluster,
  nodesOperator,
  testNodes,
  testTarget,
  waitAvailable,
  waitBudget,
  waitUpgradeWhere,
} from './k8s-fixture.js';

const FROM = 'v1.36.5';
const TO = 'v1.37.2';

describe('expiry of a paused node upgrade (real control plane, the operator)', () => {
  it(
    "paused on a held drain, then Expired: history pruned, Events deleted, Baton's cordon lifted, the admin's kept",
    { timeout: 240_000 },
    async (t) => {
      const n = await nodeCluster(t, { cp: 1, workers: 3, from: FROM });
      const ns = n.c.namespace;
      // An admin's cordon on w-03 (upgraded first of the workers: highest ordinal first).
      await n.core.patchNode({ name: n.node('w-03'), body: { spec: { unschedulable: true } } }, MERGE_PATCH);
      // One web pod on w-02 that no budget lets go: the drain of w-02 is held.
      const web = deployment('web', 1);
      web.spec!.template.spec!.nodeSelector = { 'kubernetes.io/hostname': n.node('w-02') };
      await n.apps.createNamespacedDeployment({ namespace: ns, body: web });
      await n.policy.createNamespacedPodDisruptionBudget({
        namespace: ns,
        body: {
          metadata: { name: 'web' },
          spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } } },
        },
      });
      await waitAvailable(n, 'web');
      await waitBudget(n, 'web', 0);
      await n.c.rest.post(`/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}`, {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'Upgrade',
        metadata: { name: 'nodes' },
        spec: {
          engine: 'kubernetes-nodes',
          version: TO,
          target: { nodes: testTarget(n.c) },
          force: ['drain-simulation'],
          expiry: '8s',
          strategy: { batch: { type: 'fixed', size: 1 }, timeouts: { drain: '2s', drainPolicy: 'pause' } },
        },
      });
      const op = await nodesOperator(t, n);
      await op.start();

      const paused = await waitUpgradeWhere(n, 'nodes', 'paused on the held drain', (u) =>
        ['Paused', 'Completed', 'Failed', 'Expired'].includes(u.status?.phase ?? ''),
      );
      assert.equal(paused.status?.phase, 'Paused', JSON.stringify(paused.status?.history?.slice(-5)));
      assert.match(paused.status?.pauseCause ?? '', /draining .*w-02 timed out/);
      const uid = paused.metadata.uid!;
      const before = await n.core.listNamespacedEvent({
        namespace: ns,
        fieldSelector: `involvedObject.uid=${uid}`,
      });
      assert.ok(before.items.length > 5, `the upgrade's Events while paused: ${before.items.length}`);
      const held = (await testNodes(n)).get('w-02')!;
      assert.equal(held.spec?.unschedulable, true, 'w-02 cordoned while paused');
      assert.equal(held.metadata?.annotations?.[NODE_ANNOTATIONS.cordonedBy], `${ns}/nodes`);

      const expired = await waitUpgradeWhere(
        n,
        'nodes',
        'Expired',
        (u) => u.status?.phase === 'Expired',
        60_000,
      );
      const history = expired.status?.history ?? [];
      assert.equal(history[0]?.type, 'summary');
      assert.match(
        history[0]?.message ?? '',
        /^history pruned on expiry: \d+ steps recorded, 2\/4 members upgraded/,
      );
      assert.ok(history.length <= 7, `history pruned: ${JSON.stringify(history)}`);

      const nodes = await testNodes(n);
      const w02 = nodes.get('w-02')!;
      assert.equal(w02.spec?.unschedulable ?? false, false, "Baton's cordon lifted from w-02");
      assert.equal(w02.metadata?.annotations?.[NODE_ANNOTATIONS.cordonedBy], undefined);
      assert.equal(w02.status?.nodeInfo?.kubeletVersion, FROM, 'w-02 not upgraded');
      assert.equal(nodes.get('w-03')?.spec?.unschedulable, true, "the admin's cordon on w-03 kept");
      assert.equal(nodes.get('w-03')?.status?.nodeInfo?.kubeletVersion, TO);
      assert.equal(nodes.get('w-01')?.status?.nodeInfo?.kubeletVersion, FROM, 'w-01 never touched');
      assert.equal(nodes.get('w-01')?.spec?.unschedulable ?? false, false);

      // The Upgrade's Events from before the expiry are deleted; those of the expiry stay.
      const kept = (reason: string | undefined) => ['PhaseChanged', 'Summary'].includes(reason ?? '');
      // Every Event of the upgrade: on it, and on its members (their related object is the Upgrade).
      let left: Awaited<ReturnType<typeof n.core.listNamespacedEvent>>['items'] = [];
      await waitFor(
        "the upgrade's Events pruned",
        async () => {
          left = (await n.core.listNamespacedEvent({ namespace: ns })).items.filter(
            (ev) => ev.involvedObject.uid === uid || ev.related?.uid === uid,
          );
          return left.every((ev) => kept(ev.reason));
        },
        30_000,
        100,
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}: ${left.map((ev) => `${ev.reason}: ${ev.message}`).join('\n')}`);
      });
      const own = left.filter((ev) => ev.involvedObject.uid === uid);
      assert.ok(own.length < before.items.length);
      assert.ok(
        own.some((ev) => /expired/.test(ev.message ?? '')),
        'the expiry itself is recorded',
      );
    },
  );
});
