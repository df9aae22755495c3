/**
 * Expiry of a paused node upgrade on the real control plane, driven by the operator with the RBAC
 * deploy/ ships: a node upgrade pauses on a drain held by a PodDisruptionBudget (the node left
 * cordoned by Baton, drained but not upgraded) and, with a short `spec.expiry`, ends Expired: the
 * history pruned to a summary, the Upgrade's Events deleted (those of the expiry itself stay),
 * Baton's cordon lifted from the node it drained but did not upgrade, an admin's cordon kept.
 * Events about a node are recorded against its Node (kind Node, no namespace in involvedObject; the
 * Event in `default`, where the API server accepts Events of cluster-scoped objects).
 *
 * The deletion of the Events does not depend on the process that ended the upgrade Expired: an
 * operator that never deleted them (as one killed between the status write and the deletion) is
 * followed by one that does, `baton apply` in the foreground deletes them itself, and a `baton apply`
 * that replaces an Expired upgrade whose Events were left deletes them first.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { NODE_ANNOTATIONS } from '../../src/api/nodes.js';
import { GROUP, PLURAL, VERSION } from '../../src/api/upgrade.js';
import type { CoreV1Event } from '@kubernetes/client-node';
import { MERGE_PATCH } from '../../src/platforms/kubernetes/api.js';
import { waitFor } from '../kube/helpers.js';
import { kubeCli } from '../k8s/cli-fixture.js';
import {
  deployment,
  nodeCluster,
  nodesOperator,
  readUpgrade,
  testNodes,
  testTarget,
  testTargetFlags,
  waitAvailable,
  waitBudget,
  waitUpgradeWhere,
  type NodeCluster,
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
      await heldDrainOn(n, 'w-02');
      await createExpiringUpgrade(n);
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
      // Events about a node are against the Node, none against a pod named after a node.
      const onNodes = await nodeEvents(n, uid);
      t.diagnostic(`Events on Nodes while paused: ${onNodes.length}`);
      const w02Events = onNodes.filter((ev) => ev.involvedObject.name === n.node('w-02'));
      assert.ok(w02Events.length > 0, 'Events about w-02 recorded against its Node');
      for (const ev of onNodes) {
        assert.equal(ev.involvedObject.apiVersion, 'v1');
        assert.equal(ev.involvedObject.namespace, undefined, 'a Node has no namespace');
        assert.equal(ev.related?.uid, uid, 'the Upgrade is the related object');
      }
      assert.deepEqual(
        before.items
          .concat(await relatedInNamespace(n, uid))
          .filter((ev) => ev.involvedObject.kind === 'Pod'),
        [],
        'no Event against a pod for a node',
      );
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

      // The Upgrade's Events from before the expiry are deleted (its Nodes' too); those of the
      // expiry stay.
      const left = await waitPruned(n, uid);
      const own = left.filter((ev) => ev.involvedObject.uid === uid);
      assert.ok(own.length < before.items.length);
      assert.ok(
        own.some((ev) => /expired/.test(ev.message ?? '')),
        'the expiry itself is recorded',
      );
    },
  );

  it(
    'an operator that did not delete the Events of the upgrade it expired is followed by one that does',
    { timeout: 240_000 },
    async (t) => {
      const { n, a, uid } = await expiredByOperatorWithoutPrune(t);
      const stale = (await allEvents(n, uid)).filter((ev) => !keptReason(ev.reason));
      assert.ok(stale.length > 0, 'the Events are left by the first operator');
      assert.ok(
        stale.some((ev) => ev.involvedObject.kind === 'Node'),
        "the Nodes' Events are left by the first operator",
      );
      a.kill();

      const b = await nodesOperator(t, n, 'op-b');
      await b.start();
      const left = await waitPruned(n, uid);
      assert.ok(
        left.some((ev) => /expired/.test(ev.message ?? '')),
        'the expiry itself is recorded',
      );
    },
  );

  it(
    'baton apply over an Expired upgrade whose Events were left deletes them before it replaces it',
    { timeout: 240_000 },
    async (t) => {
      const { n, a, uid } = await expiredByOperatorWithoutPrune(t);
      a.kill();
      assert.ok(
        (await allEvents(n, uid)).some((ev) => !keptReason(ev.reason)),
        'the Events are left',
      );

      // The CLI starts a new upgrade of the same name (created for the operator, which is gone).
      const baton = await kubeCli(t, n.c);
      const r = await baton('apply', '--name', 'nodes', ...testTargetFlags(n.c, TO), '--detach');
      assert.equal(r.code, 0, r.err + r.out);
      const replaced = await readUpgrade(n, 'nodes');
      assert.notEqual(replaced.metadata.uid, uid, 'a new Upgrade of that name');
      const left = await allEvents(n, uid);
      assert.deepEqual(
        left.filter((ev) => !keptReason(ev.reason)).map((ev) => `${ev.reason}: ${ev.message}`),
        [],
        'nothing of the expired upgrade but its summary left',
      );
    },
  );

  it(
    'baton apply in the foreground deletes the Events of the upgrade it ends Expired',
    { timeout: 240_000 },
    async (t) => {
      const n = await nodeCluster(t, { cp: 1, workers: 2, from: FROM });
      await heldDrainOn(n, 'w-02');
      const flags = [
        '--name',
        'nodes',
        ...testTargetFlags(n.c, TO),
        '--batch',
        'fixed:1',
        '--drain-timeout',
        '2s',
        '--drain-timeout-policy',
        'pause',
        '--paused-expiry',
        `${EXPIRY_S}s`,
        '--force',
        'drain-simulation',
      ];
      const baton = await kubeCli(t, n.c);
      const first = await baton('apply', ...flags);
      const paused = await readUpgrade(n, 'nodes');
      assert.equal(paused.status?.phase, 'Paused', first.err + first.out);
      assert.match(paused.status?.pauseCause ?? '', /draining .*w-02 timed out/);
      const uid = paused.metadata.uid!;
      const onNodes = await nodeEvents(n, uid);
      assert.ok(
        onNodes.some((ev) => ev.involvedObject.name === n.node('w-02')),
        "the CLI records w-02's Events against its Node",
      );
      assert.ok((await allEvents(n, uid)).some((ev) => !keptReason(ev.reason)));

      // Past the expiry, the next drive ends it Expired and deletes its Events before it returns.
      const pausedAt = paused.status?.history?.findLast((h) => h.type === 'phase')?.at ?? Date.now();
      await waitFor(
        'the pause to outlive the expiry',
        () => Promise.resolve(Date.now() > pausedAt + (EXPIRY_S + 1) * 1000),
        30_000,
        100,
      );
      const second = await baton('apply', ...flags);
      const expired = await readUpgrade(n, 'nodes');
      assert.equal(expired.status?.phase, 'Expired', second.err + second.out);
      const left = await allEvents(n, uid);
      assert.deepEqual(
        left.filter((ev) => !keptReason(ev.reason)).map((ev) => `${ev.reason}: ${ev.message}`),
        [],
        'nothing but the expiry left',
      );
      assert.ok(
        left.some((ev) => /expired/.test(ev.message ?? '')),
        'the expiry itself is recorded',
      );
    },
  );
});

const EXPIRY_S = 8;

/**
 * A node upgrade paused on a held drain and ended Expired by an operator (`a`, still running) that
 * records Events but never deletes them, as one killed between the Expired write and the deletion.
 */
