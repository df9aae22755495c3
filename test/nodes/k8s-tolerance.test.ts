/**
 * What the node engine tells the batch planner about the databases on each node, on the real control
 * plane: a StatefulSet labelled with its engine and the component it runs is judged by that
 * component (`baton.dev/component`, else TiDB Operator's `app.kubernetes.io/component`): PD's raft
 * group tolerates a minority of its members down, TiKV's stores one at a time (a region has three
 * replicas), TiDB's stateless servers a minority.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DATABASE_ENGINE_LABEL } from '../../src/api/nodes.js';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import { waitFor } from '../kube/helpers.js';
import { statefulSet } from '../k8s/platform-fixture.js';
import { nodeCluster, testTarget, wireNodes } from './k8s-fixture.js';

const FROM = 'v1.36.5';
const TO = 'v1.37.2';

describe('databases on the nodes: tolerance by component (real control plane)', () => {
  it('PD tolerates 2 of 5 down, TiKV 1 of 5, TiDB servers 2 of 5; unlabelled by component: the engine as a whole', async (t) => {
    const n = await nodeCluster(t, { cp: 1, workers: 2, from: FROM });
    const ns = n.c.namespace;
    const tidb = { [DATABASE_ENGINE_LABEL]: 'tidb' };
    const sets = [
      statefulSet('pd', 5, { labels: { ...tidb, 'app.kubernetes.io/component': 'pd' } }),
      statefulSet('tikv', 5, { labels: { ...tidb, 'app.kubernetes.io/component': 'tikv' } }),
      // Baton's own label first: it wins over the recommended one.
      statefulSet('tidb', 5, {
        labels: { ...tidb, 'baton.dev/component': 'tidb', 'app.kubernetes.io/component': 'tikv' },
      }),
      statefulSet('whole', 5, { labels: tidb }),
    ];
    for (const s of sets) await n.apps.createNamespacedStatefulSet({ namespace: ns, body: s });
    for (const s of sets) {
      const name = s.metadata!.name!;
      await waitFor(
        `${name} ready`,
        async () =>
          (await n.apps.readNamespacedStatefulSet({ name, namespace: ns })).status?.readyReplicas === 5,
        60_000,
        20,
      );
    }
    const w = await wireNodes(n, 'look', { version: TO, target: { nodes: testTarget(n.c) } });
    const ctx = { clock: systemClock, logger: nullLogger };
    const members = await w.platform.listMembers(ctx);
    const seen = new Map<string, Set<number>>();
    const counted = new Map<string, number>();
    await waitFor('every pod counted', async () => {
      const obs = await w.engine.observe(members, ctx);
      seen.clear();
      counted.clear();
      for (const state of Object.values(obs.members)) {
        for (const h of state.hosts ?? []) {
          seen.set(h.group, (seen.get(h.group) ?? new Set()).add(h.tolerates));
          counted.set(h.group, (counted.get(h.group) ?? 0) + 1);
        }
      }
      return sets.every((s) => counted.get(`${ns}/${s.metadata!.name!}`) === 5);
    });
    const tolerates = Object.fromEntries(
      sets.map((s) => [s.metadata!.name!, [...seen.get(`${ns}/${s.metadata!.name!}`)!]]),
    );
    assert.deepEqual(tolerates, { pd: [2], tikv: [1], tidb: [2], whole: [1] });
  });
});
