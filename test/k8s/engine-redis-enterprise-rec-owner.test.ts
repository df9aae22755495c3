/**
 * A REC StatefulSet that the Redis operator controls (a controller ownerReference to a
 * RedisEnterpriseCluster, as the operator creates it) is never rolled behind the operator's back:
 * the platform precheck `rec-owner` blocks the upgrade naming the REC and saying to target it
 * instead (test/k8s/engine-redis-enterprise-rec.test.ts), and nothing moves (no template write, no
 * pod deleted, no failover). The same pods under a StatefulSet nothing controls
 * are rolled (test/k8s/engine-redis-enterprise.test.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1StatefulSet } from '@kubernetes/client-node';
import {
  REC_OWNER_PRECHECK,
  REDIS_ENTERPRISE_CLUSTER_KIND,
} from '../../src/platforms/kubernetes/redis-enterprise.js';
import { REC_PASSWORD, REC_USER } from '../redis-enterprise/double.js';
import { startRecPods } from '../redis-enterprise/pods.js';
import { installRecCrd } from '../redis-enterprise/rec-operator.js';
import { waitFor } from '../kube/helpers.js';
import {
  createSettled,
  createUpgrade,
  makeOperator,
  podImages,
  setup,
  statefulSet,
  waitUpgrade,
} from './operator-fixtures.js';

const REC = { group: 'app.redislabs.com', version: 'v1', plural: 'redisenterpriseclusters' };
const IMAGE = 'redislabs/redis';

describe('redis-enterprise: a REC StatefulSet the Redis operator controls', () => {
  it('is refused by the rec-owner precheck with nothing moved', async (t) => {
    const env = await setup(t);
    const pods = await startRecPods(t, env.server, {
      statefulSet: 'rec',
      nodes: 3,
      softwareVersion: '7.2.4-92',
      databases: [{ name: 'cache', redisVersion: '7.2', shards: 2 }],
    });
    await env.core.createNamespacedSecret({
      namespace: env.ns,
      body: { metadata: { name: 'rec-admin' }, stringData: { username: REC_USER, password: REC_PASSWORD } },
    });
    await installRecCrd(env.server);
    const rec = (await env.custom.createNamespacedCustomObject({
      group: REC.group,
      version: REC.version,
      plural: REC.plural,
      namespace: env.ns,
      body: {
        apiVersion: `${REC.group}/${REC.version}`,
        kind: REDIS_ENTERPRISE_CLUSTER_KIND,
        metadata: { name: 'rec' },
        spec: { nodes: 3, redisEnterpriseImageSpec: { repository: IMAGE, versionTag: '7.2.4-92' } },
      },
    })) as { metadata: { uid: string } };
    const body: V1StatefulSet = statefulSet('rec', 3, { image: `${IMAGE}:7.2.4-92` });
    body.metadata!.ownerReferences = [
      {
        apiVersion: `${REC.group}/${REC.version}`,
        kind: REDIS_ENTERPRISE_CLUSTER_KIND,
        name: 'rec',
        uid: rec.metadata.uid,
        controller: true,
      },
    ];
    await createSettled(env, body);

    const op = makeOperator(t, env);
    await op.start();
    await waitFor('leadership', () => op.isLeader());
    await createUpgrade(env, 'rec-up', {
      target: { statefulSets: [{ name: 'rec', component: 'rec' }], endpoints: pods.endpoints() },
      engine: 'redis-enterprise',
      version: '7.4.6-22',
      credentialsSecret: { name: 'rec-admin' },
    });
    const blocked = await waitUpgrade(env, 'rec-up', 'blocked', (u) => !!u.status?.blockedBy, 60_000);
    assert.equal(blocked.status?.blockedBy?.check, `precheck:${REC_OWNER_PRECHECK}`);
    assert.match(
      blocked.status?.blockedBy?.reason ?? '',
      /^statefulset rec \(pods rec-0, rec-1, rec-2\) is reconciled by RedisEnterpriseCluster rec: the Redis operator rolls it itself.*; target the REC instead \(spec\.target\.cluster: \{kind: RedisEnterpriseCluster, name: rec\}, or --cluster-ref RedisEnterpriseCluster\/rec\)/,
    );
    assert.equal((blocked.status?.blockedBy?.reason ?? '').split('\n').length, 1, 'one line');
    assert.deepEqual(pods.stopOrder(), [], 'no pod deleted');
    assert.deepEqual(Object.values(await podImages(env, 'rec')), Array(3).fill(`${IMAGE}:7.2.4-92`));
    const sts = await env.apps.readNamespacedStatefulSet({ namespace: env.ns, name: 'rec' });
    assert.equal(sts.spec?.template.spec?.containers[0]?.image, `${IMAGE}:7.2.4-92`, 'template untouched');
    assert.equal(sts.spec?.updateStrategy?.rollingUpdate?.partition ?? 0, 0, 'not frozen either');
    assert.equal(
      [...pods.cluster.actions.values()].filter((a) => a.name !== 'upgrade_bdb').length,
      0,
      'no failover or maintenance action',
    );
  });
});