async function expiredByOperatorWithoutPrune(t: TestContext) {
  const n = await nodeCluster(t, { cp: 1, workers: 2, from: FROM });
  await heldDrainOn(n, 'w-02');
  await createExpiringUpgrade(n);
  const a = await nodesOperator(t, n, 'op-a', { withoutPrune: true });
  await a.start();
  const expired = await waitUpgradeWhere(n, 'nodes', 'Expired', (u) =>
    ['Expired', 'Completed', 'Failed'].includes(u.status?.phase ?? ''),
  );
  assert.equal(expired.status?.phase, 'Expired', JSON.stringify(expired.status?.history?.slice(-5)));
  return { n, a, uid: expired.metadata.uid! };
}

type Event = CoreV1Event;

/** Whether an Event of that reason stays after an expiry (those of the history the pruning keeps). */
function keptReason(reason: string | undefined): boolean {
  return ['PhaseChanged', 'Summary'].includes(reason ?? '');
}

/** One web pod on `node` that no PodDisruptionBudget lets go: the drain of `node` is held. */
async function heldDrainOn(n: NodeCluster, node: string): Promise<void> {
  const ns = n.c.namespace;
  const web = deployment('web', 1);
  web.spec!.template.spec!.nodeSelector = { 'kubernetes.io/hostname': n.node(node) };
  await n.apps.createNamespacedDeployment({ namespace: ns, body: web });
  await n.policy.createNamespacedPodDisruptionBudget({
    namespace: ns,
    body: { metadata: { name: 'web' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } } } },
  });
  await waitAvailable(n, 'web');
  await waitBudget(n, 'web', 0);
}

/** Upgrade `nodes`, one node at a time, pausing on a drain held for 2 s, expiring 8 s after. */
async function createExpiringUpgrade(n: NodeCluster): Promise<void> {
  await n.c.rest.post(`/apis/${GROUP}/${VERSION}/namespaces/${n.c.namespace}/${PLURAL}`, {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'Upgrade',
    metadata: { name: 'nodes' },
    spec: {
      engine: 'kubernetes-nodes',
      version: TO,
      target: { nodes: testTarget(n.c) },
      force: ['drain-simulation'],
      expiry: `${EXPIRY_S}s`,
      strategy: { batch: { type: 'fixed', size: 1 }, timeouts: { drain: '2s', drainPolicy: 'pause' } },
    },
  });
}

/** The Events of the test's namespace about the Upgrade `uid` or naming it as related. */
async function relatedInNamespace(n: NodeCluster, uid: string): Promise<Event[]> {
  return (await n.core.listNamespacedEvent({ namespace: n.c.namespace })).items.filter(
    (ev) => ev.involvedObject.uid === uid || ev.related?.uid === uid,
  );
}

/** The Events about Nodes whose related object is the Upgrade `uid` (in `default`). */
async function nodeEvents(n: NodeCluster, uid: string): Promise<Event[]> {
  const all = await n.core.listNamespacedEvent({
    namespace: 'default', // where the API server accepts Events about cluster-scoped objects
    fieldSelector: 'involvedObject.kind=Node',
  });
  return all.items.filter((ev) => ev.related?.uid === uid);
}

/** Every Event of the Upgrade `uid`: on it, and on its members (their related object is the Upgrade). */
async function allEvents(n: NodeCluster, uid: string): Promise<Event[]> {
  return [...(await relatedInNamespace(n, uid)), ...(await nodeEvents(n, uid))];
}

/** Wait until only the Events of the expiry are left of the Upgrade `uid`'s; those left. */
async function waitPruned(n: NodeCluster, uid: string): Promise<Event[]> {
  let left: Event[] = [];
  await waitFor(
    "the upgrade's Events pruned",
    async () => {
      left = await allEvents(n, uid);
      return left.every((ev) => keptReason(ev.reason));
    },
    30_000,
    100,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}: ${left.map((ev) => `${ev.reason}: ${ev.message}`).join('\n')}`);
  });
  return left;
}
