/**
 * The Redis Enterprise engine on Kubernetes pods: the REC's StatefulSet (3 pods) on the real
 * control plane, its pods backed by the REST double (test/redis-enterprise/pods.ts: one HTTPS REST
 * API per node, shards with roles on nodes, actions that take time), rolled by the operator under
 * deploy/ RBAC with the REC admin credentials from a Secret: before each pod goes its primary shards
 * are failed over and its node put in maintenance mode (the master role handed over), after it is
 * back maintenance is turned off and its shards are synced before the next; a killed operator is
 * replaced mid-roll; a hand-over that cannot complete pauses the upgrade with its cause.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { UpgradeResource } from '../../src/api/upgrade.js';
import { ORIGINAL_STRATEGY_ANNOTATION } from '../../src/platforms/kubernetes/custody.js';
import { REC_PASSWORD, REC_USER } from '../redis-enterprise/double.js';
import { startRecPods, type RecPods } from '../redis-enterprise/pods.js';
import { waitFor } from '../kube/helpers.js';
import { historyOf } from './engine-etcd-fixtures.js';
import {
  createSettled,
  createUpgrade,
  getUpgrade,
  makeOperator,
  podImages,
  setup,
  statefulSet,
  waitUpgrade,
  type Cleanup,
  type Env,
} from './operator-fixtures.js';

const FROM = '7.2.4-92';
const TO = '7.4.6-22';
const IMAGE = 'redislabs/redis';
const ENDED = ['Completed', 'Failed', 'Paused'];

/** deploy/ applied, the REC admin Secret, a settled 3-pod REC StatefulSet `rec` at 7.2.4-92. */
async function recOnPods(t: Cleanup): Promise<{ env: Env; pods: RecPods }> {
  const env = await setup(t);
  const pods = await startRecPods(t, env.server, {
    statefulSet: 'rec',
    nodes: 3,
    softwareVersion: FROM,
    databases: [
      { name: 'cache', redisVersion: '7.2', shards: 2 },
      { name: 'sessions', redisVersion: '7.2', shards: 1 },
    ],
  });
  await env.core.createNamespacedSecret({
    namespace: env.ns,
    body: {
      metadata: { name: 'rec-admin' },
      stringData: { username: REC_USER, password: REC_PASSWORD },
    },
  });
  await createSettled(env, statefulSet('rec', 3, { image: `${IMAGE}:${FROM}` }));
  return { env, pods };
}

async function upgradeRec(env: Env, pods: RecPods, name: string): Promise<void> {
  await createUpgrade(env, name, {
    target: { statefulSets: [{ name: 'rec', component: 'rec' }], endpoints: pods.endpoints() },
    engine: 'redis-enterprise',
    version: TO,
    credentialsSecret: { name: 'rec-admin' },
    strategy: { timeouts: { drain: '5s', drainPolicy: 'pause' } },
  });
}

function ended(env: Env, name: string): Promise<UpgradeResource> {
  return waitUpgrade(env, name, 'ended', (u) => ENDED.includes(u.status?.phase ?? ''), 120_000);
}

/** Every pod went holding no primary shard and not the master node; all back, none in maintenance. */
function assertHandedOverBeforeEachStop(pods: RecPods): void {
  assert.deepEqual(pods.stopOrder(), ['rec-2', 'rec-1', 'rec-0'], 'every pod replaced once');
  for (const s of pods.stops) {
    assert.equal(s.primaries, 0, `${s.member} held no primary shard when its pod went`);
    assert.equal(s.wasMaster, false, `${s.member} was not the master node when its pod went`);
  }
  const c = pods.cluster;
  assert.deepEqual(
    c.nodes.map((n) => n.softwareVersion),
    [TO, TO, TO],
  );
  assert.deepEqual(
    c.nodes.map((n) => n.snapshots.length),
    [0, 0, 0],
    'every node out of maintenance mode',
  );
  const posts = c.requests.filter((r) => r.startsWith('POST'));
  assert.ok(posts.includes('POST /v1/shards/actions/failover'), posts.join('\n'));
  assert.equal(posts.filter((r) => /maintenance_on$/.test(r)).length, 3, posts.join('\n'));
  assert.equal(posts.filter((r) => /maintenance_off$/.test(r)).length, 3, posts.join('\n'));
}

