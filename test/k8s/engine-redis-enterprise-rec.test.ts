/**
 * A RedisEnterpriseCluster reference on the real control plane: the REC CRD, a REC whose
 * StatefulSet a stand-in for the Redis operator owns and rolls as Redis documents it
 * (test/redis-enterprise/rec-operator.ts: the template and a partition in one write, then pod by
 * pod, highest ordinal first, each after its documented hand-over and only once the previous pod
 * is Ready), pods backed by the REST double (test/redis-enterprise/pods.ts). Baton targets the REC
 * (`spec.target.cluster`): it hands over the first pod through the REST API, sets
 * `spec.redisEnterpriseImageSpec.versionTag` once, and gates the operator's roll pod by pod on the
 * engine's checks (pod Ready at the new image, its REST node back on that software, its shards in
 * sync, out of maintenance). Also: a node whose shards never sync pauses the upgrade with that
 * cause; Baton's operator killed mid-roll is replaced and finishes without a second patch.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { UpgradeResource } from '../../src/api/upgrade.js';
import {
  OWNER_PRECHECK,
  PAUSED_BY_ANNOTATION,
  REDIS_ENTERPRISE_CLUSTER as REC,
} from '../../src/platforms/kubernetes/cluster-ref.js';
import { ORIGINAL_STRATEGY_ANNOTATION } from '../../src/platforms/kubernetes/custody.js';
import { REC_PASSWORD, REC_USER } from '../redis-enterprise/double.js';
import { startRecPods, type RecPods } from '../redis-enterprise/pods.js';
import { startRecOperator, type RecObject, type RecOperator } from '../redis-enterprise/rec-operator.js';
import { waitFor } from '../kube/helpers.js';
import { kubeCli } from './cli-fixture.js';
import { historyOf } from './engine-etcd-fixtures.js';
import {
  createUpgrade,
  getUpgrade,
  makeOperator,
  podImages,
  setup,
  waitUpgrade,
  type Cleanup,
  type Env,
} from './operator-fixtures.js';

const FROM = '7.2.4-92';
const TO = '7.4.6-22';
const IMAGE = 'redislabs/redis';
const ENDED = ['Completed', 'Failed', 'Paused'];

interface RecEnv {
  env: Env;
  pods: RecPods;
  recOp: RecOperator;
  /** The REC's metadata.generation before the upgrade (spec writes only: status is a subresource). */
  generation: number;
}

const readRec = async (env: Env): Promise<RecObject> =>
  (await env.custom.getNamespacedCustomObject({
    group: REC.group,
    version: REC.version,
    plural: REC.plural,
    namespace: env.ns,
    name: 'rec',
  })) as RecObject;

/** deploy/ applied, the REC admin Secret, REC `rec` at 7.2.4-92 whose 3 pods the stand-in runs. */
async function recCluster(t: Cleanup): Promise<RecEnv> {
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
    body: { metadata: { name: 'rec-admin' }, stringData: { username: REC_USER, password: REC_PASSWORD } },
  });
  const recOp = await startRecOperator(t, env.server, pods.cluster, {
    name: 'rec',
    nodes: 3,
    repository: IMAGE,
    versionTag: FROM,
  });
  await waitFor(
    'the REC StatefulSet ready',
    async () => {
      const s = await env.apps.readNamespacedStatefulSet({ namespace: env.ns, name: 'rec' });
      return s.status?.readyReplicas === 3 && s.status.updatedReplicas === 3;
    },
    30_000,
    10,
  );
  const rec = await waitFor('REC Running', async () => {
    const r = await readRec(env);
    return r.status?.state === 'Running' ? r : undefined;
  });
  return { env, pods, recOp, generation: rec.metadata.generation ?? 0 };
}

function upgradeRec(env: Env, pods: RecPods, name: string, extra: Record<string, unknown> = {}) {
  return createUpgrade(env, name, {
    target: { cluster: { kind: REC.kind, name: 'rec' }, endpoints: pods.endpoints() },
    engine: 'redis-enterprise',
    version: TO,
    credentialsSecret: { name: 'rec-admin' },
    ...extra,
  });
}

function ended(env: Env, name: string): Promise<UpgradeResource> {
  return waitUpgrade(env, name, 'ended', (u) => ENDED.includes(u.status?.phase ?? ''), 120_000);
}

/**
 * The roll the operator made, gated by Baton: versionTag written once (one spec change), one roll,
 * pods in the StatefulSet's order each after a hand-over (no primary, not the master node), every
 * node on the target and out of maintenance, the StatefulSet never written by Baton, the REC
 * released and Running.
 */
async function assertRolledThroughRec(r: RecEnv): Promise<void> {
  const { env, pods, recOp } = r;
  const rec = await readRec(env);
  assert.equal(rec.spec.redisEnterpriseImageSpec?.versionTag, TO);
  assert.equal(rec.metadata.generation, r.generation + 1, 'the REC spec was written exactly once');
  assert.deepEqual(recOp.rolls, [TO], 'one roll by the Redis operator');
  assert.deepEqual(recOp.released, ['rec-2', 'rec-1', 'rec-0']);
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
  // Baton's own hand-over ran for the first pod (rec-2 = node 3 holds a primary), before the roll.
  const posts = c.requests.filter((q) => q.startsWith('POST'));
  assert.equal(
    posts.find((q) => /maintenance_on$/.test(q)),
    'POST /v1/nodes/3/actions/maintenance_on',
  );
  assert.deepEqual(Object.values(await podImages(env, 'rec')), Array(3).fill(`${IMAGE}:${TO}`));
  const sts = await env.apps.readNamespacedStatefulSet({ namespace: env.ns, name: 'rec' });
  assert.equal(sts.metadata?.annotations?.[ORIGINAL_STRATEGY_ANNOTATION], undefined, 'never frozen');
  assert.equal(rec.metadata.annotations?.[PAUSED_BY_ANNOTATION], undefined, 'released');
  assert.equal(rec.status?.state, 'Running');
  const writes = env.server
    .requests()
    .entries.filter((e) => ['update', 'patch', 'delete'].includes(e.verb))
    .filter((e) => ['statefulsets', 'pods'].includes(e.resource));
  assert.deepEqual(writes, [], 'Baton wrote neither the StatefulSet nor a pod');
  // Baton's only writes of the REC: the mark, the versionTag, the release (none repeated; a patch
  // refused with 409 because the operator wrote the status meanwhile wrote nothing).
  const recPatches = env.server
    .requests()
    .entries.filter((e) => e.verb === 'patch' && e.resource === REC.plural && e.status < 300);
  assert.equal(recPatches.length, 3, 'the REC patched three times: marked, versionTag set, released');
}

