/**
 * Node drains that know Redis Enterprise, on the real control plane: the 3-pod StatefulSet of a
 * Redis Enterprise cluster (REC) labelled `baton.dev/engine: redis-enterprise`, one pod per worker
 * with a spare worker, whose pods are nodes of the REST double (test/redis-enterprise/pods.ts: an
 * HTTPS REST API per node, shards with roles, maintenance mode with its snapshots, actions that
 * take time). There is no Redis Enterprise software here, so the cluster is the double; the control
 * plane, the scheduler and the StatefulSet controller are real.
 *
 * Before a node's drain evicts a REC pod, the Redis Enterprise engine fails its primary shards over
 * and puts its REC node in maintenance mode (demoting it when it is the master node); once the pod
 * is back the node drain ends that maintenance mode (the engine's restore, as after a pod of a REC
 * roll) and waits for its shards to be in sync before the next batch. One REC node down at a time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REC_PASSWORD, REC_USER } from '../redis-enterprise/double.js';
import { startRecPods } from '../redis-enterprise/pods.js';
import { createSpreadDatabase, databaseUpgrade, waitDatabaseReady } from './database-fixture.js';
import { nodeCluster, upgradeAllNodes } from './k8s-fixture.js';

const FROM = 'v1.36.5';
const TO = 'v1.37.2';
const REC = '7.4.6-22';

describe('node drains that know Redis Enterprise (real control plane, REST double)', () => {
  it(
    'a 3-node REC over the workers: shards failed over and the node in maintenance before its pod goes, maintenance off once back, one REC node down at a time',
    { timeout: 420_000 },
    async (t) => {
      const n = await nodeCluster(t, { cp: 1, workers: 4, from: FROM });
      const pods = await startRecPods(t, n.c, {
        statefulSet: 'rec',
        nodes: 3,
        softwareVersion: REC,
        databases: [
          { name: 'cache', redisVersion: '7.4', shards: 2 },
          { name: 'sessions', redisVersion: '7.4', shards: 1 },
        ],
      });
      await n.core.createNamespacedSecret({
        namespace: n.c.namespace,
        body: { metadata: { name: 'rec-admin' }, stringData: { username: REC_USER, password: REC_PASSWORD } },
      });
      await createSpreadDatabase(n, {
        name: 'rec',
        replicas: 3,
        engine: 'redis-enterprise',
        image: `redislabs/redis:${REC}`,
      });
      await waitDatabaseReady(n, 'rec', 3);
      await databaseUpgrade(n, {
        name: 'rec',
        engine: 'redis-enterprise',
        version: REC,
        endpoints: pods.endpoints(),
        credentialsSecret: 'rec-admin',
      });

      const { history } = await upgradeAllNodes(n, { version: TO, size: 2, ready: '90s' });

      const c = pods.cluster;
      assert.deepEqual(pods.stopOrder().sort(), ['rec-0', 'rec-1', 'rec-2'], 'each REC pod evicted once');
      for (const s of pods.stops) {
        assert.equal(s.primaries, 0, `${s.member} held no primary shard when its pod went`);
        assert.equal(s.wasMaster, false, `${s.member} was not the master node when its pod went`);
      }
      assert.match(history, /rec-\d: failover of bdb \d+ shards/, 'the node drains failed shards over');
      const posts = c.requests.filter((x) => x.startsWith('POST'));
      assert.equal(posts.filter((x) => /maintenance_on$/.test(x)).length, 3, posts.join('\n'));
      assert.equal(posts.filter((x) => /maintenance_off$/.test(x)).length, 3, posts.join('\n'));
      assert.deepEqual(
        c.nodes.map((x) => x.snapshots.length),
        [0, 0, 0],
        'every REC node out of maintenance mode at the end',
      );
      // Down from its stop until its restart: never two at once.
      const down = [
        ...pods.stops.map((s) => ({ at: s.at, d: 1 })),
        ...pods.restarts.map((s) => ({ at: s.at, d: -1 })),
      ].sort((a, b) => a.at - b.at || a.d - b.d);
      let now = 0;
      let most = 0;
      for (const e of down) most = Math.max(most, (now += e.d));
      assert.equal(most, 1, `one REC node down at a time: ${JSON.stringify(down)}`);
    },
  );
});
