/**
 * The node upgrade scenarios of issue 11 on the real control plane, one after another on one
 * 23-node cluster (3 control-plane and 20 worker nodes; a Deployment under a PodDisruptionBudget, a
 * DaemonSet, mirror pods, a worker an admin cordoned). Each scenario moves the nodes to the next
 * patch release, so the cluster a scenario leaves is where the next one starts:
 *
 * 1. the default batches, 1, 2, 2, ... (10% of 20), the control plane strictly one node at a time;
 *    DaemonSet and mirror pods stay, the drain's grace period reaches the evicted pods, the admin's
 *    cordon stays;
 * 2. a 20% cap: 1, 2, 4; a pause lets the batch in flight finish and the next batch after resume is
 *    1 again; cancel after a pause ends it with the upgraded nodes upgraded and the rest untouched;
 * 3. a failing upgrade Job pauses the upgrade naming the Job; a cancel then ends it, the node left
 *    failed and cordoned for a human;
 * 4. a budget refusing every eviction: the retries back off (429s getting further apart), the drain
 *    timeout pauses naming the budget and the pod; policy delete then deletes the pod and goes on;
 *    policy give-up leaves the node cordoned by Baton for a human, recorded as a failed node.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { NODE_ANNOTATIONS, type NodesTarget } from '../../src/api/nodes.js';
import type { UpgradeStatus } from '../../src/core/types.js';
import { MERGE_PATCH } from '../../src/platforms/kubernetes/api.js';
import { MIRROR_ANNOTATION } from '../../src/engines/kubernetes/pods.js';
import {
  deployment,
  nodeCluster,
  patchStrategy,
  testNodes,
  testTarget,
  waitAvailable,
  waitBudget,
  wireNodes,
  type NodeCluster,
} from './k8s-fixture.js';

const V0 = 'v1.36.0';
const WORKERS = 20;

type Wired = Awaited<ReturnType<typeof wireNodes>>;

/** Run until `stop` (default: the upgrade ends or pauses), saying where it stood on a timeout. */
async function runUntil(w: Wired, stop: (s: UpgradeStatus) => boolean, ms = 150_000) {
  return w
    .runner()
    .run({ stopWhen: (x) => stop(x.status), signal: AbortSignal.timeout(ms) })
    .catch((err: unknown) => {
      const last = w.statuses.at(-1);
      throw new Error(
        `${String(err)}; last: ${last?.phase} ${last?.progress?.text ?? ''} ${JSON.stringify(last?.history.slice(-4))}`,
      );
    });
}

const endedOrPaused = (s: UpgradeStatus) => s.phase === 'Paused' || s.phase === 'Completed';

/** Paused with nothing in flight any more (a pause lets the nodes in flight finish first). */
const settledPause = (s: UpgradeStatus) =>
  s.phase === 'Paused' &&
  Object.values(s.members).every((m) => !['draining', 'replacing', 'verifying'].includes(m.state));

/** The batches an upgrade started, in order (members by short node name), from its statuses. */
function batches(n: NodeCluster, statuses: UpgradeStatus[]): string[][] {
  const byIndex = new Map<number, Set<string>>();
  for (const s of statuses) {
    if (s.currentBatch.length === 0) continue;
    const set = byIndex.get(s.batchesStarted) ?? new Set<string>();
    for (const m of s.currentBatch) set.add(m.slice(n.c.namespace.length + 1));
    byIndex.set(s.batchesStarted, set);
  }
  return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => [...v].sort());
}

const workerBatches = (n: NodeCluster, s: UpgradeStatus[]) =>
  batches(n, s).filter((b) => b[0]!.startsWith('w-'));

