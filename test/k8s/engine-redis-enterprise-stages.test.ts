/**
 * Redis Enterprise's three stages on the real control plane, through the operator under deploy/
 * RBAC: the operator Deployment (`redis-enterprise-operator`, rolled by the real deployment
 * controller), the REC pods (the REST double, test/redis-enterprise/pods.ts) and the
 * RedisEnterpriseDatabases (their reconciliation by the Redis operator stood in for by
 * test/redis-enterprise/redb-operator.ts), in that order, each gated on the previous; and the
 * operator's support of the API server's Kubernetes version checked before anything moves.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppsV1Api, type V1Deployment } from '@kubernetes/client-node';
import type { UpgradeResource } from '../../src/api/upgrade.js';
import { REDIS_ENTERPRISE_OPERATOR } from '../../src/platforms/kubernetes/redis-enterprise.js';
import { REC_PASSWORD, REC_USER } from '../redis-enterprise/double.js';
import { startRecPods } from '../redis-enterprise/pods.js';
import { startRedbOperator } from '../redis-enterprise/redb-operator.js';
import { waitFor } from '../kube/helpers.js';
import { historyOf } from './engine-etcd-fixtures.js';
import {
  createSettled,
  createUpgrade,
  makeOperator,
  setup,
  statefulSet,
  waitUpgrade,
} from './operator-fixtures.js';

const OPERATOR_FROM = '7.2.4-12';
const OPERATOR_TO = '7.4.6-2';

async function stages(t: Parameters<typeof setup>[0]) {
  const env = await setup(t);
  const pods = await startRecPods(t, env.server, {
    statefulSet: 'rec',
    nodes: 3,
    softwareVersion: '7.2.4-92',
    databases: [
      { name: 'cache', redisVersion: '7.2', shards: 2 },
      { name: 'sessions', redisVersion: '7.2', shards: 1 },
    ],
  });
  await env.core.createNamespacedSecret({
    namespace: env.ns,
    body: { metadata: { name: 'rec-admin' }, stringData: { username: REC_USER, password: REC_PASSWORD } },
  });
  await createSettled(env, statefulSet('rec', 3, { image: 'redislabs/redis:7.2.4-92' }));
  const redb = await startRedbOperator(t, env.server, pods.cluster);
  const apps = env.kc.makeApiClient(AppsV1Api);
  // The operator bundle's Deployment: the operator and its admission container share the image.
  const image = `redislabs/operator:${OPERATOR_FROM}`;
  await apps.createNamespacedDeployment({
    namespace: env.ns,
    body: {
      metadata: { name: REDIS_ENTERPRISE_OPERATOR },
      spec: {
        replicas: 1,
        selector: { matchLabels: { name: REDIS_ENTERPRISE_OPERATOR } },
        template: {
          metadata: { labels: { name: REDIS_ENTERPRISE_OPERATOR } },
          spec: {
            containers: [
              { name: 'redis-enterprise-operator', image },
              { name: 'admission', image },
            ],
          },
        },
      },
    },
  });
  const readDeployment = () =>
    apps.readNamespacedDeployment({ namespace: env.ns, name: REDIS_ENTERPRISE_OPERATOR });
  await waitFor(
    'operator Deployment available',
    async () => (await readDeployment()).status?.availableReplicas === 1,
  );
  const op = makeOperator(t, env);
  await op.start();
  await waitFor('leadership', () => op.isLeader());
  const upgrade = (name: string, force: string[] = []) =>
    createUpgrade(env, name, {
      target: { statefulSets: [{ name: 'rec', component: 'rec' }], endpoints: pods.endpoints() },
      engine: 'redis-enterprise',
      version: OPERATOR_TO,
      componentVersions: { rec: '7.4.6-22', redb: '7.4' },
      credentialsSecret: { name: 'rec-admin' },
      force,
    });
  return { env, pods, redb, readDeployment, upgrade };
}

const images = (d: V1Deployment) => (d.spec?.template?.spec?.containers ?? []).map((c) => c.image);

describe('redis-enterprise stages on Kubernetes', () => {
  it('an operator that does not support the API server Kubernetes version blocks the upgrade before anything moves', async (t) => {
    const { env, pods, redb, readDeployment, upgrade } = await stages(t);
    await upgrade('re-up');
    const blocked = await waitUpgrade(env, 're-up', 'blocked', (u) => !!u.status?.blockedBy, 60_000);
    assert.equal(blocked.status?.blockedBy?.check, 'precheck:operator-supports-kubernetes');
    // The control plane is v1.37.2; Redis's table gives 7.2.4-12 Kubernetes 1.24-1.28.
    assert.match(
      blocked.status?.blockedBy?.reason ?? '',
      /the running operator \(.*\) supports Kubernetes 1\.\d+-1\.\d+, not 1\.37/,
    );
    assert.deepEqual(images(await readDeployment()), Array(2).fill(`redislabs/operator:${OPERATOR_FROM}`));
    assert.deepEqual(pods.stopOrder(), []);
    assert.deepEqual(redb.upgrades, []);
  });

  it('forced past that check: the operator Deployment, then the REC pods, then the databases, each stage gated on the previous', async (t) => {
    const { env, pods, redb, readDeployment, upgrade } = await stages(t);
    let operatorDoneAt = 0;
    const watch = setInterval(() => {
      void readDeployment()
        .then((d) => {
          const s = d.status;
          const done =
            images(d).every((i) => i === `redislabs/operator:${OPERATOR_TO}`) &&
            (s?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
            s?.updatedReplicas === 1 &&
            s?.replicas === 1 &&
            s?.availableReplicas === 1;
          if (done && operatorDoneAt === 0) operatorDoneAt = Date.now();
        })
        .catch(() => undefined);
    }, 20);
    t.after(() => clearInterval(watch));
    await upgrade('re-up', ['operator-supports-kubernetes']);
    const done: UpgradeResource = await waitUpgrade(
      env,
      're-up',
      'ended',
      (u) => ['Completed', 'Failed', 'Paused'].includes(u.status?.phase ?? ''),
      180_000,
    );
    const history = historyOf(done);
    assert.equal(done.status?.phase, 'Completed', `${done.status?.reason}\n${history.join('\n')}`);
    assert.deepEqual(images(await readDeployment()), Array(2).fill(`redislabs/operator:${OPERATOR_TO}`));
    assert.deepEqual(pods.stopOrder(), ['rec-2', 'rec-1', 'rec-0']);
    for (const s of pods.stops) assert.equal(s.primaries, 0, `${s.member} held no primary shard`);
    assert.deepEqual(redb.upgrades.map((u) => [u.redb, u.version]).sort(), [
      ['cache', '7.4'],
      ['sessions', '7.4'],
    ]);
    assert.deepEqual(
      pods.cluster.bdbs.map((b) => b.redisVersion),
      ['7.4', '7.4'],
    );
    // The order, from what each part saw: operator rolled out before the first REC pod went; every
    // REC pod back before the first database changed.
    assert.ok(
      operatorDoneAt > 0 && operatorDoneAt <= pods.stops[0]!.at,
      'operator available before the first REC pod went',
    );
    const lastBack = Math.max(...pods.restarts.map((r) => r.at));
    assert.ok(lastBack <= redb.upgrades[0]!.at, 'every REC pod back before the first database upgrade');
    assert.ok(
      history.some((m) => /forced|force/i.test(m)),
      `the forced check is in the history:\n${history.join('\n')}`,
    );
  });
});
