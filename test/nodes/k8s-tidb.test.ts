/**
 * Node drains that know TiDB, on the real control plane: PD (3 pods) and TiKV (3 pods) StatefulSets
 * labelled `baton.dev/engine: tidb` with their components, spread over 4 workers (a worker may host
 * a PD and a TiKV), whose pods are members of the TiDB cluster double (test/tidb/pods.ts: PD's HTTP
 * API with its leader, stores, regions whose leaders follow PD's evict-leader scheduler). There is
 * no PD or TiKV binary here, so the cluster is the double; the control plane, the scheduler and the
 * StatefulSet controller are real. The database's own Upgrade names both StatefulSets, or the
 * TidbCluster they belong to (labelled as TiDB Operator labels them), so a TiKV store's hand-over
 * reaches PD.
 *
 * Before a node's drain evicts a TiKV pod, the TiDB engine adds its store to PD's evict-leader
 * scheduler and the pod goes once it leads no region; once it is back the scheduler entry is
 * removed (the engine's restore) and leaders come back. A PD pod goes only after PD's leadership
 * moved to another PD member.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TIDB_CLUSTER } from '../../src/platforms/kubernetes/cluster-ref.js';
import { applyTidbClusterCrd } from '../k8s/tidb-fixtures.js';
import { QUICK_TIMING } from '../tidb/model.js';
import { startTidbPods } from '../tidb/pods.js';
import { createSpreadDatabase, databaseUpgrade, waitDatabaseReady } from './database-fixture.js';
import { nodeCluster, upgradeAllNodes } from './k8s-fixture.js';

const FROM = 'v1.36.5';
const TO = 'v1.37.2';
const TIDB = 'v8.1.1';

describe('node drains that know TiDB (real control plane, TiDB double)', () => {
  for (const reference of ['statefulSets', 'TidbCluster'] as const)
    it(
      `PD and TiKV over the workers (their Upgrade names ${reference === 'statefulSets' ? 'both StatefulSets' : 'the TidbCluster'}): TiKV leaders evicted before each store goes and the eviction ended once it is back, PD leadership moved first`,
      { timeout: 420_000 },
      async (t) => {
        const n = await nodeCluster(t, { cp: 1, workers: 4, from: FROM });
        const pods = await startTidbPods(t, n.c, {
          prefix: 'basic-',
          version: TIDB,
          pd: 3,
          tikv: 3,
          regions: 60,
          timing: QUICK_TIMING,
        });
        for (const component of ['pd', 'tikv']) {
          await createSpreadDatabase(n, {
            name: `basic-${component}`,
            replicas: 3,
            engine: 'tidb',
            image: `pingcap/${component}:${TIDB}`,
            labels:
              reference === 'statefulSets'
                ? { 'baton.dev/component': component }
                : { 'app.kubernetes.io/instance': 'basic', 'app.kubernetes.io/component': component },
          });
        }
        await waitDatabaseReady(n, 'basic-pd', 3);
        await waitDatabaseReady(n, 'basic-tikv', 3);
        await pods.double.formed(30_000);
        if (reference === 'TidbCluster') {
          await applyTidbClusterCrd(n.c.rest);
          await n.c.rest.post(
            `/apis/${TIDB_CLUSTER.group}/${TIDB_CLUSTER.version}/namespaces/${n.c.namespace}/${TIDB_CLUSTER.plural}`,
            {
              apiVersion: `${TIDB_CLUSTER.group}/${TIDB_CLUSTER.version}`,
              kind: TIDB_CLUSTER.kind,
              metadata: { name: 'basic' },
              spec: { version: TIDB },
            },
          );
        }
        await databaseUpgrade(n, {
          name: 'basic',
          engine: 'tidb',
          version: TIDB,
          endpoints: pods.endpoints(),
          target:
            reference === 'statefulSets'
              ? {
                  statefulSets: [
                    { name: 'basic-pd', component: 'pd' },
                    { name: 'basic-tikv', component: 'tikv' },
                  ],
                }
              : { cluster: { kind: TIDB_CLUSTER.kind, name: 'basic' } },
        });

        await upgradeAllNodes(n, { version: TO, size: 2, ready: '90s' });

        const m = pods.double.model;
        const stopped = Object.keys(m.counters.restarts).sort();
        assert.deepEqual(
          stopped,
          ['basic-pd-0', 'basic-pd-1', 'basic-pd-2', 'basic-tikv-0', 'basic-tikv-1', 'basic-tikv-2'],
          'every PD and TiKV pod evicted with its node',
        );
        assert.deepEqual(
          Object.entries(m.counters.leadersAtStop).filter(([, leaders]) => leaders > 0),
          [],
          'every TiKV store went leading no region',
        );
        for (const s of m.stores.filter((x) => x.engine === 'tikv')) {
          assert.ok(
            (m.counters.evictAdds[s.id] ?? 0) >= 1,
            `${s.name} was added to the evict-leader scheduler`,
          );
          assert.ok((m.counters.evictRemovals[s.id] ?? 0) >= 1, `${s.name} was removed from it once back`);
        }
        assert.deepEqual([...m.evictStores], [], 'no store left in the evict-leader scheduler');
        assert.deepEqual(
          m.counters.restartLog.filter((x) => x.name.includes('-pd-') && x.pdLeader === x.name),
          [],
          'no PD pod went while it led',
        );
      },
    );
});
