/**
 * Node upgrades that must stop on the real control plane: a PodDisruptionBudget that refuses every
 * eviction (the drain simulation names it before anything moves; forced past it, the drain times out
 * and the upgrade pauses naming the budget and its pods, the node left cordoned by Baton for the
 * resume), and an upgrade Job that fails (the upgrade pauses naming the Job, which is kept).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NODE_ANNOTATIONS } from '../../src/api/nodes.js';
import type { UpgradeStatus } from '../../src/core/types.js';
import { DATABASE_ENGINE_LABEL } from '../../src/api/nodes.js';
import type { DatabaseDrains } from '../../src/engines/kubernetes/engine.js';
import { waitFor } from '../kube/helpers.js';
import { statefulSet } from '../k8s/platform-fixture.js';
import {
  deployment,
  nodeCluster,
  patchStrategy,
  testNodes,
  testTarget,
  waitAvailable,
  waitBudget,
  wireNodes,
} from './k8s-fixture.js';

const FROM = 'v1.36.5';
const TO = 'v1.37.2';

async function runToPause(
  w: Awaited<ReturnType<typeof wireNodes>>,
  stop: (x: { status: UpgradeStatus }) => boolean = (x) => x.status.phase === 'Paused',
) {
  return w
    .runner()
    .run({ stopWhen: stop, signal: AbortSignal.timeout(200_000) })
    .catch((err: unknown) => {
      const last = w.statuses.at(-1);
      throw new Error(`${String(err)}; last: ${JSON.stringify(last?.history.slice(-5))}`);
    });
}

describe('node upgrades that pause (real control plane)', () => {
  it(
    'a PodDisruptionBudget allowing no disruption: named by the drain simulation, then the drain timeout pauses naming it',
    { timeout: 240_000 },
    async (t) => {
      const n = await nodeCluster(t, { cp: 1, workers: 1, from: FROM });
      const ns = n.c.namespace;
      await n.apps.createNamespacedDeployment({ namespace: ns, body: deployment('web', 2) });
      await n.policy.createNamespacedPodDisruptionBudget({
        namespace: ns,
        body: {
          metadata: { name: 'web' },
          spec: { minAvailable: 2, selector: { matchLabels: { app: 'web' } } },
        },
      });
      await waitAvailable(n, 'web');
      await waitBudget(n, 'web', 0);

      // Without force, the precheck refuses and nothing is cordoned.
      const w = await wireNodes(n, 'strict', { version: TO, target: { nodes: testTarget(n.c) } });
      const refused = (x: { status: { prechecks: { name: string; ok: boolean }[] } }) =>
        x.status.prechecks.some((p) => p.name === 'drain-simulation' && !p.ok);
      const r1 = await runToPause(w, refused);
      const sim = r1.status.prechecks.find((p) => p.name === 'drain-simulation');
      assert.match(sim!.reason, new RegExp(`PodDisruptionBudget ${ns}/web allows 0 disruptions`));
      for (const [name, node] of await testNodes(n)) {
        assert.equal(node.spec?.unschedulable ?? false, false, `${name} untouched by a refused precheck`);
      }

      // Forced past it: the drain of the first node with a web pod times out and pauses, naming the budget.
      await patchStrategy(n, 'strict', { timeouts: { drain: '3s', drainPolicy: 'pause' } });
      await w.journal.updateSpec('strict', (s) => ({ ...s, force: ['drain-simulation'] }));
      const r2 = await runToPause(w);
      assert.equal(r2.status.phase, 'Paused');
      assert.match(
        r2.status.pauseCause ?? '',
        new RegExp(`PodDisruptionBudget ${ns}/web allows 0 disruptions`),
      );
      const cordoned = [...(await testNodes(n)).values()].filter((x) => x.spec?.unschedulable);
      assert.equal(cordoned.length, 1, 'one node drained at a time');
      assert.equal(cordoned[0]!.metadata?.annotations?.[NODE_ANNOTATIONS.cordonedBy], `${ns}/strict`);
    },
  );

  it(
    'a failed upgrade Job pauses the upgrade naming the Job, which is kept',
    { timeout: 240_000 },
    async (t) => {
      const n = await nodeCluster(t, { cp: 1, workers: 1, from: FROM });
      n.side.failJobsOn.add(n.node('cp-1'));
      const w = await wireNodes(n, 'nodes', { version: TO, target: { nodes: testTarget(n.c) } });
      const r = await runToPause(w);
      assert.equal(r.status.phase, 'Paused');
      assert.match(r.status.pauseCause ?? '', /upgrade Job .*failed/);
      const jobs = (await n.batch.listNamespacedJob({ namespace: n.c.namespace })).items;
      assert.equal(jobs.length, 1, 'only the control-plane node was tried');
      assert.ok(r.status.pauseCause!.includes(jobs[0]!.metadata!.name!), 'the cause names the Job');
      const nodes = await testNodes(n);
      assert.equal(nodes.get('w-01')!.status?.nodeInfo?.kubeletVersion, FROM, 'no worker touched');
    },
  );
  it(
    "a database's own drain that does not finish: the drain timeout's cause names the database's reason",
    { timeout: 240_000 },
    async (t) => {
      const n = await nodeCluster(t, { cp: 1, workers: 1, from: FROM });
      const ns = n.c.namespace;
      // A database StatefulSet (simulated pods) whose drain never hands its member over.
      const db = statefulSet('db', 1, { labels: { [DATABASE_ENGINE_LABEL]: 'etcd' } });
      db.spec!.template.spec!.nodeSelector = { pool: 'workers' };
      await n.apps.createNamespacedStatefulSet({ namespace: ns, body: db });
      await waitFor(
        'db ready',
        async () =>
          (await n.apps.readNamespacedStatefulSet({ name: 'db', namespace: ns })).status?.readyReplicas === 1,
        60_000,
        20,
      );
      const asked: string[] = [];
      const databases: DatabaseDrains = {
        drain: (_engine, sts, pod) => {
          asked.push(`${sts}/${pod}`);
          return Promise.resolve({
            done: false,
            message: `${pod} of ${sts} still leads: no healthy follower to take over`,
          });
        },
        caughtUp: () => Promise.resolve({ ok: true, detail: 'healthy' }),
        tolerates: () => 1,
      };
      const w = await wireNodes(
        n,
        'held',
        {
          version: TO,
          target: { nodes: testTarget(n.c) },
          strategy: { timeouts: { drain: '3s', drainPolicy: 'pause' } },
        },
        databases,
      );
      const r = await runToPause(w);
      assert.equal(r.status.phase, 'Paused');
      assert.ok(asked.includes(`${ns}/db/db-0`), `the database was asked: ${asked.join(', ')}`);
      assert.match(
        r.status.pauseCause ?? '',
        new RegExp(
          `draining ${n.node('w-01')} timed out after 3s: 1 pods left on ${n.node('w-01')}: ${ns}/db-0 \\(its database's own drain is not done: db-0 of ${ns}/db still leads: no healthy follower to take over\\)`,
        ),
      );
      const node = (await testNodes(n)).get('w-01')!;
      assert.equal(
        node.metadata?.annotations?.[NODE_ANNOTATIONS.cordonedBy],
        `${ns}/held`,
        'left cordoned for the resume',
      );
    },
  );
});