describe('redis-enterprise through a RedisEnterpriseCluster reference', () => {
  it('baton apply --cluster-ref RedisEnterpriseCluster/rec: plan shown, versionTag set once, the operator roll gated pod by pod, Completed', async (t) => {
    const r = await recCluster(t);
    const { env, pods } = r;
    const cli = await kubeCli(t, env.server);
    const endpoints = Object.entries(pods.endpoints()).flatMap(([pod, ep]) => ['--endpoint', `${pod}=${ep}`]);
    const common = ['--engine', 'redis-enterprise', '--cluster-ref', 'RedisEnterpriseCluster/rec'];
    const plan = await cli('plan', ...common, '--to', TO, ...endpoints, '--credentials-secret', 'rec-admin');
    assert.equal(plan.code, 0, plan.err + plan.out);
    const at = (s: string) => plan.out.indexOf(s);
    assert.ok(at('rec-2') >= 0 && at('rec-2') < at('rec-1') && at('rec-1') < at('rec-0'), plan.out);
    assert.match(plan.out, /spec\.redisEnterpriseImageSpec\.versionTag|RedisEnterpriseCluster rec/);
    env.server.resetRequests();

    const run = await cli(
      'apply',
      ...common,
      '--name',
      'rec-cli',
      '--to',
      TO,
      ...endpoints,
      '--credentials-secret',
      'rec-admin',
    );
    assert.equal(run.code, 0, run.err + run.out);
    assert.match(run.out, /precheck statefulset-owner: ok/);
    assert.match(run.out, /precheck rec-owner: ok/);
    assert.match(run.out, /Completed/);
    await assertRolledThroughRec(r);
    const done = await getUpgrade(env, 'rec-cli');
    const events = await env.core.listNamespacedEvent({ namespace: env.ns });
    const set = events.items
      .filter((e) => e.reason === 'OwnerVersionSet' && e.involvedObject.kind === 'Upgrade')
      .map((e) => e.message);
    assert.deepEqual(set, [
      `RedisEnterpriseCluster rec: spec.redisEnterpriseImageSpec.versionTag ${FROM} -> ${TO}; the Redis operator now rolls its pods one at a time, Baton gates each`,
    ]);
    const owner = done.status?.prechecks?.find((p) => p.name === OWNER_PRECHECK);
    assert.match(owner?.reason ?? '', /^RedisEnterpriseCluster rec reconciles rec and has no pause/);
  });

  it("a node whose shards never sync after its restart: the upgrade pauses with that cause (the operator's roll is not Baton's to stop)", async (t) => {
    const r = await recCluster(t);
    const { env, pods } = r;
    // rec-1 (node 2) comes back on the new software but its shards never finish syncing.
    pods.cluster.syncMsOf = (uid) => (uid === 2 ? 3_600_000 : 150);
    const op = makeOperator(t, env);
    await op.start();
    await waitFor('leadership', () => op.isLeader());
    await upgradeRec(env, pods, 'rec-up', { strategy: { timeouts: { ready: '8s' } } });
    const done = await ended(env, 'rec-up');
    const history = historyOf(done);
    assert.equal(done.status?.phase, 'Paused', `${done.status?.reason}\n${history.join('\n')}`);
    assert.match(
      done.status?.pauseCause ?? '',
      /^rec-1 not ready on 7\.4\.6-22 after .*shard\(s\) not in sync/,
    );
    assert.equal(done.status?.members?.['rec-2']?.state, 'done', 'rec-2 was gated through first');
    assert.equal((await readRec(env)).metadata.generation, r.generation + 1, 'versionTag written once');
  });

  it("Baton's operator killed mid-roll is replaced and finishes: the REC spec written once", async (t) => {
    const r = await recCluster(t);
    const { env, pods } = r;
    const a = makeOperator(t, env, { identity: 'op-a' });
    await a.start();
    await waitFor('op-a to lead', () => a.isLeader());
    env.server.resetRequests();
    await upgradeRec(env, pods, 'rec-up');
    await waitUpgrade(env, 'rec-up', 'one member done', (u) => (u.status?.progress?.done ?? 0) >= 1, 60_000);
    await a.kill();
    const mid = await getUpgrade(env, 'rec-up');
    assert.ok(!ENDED.includes(mid.status?.phase ?? ''), `killed mid-roll (${mid.status?.phase})`);
    const b = makeOperator(t, env, { identity: 'op-b' });
    await b.start();
    const done = await ended(env, 'rec-up');
    assert.equal(done.status?.phase, 'Completed', `${done.status?.reason}\n${historyOf(done).join('\n')}`);
    await assertRolledThroughRec(r);
  });
});
