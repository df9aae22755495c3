/**
 * The Redis engine on Kubernetes pods: a 6-pod Redis Cluster StatefulSet on the real control plane
 * whose pods run real redis-server processes (test/kube/redis-pods.ts), upgraded by the operator
 * while a writer writes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formRedisCluster, startRedisPods } from '../kube/redis-pods.js';
import { historyOf, operatorUpgradeUnderWrites } from './engine-etcd-fixtures.js';
import { createSettled, setup, statefulSet } from './operator-fixtures.js';

describe('redis on pods', () => {
  it('the operator upgrades a 6-pod Redis Cluster under writes: highest ordinal first, no primary with slots deleted, no acknowledged write lost', async (t) => {
    const env = await setup(t);
    const pods = await startRedisPods(t, env.server, { statefulSet: 'cache', replicas: 6 });
    await createSettled(env, statefulSet('cache', 6, { image: 'redis:7.0.14' }));
    await formRedisCluster(pods);

    const { done, report } = await operatorUpgradeUnderWrites(t, env, pods, {
      engine: 'redis',
      statefulSet: 'cache',
      name: 'cache-up',
      version: '7.0.15',
      timeoutMs: 180_000,
    });
    assert.equal(done.status?.phase, 'Completed', `${done.status?.reason}\n${historyOf(done).join('\n')}`);
    assert.equal(done.status?.progressText, '6/6');
    assert.deepEqual(pods.stopOrder(), ['cache-5', 'cache-4', 'cache-3', 'cache-2', 'cache-1', 'cache-0']);
    assert.deepEqual(pods.leaderStops(), [], 'no pod was deleted while its node was a primary serving slots');
    const history = historyOf(done);
    assert.ok(
      history.filter((m) => /failed over slots .* from cache-\d to cache-\d/.test(m)).length >= 3,
      `every primary handed its slots to a replica first:\n${history.join('\n')}`,
    );
    assert.ok(report.acknowledgedWrites > 0, 'the writer wrote during the upgrade');
    assert.equal(report.lostWrites, 0, `lost: ${JSON.stringify(report.lost)}`);
    assert.equal(report.unverifiedWrites, 0);
  });
});
