/**
 * Node drains that know Redis Cluster, on the real control plane: a 6-pod Redis Cluster StatefulSet
 * (3 primaries, 3 replicas; real redis-server processes as pods, test/kube/redis-pods.ts) labelled
 * `baton.dev/engine: redis`, one pod per worker with a spare worker, under a writer. There is no
 * PodDisruptionBudget: Baton's batch planner alone must keep one Redis member down at a time (Redis
 * Cluster is not raft: a primary and its replica may sit on two nodes of one batch), while batches
 * of three nodes are asked for. Before a primary's pod is evicted the node drain fails its slots
 * over to its replica through the Redis engine; no acknowledged write is lost.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formRedisCluster, startRedisPods } from '../kube/redis-pods.js';
import {
  createSpreadDatabase,
  databaseUpgrade,
  mostDownAtOnce,
  startWriter,
  waitDatabaseReady,
} from './database-fixture.js';
import { nodeCluster, upgradeAllNodes } from './k8s-fixture.js';

const FROM = 'v1.36.5';
const TO = 'v1.37.2';

describe('node drains that know Redis Cluster (real control plane, real redis-server)', () => {
  it(
    'a 6-pod Redis Cluster over the workers: one member down at a time, primaries failed over before eviction, no acknowledged write lost',
    { timeout: 420_000 },
    async (t) => {
      const n = await nodeCluster(t, { cp: 1, workers: 7, from: FROM });
      const pods = await startRedisPods(t, n.c, { statefulSet: 'cache', replicas: 6 });
      await createSpreadDatabase(n, { name: 'cache', replicas: 6, engine: 'redis', image: 'redis:7.0.15' });
      await waitDatabaseReady(n, 'cache', 6);
      await formRedisCluster(pods);
      await databaseUpgrade(n, {
        name: 'cache',
        engine: 'redis',
        version: '7.0.15',
        endpoints: pods.endpoints(),
      });
      const probe = await startWriter(t, 'redis', () => Object.values(pods.endpoints()));

      const { history } = await upgradeAllNodes(n, { version: TO, size: 3 });
      const report = await probe.stop();

      const stops = pods.events.filter((e) => e.kind === 'stop').map((e) => e.pod);
      assert.deepEqual(
        [...new Set(stops)].sort(),
        ['cache-0', 'cache-1', 'cache-2', 'cache-3', 'cache-4', 'cache-5'],
        'each member evicted with its node',
      );
      assert.equal(
        mostDownAtOnce(pods, 6),
        1,
        `one Redis member down at a time: ${JSON.stringify(pods.events)}`,
      );
      assert.deepEqual(
        pods.leaderStops(),
        [],
        'no pod was stopped while its node was a primary serving slots',
      );
      assert.ok(
        (history.match(/failed over slots .* from cache-\d to cache-\d/g) ?? []).length >= 3,
        `every primary handed its slots to its replica before its eviction:\n${history}`,
      );

      assert.ok(report.acknowledgedWrites > 0, 'the writer wrote during the upgrade');
      assert.equal(report.lostWrites, 0, `lost: ${JSON.stringify(report.lost)}`);
      assert.equal(report.unverifiedWrites, 0);
    },
  );
});