describe('redis-enterprise on pods', () => {
  it('the operator rolls the REC pods: primaries failed over and the node in maintenance before each pod goes, shards synced before the next', async (t) => {
    const { env, pods } = await recOnPods(t);
    const op = makeOperator(t, env);
    await op.start();
    await waitFor('leadership', () => op.isLeader());
    await upgradeRec(env, pods, 'rec-up');
    const done = await ended(env, 'rec-up');
    const history = historyOf(done);
    assert.equal(done.status?.phase, 'Completed', `${done.status?.reason}\n${history.join('\n')}`);
    assertHandedOverBeforeEachStop(pods);
    assert.deepEqual(Object.values(await podImages(env, 'rec')), Array(3).fill(`${IMAGE}:${TO}`));
    assert.ok(
      history.some((m) => /demoting the master node/.test(m)),
      `the master node was demoted before its pod went:\n${history.join('\n')}`,
    );
    // The StatefulSet was taken over and handed back like any other: frozen first, then its own
    // strategy restored, Baton's annotation gone.
    assert.ok(
      history.some((m) => m.includes('statefulset rec frozen at partition 3')),
      history.join('\n'),
    );
    const sts = await env.apps.readNamespacedStatefulSet({ namespace: env.ns, name: 'rec' });
    assert.equal(sts.metadata?.annotations?.[ORIGINAL_STRATEGY_ANNOTATION], undefined);
    assert.equal(sts.spec?.updateStrategy?.type, 'RollingUpdate');
    assert.equal(sts.spec?.updateStrategy?.rollingUpdate?.partition, 0);
  });

  it('an operator killed mid-roll is replaced and finishes; every pod replaced once', async (t) => {
    const { env, pods } = await recOnPods(t);
    const a = makeOperator(t, env, { identity: 'op-a' });
    await a.start();
    await waitFor('op-a to lead', () => a.isLeader());
    await upgradeRec(env, pods, 'rec-up');
    await waitUpgrade(env, 'rec-up', 'one member done', (u) => (u.status?.progress?.done ?? 0) >= 1, 60_000);
    await a.kill();
    const mid = await getUpgrade(env, 'rec-up');
    assert.ok(!ENDED.includes(mid.status?.phase ?? ''), `killed mid-roll (${mid.status?.phase})`);
    const b = makeOperator(t, env, { identity: 'op-b' });
    await b.start();
    const done = await ended(env, 'rec-up');
    assert.equal(done.status?.phase, 'Completed', `${done.status?.reason}\n${historyOf(done).join('\n')}`);
    for (const [name, m] of Object.entries(done.status!.members!))
      assert.equal(m.replaceCalls, 1, `${name} replaced exactly once across the takeover`);
    assertHandedOverBeforeEachStop(pods);
  });

  it('replicas out of sync: the precheck blocks with nothing moved; forced, the failover fails and the upgrade pauses with the action error, no pod deleted', async (t) => {
    const { env, pods } = await recOnPods(t);
    // The replicas of rec-2's primaries fall out of sync and stay so: the API refuses to promote
    // them (failover without `immediate`).
    const c = pods.cluster;
    for (const s of c.shards.filter((x) => x.nodeUid === 3 && x.role === 'master'))
      c.partner(s)!.syncingUntil = Date.now() + 3_600_000;
    const op = makeOperator(t, env);
    await op.start();
    await waitFor('leadership', () => op.isLeader());
    await upgradeRec(env, pods, 'rec-up');
    const blocked = await waitUpgrade(env, 'rec-up', 'blocked', (u) => !!u.status?.blockedBy, 60_000);
    assert.equal(blocked.status?.blockedBy?.check, 'precheck:databases-active');
    assert.match(blocked.status?.blockedBy?.reason ?? '', /(cache|sessions) has \d shard\(s\) not in sync/);
    assert.deepEqual(pods.stopOrder(), [], 'nothing moved while blocked');

    await env.custom.patchNamespacedCustomObject(
      {
        group: 'baton.dev',
        version: 'v1alpha1',
        namespace: env.ns,
        plural: 'upgrades',
        name: 'rec-up',
        body: { spec: { force: ['databases-active'] } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const done = await ended(env, 'rec-up');
    const history = historyOf(done);
    assert.equal(done.status?.phase, 'Paused', `${done.status?.reason}\n${history.join('\n')}`);
    assert.match(done.status?.pauseCause ?? '', /moving leadership away from rec-2 timed out/);
    assert.match(
      done.status?.pauseCause ?? '',
      /failover action \S+ failed: replica of shard \d+ is not in sync/,
    );
    assert.deepEqual(pods.stopOrder(), [], 'no pod was deleted');
    assert.deepEqual(Object.values(await podImages(env, 'rec')), Array(3).fill(`${IMAGE}:${FROM}`));
  });
});