describe('node upgrade scenarios on one 23-node cluster (real control plane)', { timeout: 600_000 }, () => {
  let n: NodeCluster;
  /** deletionGracePeriodSeconds of each pod of the test namespace when it started terminating. */
  const graces = new Map<string, number>();

  // The cluster's cleanups run once every scenario is over, last registered first.
  const cleanups: (() => unknown)[] = [];
  const suite = { after: (fn: () => unknown) => void cleanups.unshift(fn) } as Pick<TestContext, 'after'>;
  after(async () => {
    for (const fn of cleanups) await fn();
  });

  before(async () => {
    n = await nodeCluster(suite, { cp: 3, workers: WORKERS, from: V0 });
    const ns = n.c.namespace;
    // An admin cordoned w-20 before any upgrade.
    await n.core.patchNode({ name: n.node('w-20'), body: { spec: { unschedulable: true } } }, MERGE_PATCH);
    await n.apps.createNamespacedDeployment({ namespace: ns, body: deployment('web', 20) });
    await n.policy.createNamespacedPodDisruptionBudget({
      namespace: ns,
      body: {
        metadata: { name: 'web' },
        spec: { maxUnavailable: 2, selector: { matchLabels: { app: 'web' } } },
      },
    });
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
    // Static pods' mirrors, as a kubelet posts them: bound to their node, no controller.
    for (const node of ['cp-1', 'w-01']) {
      await n.core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: { name: `static-${node}`, annotations: { [MIRROR_ANNOTATION]: 'hash' } },
          spec: {
            nodeName: n.node(node),
            containers: [{ name: 's', image: 'registry.local:5000/static:1' }],
          },
        },
      });
    }
    const w = n.c.rest.listWatch<V1Pod>(`/api/v1/namespaces/${ns}/pods`, {}, (_type, p) => {
      const g = p.metadata?.deletionGracePeriodSeconds;
      if (p.metadata?.deletionTimestamp && g !== undefined && !graces.has(p.metadata.name!))
        graces.set(p.metadata.name!, g);
    });
    suite.after(() => w.stop());
    await w.synced;
    await waitAvailable(n, 'web');
    await waitBudget(n, 'web', 2);
  });

  it('default batches 1, 2, 2, ... at 10%; control plane one by one; DaemonSet and mirror pods stay; grace period; the admin cordon stays', async () => {
    const V1 = 'v1.36.1';
    const target: NodesTarget = { ...testTarget(n.c), drain: { gracePeriodSeconds: 2 } };
    const w = await wireNodes(n, 'tenpct', { version: V1, target: { nodes: target } });
    n.c.resetRequests();
    const r = await runUntil(w, endedOrPaused);
    assert.equal(r.status.phase, 'Completed', r.status.pauseCause);

    const all = batches(n, w.statuses);
    assert.deepEqual(
      all.slice(0, 3).map((b) => b.length),
      [1, 1, 1],
      'the control plane one node at a time',
    );
    assert.deepEqual(all.slice(0, 3).flat().sort(), ['cp-1', 'cp-2', 'cp-3'], 'the control plane first');
    for (const i of [1, 2, 3])
      assert.ok(
        w.statuses.some((s) => s.progress?.text === `control plane node ${i} of 3`),
        `node ${i} of 3 shown`,
      );
    const sizes = workerBatches(n, w.statuses).map((b) => b.length);
    assert.deepEqual(sizes.slice(0, 3), [1, 2, 2], `worker batches ${JSON.stringify(sizes)}`);
    assert.ok(
      sizes.every((x) => x <= 2),
      'never more than 10% of 20 workers',
    );
    assert.equal(
      sizes.reduce((a, b) => a + b, 0),
      WORKERS,
    );
    assert.ok(w.statuses.some((s) => /^workers \d+ of 20$/.test(s.progress?.text ?? '')));

    for (const [name, node] of await testNodes(n)) {
      assert.equal(node.status?.nodeInfo?.kubeletVersion, V1, `${name} upgraded`);
      assert.equal(
        node.metadata?.annotations?.[NODE_ANNOTATIONS.cordonedBy],
        undefined,
        `${name}: no Baton cordon`,
      );
      assert.equal(
        node.spec?.unschedulable ?? false,
        name === 'w-20',
        `${name}: only the admin's cordon stays`,
      );
    }
    const evictions = n.c
      .requests()
      .entries.filter((e) => e.verb === 'create' && e.resource === 'pods/eviction');
    assert.ok(evictions.length >= 20, `web pods were evicted (${evictions.length})`);
    assert.ok(
      evictions.every((e) => !/\/pods\/(agent-|static-)/.test(e.path)),
      'no DaemonSet or mirror pod evicted',
    );
    const pods = (await n.core.listNamespacedPod({ namespace: n.c.namespace })).items.map(
      (p) => p.metadata!.name!,
    );
    assert.ok(pods.includes('static-cp-1') && pods.includes('static-w-01'), 'mirror pods still there');
    const webGraces = [...graces.entries()].filter(([p]) => p.startsWith('web-'));
    assert.ok(webGraces.length > 0);
    assert.ok(
      webGraces.every(([, g]) => g === 2),
      `evicted with the drain's grace period: ${JSON.stringify(webGraces)}`,
    );
    await waitAvailable(n, 'web');
  });

  it('20% cap: 1, 2, 4; a pause finishes the batch in flight and the next batch is 1; cancel after the pause', async () => {
    const V2 = 'v1.36.2';
    const w = await wireNodes(n, 'twentypct', {
      version: V2,
      target: { nodes: testTarget(n.c) },
      strategy: { batch: { type: 'exponential', capPercent: 20 } },
    });
    await runUntil(w, (s) => workerBatches(n, w.statuses.concat(s)).length >= 3);
    await w.journal.updateSpec('twentypct', (s) => ({ ...s, paused: true }));
    const paused = await runUntil(w, settledPause);
    assert.equal(paused.status.phase, 'Paused');
    assert.deepEqual(
      workerBatches(n, w.statuses).map((b) => b.length),
      [1, 2, 4],
    );
    const upgradedAtPause = [...(await testNodes(n)).values()].filter(
      (x) => x.status?.nodeInfo?.kubeletVersion === V2,
    ).length;
    assert.equal(upgradedAtPause, 3 + 7, 'the batch in flight finished: 3 control-plane and 7 workers');

    await w.journal.updateSpec('twentypct', (s) => ({ ...s, paused: false }));
    await runUntil(w, (s) => workerBatches(n, w.statuses.concat(s)).length >= 4);
    await w.journal.updateSpec('twentypct', (s) => ({ ...s, paused: true }));
    await runUntil(w, settledPause);
    assert.deepEqual(
      workerBatches(n, w.statuses).map((b) => b.length),
      [1, 2, 4, 1],
      'batch 1 again after the resume',
    );

    await w.journal.updateSpec('twentypct', (s) => ({ ...s, cancel: true }));
    const cancelled = await runUntil(w, () => false);
    assert.equal(cancelled.status.phase, 'Cancelled');
    const nodes = await testNodes(n);
    const at = (v: string) =>
      [...nodes.values()].filter((x) => x.status?.nodeInfo?.kubeletVersion === v).length;
    assert.equal(at(V2), 3 + 8, 'upgraded nodes stay upgraded');
    assert.equal(at('v1.36.1'), WORKERS - 8, 'no node started after the cancel');
    for (const [name, node] of nodes) {
      assert.equal(
        node.metadata?.annotations?.[NODE_ANNOTATIONS.cordonedBy],
        undefined,
        `${name}: no Baton cordon`,
      );
    }
  });

  it('a failing upgrade Job pauses the upgrade naming the Job', async () => {
    n.side.failJobsOn.add(n.node('cp-2'));
    const w = await wireNodes(n, 'failing', { version: 'v1.36.3', target: { nodes: testTarget(n.c) } });
    const r = await runUntil(w, endedOrPaused);
    n.side.failJobsOn.clear();
    assert.equal(r.status.phase, 'Paused');
    const jobs = (await n.batch.listNamespacedJob({ namespace: n.c.namespace })).items.filter(
      (j) => j.metadata?.annotations?.['baton.dev/upgrade-name'] === `${n.c.namespace}/failing`,
    );
    const failed = jobs.find((j) => j.spec?.template.spec?.nodeName === n.node('cp-2'));
    assert.ok(failed, 'the Job of cp-2 is kept');
    assert.match(r.status.pauseCause ?? '', /upgrade Job .*failed/);
    assert.ok(r.status.pauseCause!.includes(failed.metadata!.name!), 'the cause names the Job');
    assert.equal(jobs.length, 2, 'cp-1 done, cp-2 failed, nothing else tried');

    // Cancelled while paused on it: cp-2 is left failed for a human (cordoned by Baton, its Job
    // kept) and the upgrade ends, instead of resuming only to pause on cp-2 again.
    await w.journal.updateSpec('failing', (s) => ({ ...s, cancel: true }));
    const cancelled = await runUntil(w, () => false);
    assert.equal(cancelled.status.phase, 'Cancelled', cancelled.status.reason);
    assert.equal(cancelled.status.members[n.node('cp-2')]?.state, 'failed');
    assert.match(cancelled.status.reason ?? '', new RegExp(`left for a human: ${n.node('cp-2')}`));
    const cp2 = (await testNodes(n)).get('cp-2')!;
    assert.equal(cp2.spec?.unschedulable, true, 'the failed node stays cordoned for the human');
    assert.equal(
      (await n.batch.listNamespacedJob({ namespace: n.c.namespace })).items.filter(
        (j) => j.metadata?.annotations?.['baton.dev/upgrade-name'] === `${n.c.namespace}/failing`,
      ).length,
      2,
      'no Job started after the cancel, the failed one kept',
    );
    // The next scenario lifts Baton's cordon of cp-2, as the human would.
  });

  it('a budget refusing evictions: backed-off retries, the timeout pauses naming it; delete goes on; give-up leaves the node cordoned', async () => {
    const ns = n.c.namespace;
    // Baton's cordon of the cancelled scenario's node, if any, is a human's to lift now.
    for (const [short, node] of await testNodes(n)) {
      if (node.metadata?.annotations?.[NODE_ANNOTATIONS.cordonedBy])
        await n.core.patchNode(
          {
            name: n.node(short),
            body: {
              metadata: { annotations: { [NODE_ANNOTATIONS.cordonedBy]: null } },
              spec: { unschedulable: null },
            },
          },
          MERGE_PATCH,
        );
    }
    await n.core.patchNode(
      { name: n.node('cp-1'), body: { metadata: { labels: { strict: 'yes' } } } },
      MERGE_PATCH,
    );
    const strict = deployment('strict', 1);
    strict.spec!.template.spec!.nodeSelector = { strict: 'yes' };
    await n.apps.createNamespacedDeployment({ namespace: ns, body: strict });
    await n.policy.createNamespacedPodDisruptionBudget({
      namespace: ns,
      body: {
        metadata: { name: 'strict' },
        spec: { minAvailable: 1, selector: { matchLabels: { app: 'strict' } } },
      },
    });
    await waitAvailable(n, 'strict');
    await waitBudget(n, 'strict', 0);

    const w = await wireNodes(n, 'blocked', {
      version: 'v1.36.4',
      target: { nodes: testTarget(n.c) },
      force: ['drain-simulation'],
      strategy: { timeouts: { drain: '10s', drainPolicy: 'pause' } },
    });
    n.c.resetRequests();
    const r = await runUntil(w, endedOrPaused);
    assert.equal(r.status.phase, 'Paused');
    assert.match(
      r.status.pauseCause ?? '',
      new RegExp(`PodDisruptionBudget ${ns}/strict allows 0 disruptions`),
    );
    assert.match(r.status.pauseCause ?? '', new RegExp(`${ns}/strict-`), 'the cause names the pod');
    const refused = n.c
      .requests()
      .entries.filter(
        (e) => e.resource === 'pods/eviction' && e.path.includes('/pods/strict-') && e.status === 429,
      );
    const gaps = refused.slice(1).map((e, i) => e.at - refused[i]!.at);
    assert.ok(
      refused.length >= 3 && refused.length <= 6,
      `retried on a back-off, not every poll: ${refused.length}`,
    );
    assert.ok(gaps.at(-1)! > gaps[0]! * 1.5, `the back-off grows: ${JSON.stringify(gaps)}`);

    // Policy delete: the pod goes without an eviction; the node is upgraded and uncordoned. (A
    // spec change is a new generation: it resumes the automatic pause.)
    await patchStrategy(n, 'blocked', { timeouts: { drainPolicy: 'delete' } });
    const atDelete = await runUntil(w, (s) => s.members[n.node('cp-1')]?.state === 'done', 90_000);
    assert.equal(atDelete.status.members[n.node('cp-1')]?.state, 'done', atDelete.status.pauseCause);
    const deletes = n.c
      .requests()
      .entries.filter(
        (e) => e.verb === 'delete' && e.resource === 'pods' && e.path.includes('/pods/strict-'),
      );
    assert.equal(deletes.length, 1, 'the refused pod deleted once');
    assert.equal((await testNodes(n)).get('cp-1')!.spec?.unschedulable ?? false, false);

    // Policy give-up: the budget's pod on a node not drained yet (a control-plane one if any is
    // left); that node is left cordoned, recorded as failed.
    const pending = Object.entries(atDelete.status.members)
      .filter(([, m]) => m.state === 'pending')
      .map(([name]) => name.slice(ns.length + 1))
      .sort();
    const next = pending.find((x) => x.startsWith('cp-')) ?? pending[0]!;
    assert.ok(next, 'a node left to upgrade');
    const nextVersion = (await testNodes(n)).get(next)!.status?.nodeInfo?.kubeletVersion;
    await n.core.patchNode(
      { name: n.node('cp-1'), body: { metadata: { labels: { strict: null } } } },
      MERGE_PATCH,
    );
    await n.core.patchNode(
      { name: n.node(next), body: { metadata: { labels: { strict: 'yes' } } } },
      MERGE_PATCH,
    );
    for (const p of (await n.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=strict' })).items)
      await n.core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: ns });
    await waitAvailable(n, 'strict');
    await waitBudget(n, 'strict', 0);
    await patchStrategy(n, 'blocked', { maxFailedMembers: 1, timeouts: { drainPolicy: 'give-up' } });
    const gaveUp = await runUntil(w, (s) => s.members[n.node(next)]?.state === 'failed', 90_000);
    assert.equal(gaveUp.status.members[n.node(next)]?.state, 'failed', gaveUp.status.pauseCause);
    assert.ok(
      gaveUp.status.history.some(
        (h) => h.member === n.node(next) && /gave up on it \(policy give-up\)/.test(h.message),
      ),
      'recorded in history',
    );
    const left = (await testNodes(n)).get(next)!;
    assert.equal(left.spec?.unschedulable, true, 'left cordoned for a human');
    assert.equal(left.metadata?.annotations?.[NODE_ANNOTATIONS.cordonedBy], `${ns}/blocked`);
    assert.equal(left.status?.nodeInfo?.kubeletVersion, nextVersion, 'not upgraded');
  });
});
