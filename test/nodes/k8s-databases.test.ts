/**
 * Node drains that know the databases, on the real control plane: a 3-member etcd StatefulSet
 * labelled `baton.dev/engine: etcd` whose pods run real etcd processes (test/kube/etcd-pods.ts),
 * spread over the workers, while a writer writes through etcd's own client. The nodes are upgraded
 * in batches of two: the batch planner never takes two etcd members down at once, the node drain
 * moves etcd leadership away (through the etcd engine, reached at the endpoints the database's
 * Upgrade names) before the leader's pod is evicted, and a node counts as done only once etcd is
 * healthy with the member back. No acknowledged write is lost.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DATABASE_ENGINE_LABEL } from '../../src/api/nodes.js';
import { GROUP, PLURAL, VERSION } from '../../src/api/upgrade.js';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import { Probe, createProbeClient } from '../../src/probe/index.js';
import { startEtcdPods } from '../kube/etcd-pods.js';
import { waitFor } from '../kube/helpers.js';
import { statefulSet } from '../k8s/platform-fixture.js';
import { nodeCluster, testNodes, testTarget, wireNodes } from './k8s-fixture.js';

const FROM = 'v1.36.5';
const TO = 'v1.37.2';

describe('node drains that know the databases (real control plane, real etcd)', () => {
  it(
    'etcd over the workers: batches never take two members, leadership moved before each eviction, no acknowledged write lost',
    { timeout: 300_000 },
    async (t) => {
      const n = await nodeCluster(t, { cp: 1, workers: 4, from: FROM });
      const ns = n.c.namespace;
      const pods = await startEtcdPods(t, n.c, { statefulSet: 'etcd', replicas: 3 });
      const sts = statefulSet('etcd', 3, {
        image: 'quay.io/coreos/etcd:3.4.22',
        labels: { [DATABASE_ENGINE_LABEL]: 'etcd' },
      });
      sts.spec!.podManagementPolicy = 'Parallel';
      // One member per node, as a production etcd is spread.
      sts.spec!.template.spec!.affinity = {
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { labelSelector: { matchLabels: { app: 'etcd' } }, topologyKey: 'kubernetes.io/hostname' },
          ],
        },
      };
      await n.apps.createNamespacedStatefulSet({ namespace: ns, body: sts });
      await waitFor(
        'etcd ready',
        async () =>
          (await n.apps.readNamespacedStatefulSet({ name: 'etcd', namespace: ns })).status?.readyReplicas ===
          3,
        90_000,
        50,
      );
      await n.policy.createNamespacedPodDisruptionBudget({
        namespace: ns,
        body: {
          metadata: { name: 'etcd' },
          spec: { maxUnavailable: 1, selector: { matchLabels: { app: 'etcd' } } },
        },
      });
      // The database's own Upgrade (not running) names the members' admin endpoints.
      await n.c.rest.post(`/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}`, {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'Upgrade',
        metadata: { name: 'etcd' },
        spec: {
          engine: 'etcd',
          version: '3.4.22',
          paused: true,
          target: { statefulSet: 'etcd', endpoints: pods.endpoints() },
        },
      });
      const probe = new Probe({
        client: createProbeClient('etcd', {
          endpoints: () => Promise.resolve(Object.values(pods.endpoints())),
          logger: nullLogger,
        }),
        clock: systemClock,
        logger: nullLogger,
      });
      await probe.start();
      t.after(() => probe.stop().catch(() => undefined));

      const w = await wireNodes(n, 'nodes', {
        version: TO,
        target: { nodes: testTarget(n.c) },
        strategy: { batch: { type: 'fixed', size: 2 } },
      });
      const r = await w
        .runner()
        .run({
          stopWhen: (x) => x.status.phase === 'Paused',
          signal: AbortSignal.timeout(240_000),
        })
        .catch((err: unknown) => {
          const last = w.statuses.at(-1);
          throw new Error(`${String(err)}; last: ${JSON.stringify(last?.history.slice(-5))}`);
        });
      const report = await probe.stop();
      assert.equal(
        r.status.phase,
        'Completed',
        `${r.status.pauseCause}\n${JSON.stringify(r.status.history.slice(-6))}`,
      );
      for (const [name, node] of await testNodes(n))
        assert.equal(node.status?.nodeInfo?.kubeletVersion, TO, `${name} upgraded`);

      // Every member was moved (its node drained), never two down at once, never a leader stopped.
      const stops = pods.events.filter((e) => e.kind === 'stop').map((e) => e.pod);
      assert.deepEqual([...new Set(stops)].sort(), ['etcd-0', 'etcd-1', 'etcd-2'], 'each member evicted');
      let down = 0;
      let worst = 0;
      for (const e of pods.events.slice(3)) {
        down += e.kind === 'stop' ? 1 : -1;
        worst = Math.max(worst, down);
      }
      assert.equal(worst, 1, 'one etcd member down at a time');
      assert.deepEqual(pods.leaderStops(), [], 'no etcd member was stopped while it led');
      const history = r.status.history.map((h) => h.message).join('\n');
      assert.match(
        history,
        /moved etcd leadership from etcd-\d to etcd-\d/,
        'the leader was handed over first',
      );

      assert.ok(report.acknowledgedWrites > 0, 'the writer wrote during the upgrade');
      assert.equal(report.lostWrites, 0, `lost: ${JSON.stringify(report.lost)}`);
      assert.equal(report.unverifiedWrites, 0);
    },
  );
});
