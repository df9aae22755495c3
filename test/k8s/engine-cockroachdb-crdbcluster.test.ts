/**
 * A CrdbCluster reference on the real control plane: the CrdbCluster CRD (the real operator's
 * schema fields), a CrdbCluster whose StatefulSet it controls, pods backed by the CockroachDB double,
 * and a stand-in for the CockroachDB operator that makes the real operator's decisions
 * (test/cockroachdb/crdb-operator.ts: version check, its own partitioned update, deploy). First the
 * stand-in is shown to undo what it would undo (the seed's `kubectl patch statefulset` habit on its
 * StatefulSet: image back, partition gone); then Baton's operator rolls the cluster through the
 * reference with the cockroachdb engine, pointing the CrdbCluster at the new image before the
 * StatefulSet changes: every pod drained and replaced by Baton, the stand-in neither rolling by
 * itself nor reverting anything, and the CrdbCluster released naming what runs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1StatefulSet } from '@kubernetes/client-node';
import { JSON_PATCH } from '../../src/api/client.js';
import { PRESERVE_DOWNGRADE_OPTION } from '../../src/engines/cockroachdb/sql.js';
import {
  CRDB_CLUSTER,
  OWNER_PRECHECK,
  PAUSED_BY_ANNOTATION,
} from '../../src/platforms/kubernetes/cluster-ref.js';
import { CRDB_IMAGE_ANNOTATION, CRDB_VERSION_ANNOTATION } from '../../src/platforms/kubernetes/crdb-ref.js';
import { ORIGINAL_STRATEGY_ANNOTATION } from '../../src/platforms/kubernetes/custody.js';
import { type CrdbObject, installCrdbClusterCrd, startCrdbOperator } from '../cockroachdb/crdb-operator.js';
import { startCockroachPods } from '../cockroachdb/pods.js';
import { waitFor } from '../kube/helpers.js';
import { historyOf } from './engine-etcd-fixtures.js';
import {
  createSettled,
  createUpgrade,
  makeOperator,
  podImages,
  setup,
  statefulSet,
  waitUpgrade,
  type Cleanup,
} from './operator-fixtures.js';
import { kubeCli } from './cli-fixture.js';

const IMAGE = 'cockroachdb/cockroach';
const FROM = `${IMAGE}:v23.2.5`;
const TO = `${IMAGE}:v24.1.3`;
const ENDED = ['Completed', 'Failed', 'Paused', 'AwaitingFinalization'];

/**
 * deploy/ applied, the CrdbCluster CRD, CrdbCluster `crdb` (`spec.image.name` v23.2.5) controlling
 * StatefulSet `crdb` (3 double pods, the operator's annotations), and the stand-in operator, its
 * first version check done.
 */
async function crdbClusterOnPods(t: Cleanup) {
  const env = await setup(t);
  await installCrdbClusterCrd(env.server);
  const ref = {
    group: CRDB_CLUSTER.group,
    version: CRDB_CLUSTER.version,
    plural: CRDB_CLUSTER.plural,
    namespace: env.ns,
  };
  const cr = (await env.custom.createNamespacedCustomObject({
    ...ref,
    body: {
      apiVersion: `${CRDB_CLUSTER.group}/${CRDB_CLUSTER.version}`,
      kind: CRDB_CLUSTER.kind,
      metadata: { name: 'crdb' },
      spec: { nodes: 3, image: { name: FROM } },
    },
  })) as CrdbObject;
  const pods = await startCockroachPods(t, env.server, {
    statefulSet: 'crdb',
    nodes: 3,
    version: '23.2.5',
    ranges: 18,
  });
  const body: V1StatefulSet = statefulSet('crdb', 3, { image: FROM });
  body.metadata!.annotations = { [CRDB_VERSION_ANNOTATION]: 'v23.2.5', [CRDB_IMAGE_ANNOTATION]: FROM };
  body.metadata!.ownerReferences = [
    {
      apiVersion: `${CRDB_CLUSTER.group}/${CRDB_CLUSTER.version}`,
      kind: CRDB_CLUSTER.kind,
      name: 'crdb',
      uid: cr.metadata.uid!,
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
  await createSettled(env, body);
  const c = pods.double.cluster;
  await waitFor('every node live', () => c.nodes.every((n) => c.isLive(n)));
  const crdbOp = startCrdbOperator(t, env.server, env.kc, 'crdb');
  await waitFor('the version check of the first image', () => crdbOp.versionChecks.length === 1, 10_000);

  return { env, ref, pods, c, crdbOp };
}

describe('cockroachdb through a CrdbCluster reference', () => {
  it("Baton's operator rolls the CrdbCluster's StatefulSet; the CockroachDB operator (stand-in) finds nothing to undo nor to roll itself", async (t) => {
    const { env, ref, pods, c, crdbOp } = await crdbClusterOnPods(t);

    // The stand-in is not a bystander: a bare template change on its StatefulSet (the seed's
    // `kubectl patch statefulset` habit), even frozen, is undone: image back, partition gone.
    await env.apps.patchNamespacedStatefulSet(
      {
        namespace: env.ns,
        name: 'crdb',
        body: [
          { op: 'replace', path: '/spec/updateStrategy/rollingUpdate/partition', value: 3 },
          { op: 'replace', path: '/spec/template/spec/containers/0/image', value: TO },
        ],
      },
      JSON_PATCH,
    );
    await waitFor(
      'the stand-in to deploy its own StatefulSet',
      () => crdbOp.deploys.includes('image'),
      10_000,
    );
    const reverted = await env.apps.readNamespacedStatefulSet({ namespace: env.ns, name: 'crdb' });
    assert.equal(reverted.spec?.template.spec?.containers[0]?.image, FROM);
    assert.equal(reverted.spec?.updateStrategy?.rollingUpdate?.partition ?? 0, 0, 'partition gone');
    await waitFor('the StatefulSet settled back', async () => {
      const s = await env.apps.readNamespacedStatefulSet({ namespace: env.ns, name: 'crdb' });
      return s.status?.currentRevision === s.status?.updateRevision && s.status?.readyReplicas === 3;
    });
    assert.deepEqual(pods.stopOrder(), [], 'no pod moved meanwhile');
    crdbOp.deploys.length = 0;

    const op = makeOperator(t, env);
    await op.start();
    await waitFor('leadership', () => op.isLeader());
    await createUpgrade(env, 'crdb-up', {
      target: { cluster: { kind: 'CrdbCluster', name: 'crdb' }, endpoints: pods.endpoints() },
      engine: 'cockroachdb',
      version: 'v24.1.3',
      finalize: 'auto',
    });
    const done = await waitUpgrade(
      env,
      'crdb-up',
      'ended',
      (u) => ENDED.includes(u.status?.phase ?? ''),
      120_000,
    );
    const history = historyOf(done);
    assert.equal(done.status?.phase, 'Completed', `${done.status?.reason}\n${history.join('\n')}`);
    const owner = done.status?.prechecks?.find((p) => p.name === OWNER_PRECHECK);
    assert.equal(owner?.ok, true, owner?.reason);
    assert.match(owner!.reason, /CrdbCluster crdb reconciles crdb and has no pause: Baton takes custody/);

    // Baton replaced every pod, drained first, highest ordinal first; the stand-in did nothing.
    assert.deepEqual(pods.stopOrder(), ['crdb-2', 'crdb-1', 'crdb-0']);
    for (const s of pods.stops) {
      assert.equal(s.draining, true, `${s.pod} drained before its pod went`);
      assert.equal(s.leases, 0, `${s.pod} held no lease when its pod went`);
    }
    assert.deepEqual(crdbOp.ownRolls, [], 'the CockroachDB operator never rolled by itself');
    assert.deepEqual(crdbOp.deploys, [], 'nor reverted the StatefulSet');
    assert.deepEqual(crdbOp.versionChecks, [FROM, TO], 'it checked the new image Baton set');
    assert.deepEqual(Object.values(await podImages(env, 'crdb')), Array(3).fill(TO));
    assert.deepEqual(
      c.statements.filter((s) => /^(SET|RESET) /.test(s)),
      [
        `SET CLUSTER SETTING ${PRESERVE_DOWNGRADE_OPTION} = '23.2'`,
        `RESET CLUSTER SETTING ${PRESERVE_DOWNGRADE_OPTION}`,
      ],
    );
    assert.equal(c.clusterVersionString(), '24.1');

    // Released: the CrdbCluster names what runs, the StatefulSet has its strategy back.
    const after = (await env.custom.getNamespacedCustomObject({ ...ref, name: 'crdb' })) as CrdbObject;
    assert.equal(after.spec.image?.name, TO);
    assert.equal(after.metadata.annotations?.[PAUSED_BY_ANNOTATION], undefined);
    assert.equal(after.metadata.annotations?.[CRDB_VERSION_ANNOTATION], 'v24.1.3');
    const sts = await env.apps.readNamespacedStatefulSet({ namespace: env.ns, name: 'crdb' });
    assert.equal(sts.metadata?.annotations?.[ORIGINAL_STRATEGY_ANNOTATION], undefined);
    assert.equal(sts.metadata?.annotations?.[CRDB_VERSION_ANNOTATION], 'v24.1.3');
    assert.equal(sts.metadata?.annotations?.[CRDB_IMAGE_ANNOTATION], TO);
    assert.equal(sts.spec?.updateStrategy?.rollingUpdate?.partition ?? 0, 0);
    assert.ok(
      history.some((m) => m.includes("CrdbCluster crdb: in Baton's custody")),
      history.join('\n'),
    );
    // And afterwards the stand-in still finds nothing to change.
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual([crdbOp.ownRolls, crdbOp.deploys], [[], []]);
  });
  it('baton apply --cluster-ref CrdbCluster/crdb rolls it from the CLI the same way', async (t) => {
    const { env, ref, pods, c, crdbOp } = await crdbClusterOnPods(t);
    const cli = await kubeCli(t, env.server);
    const endpoints = Object.entries(pods.endpoints()).flatMap(([pod, ep]) => ['--endpoint', `${pod}=${ep}`]);
    const run = await cli(
      'apply',
      '--engine',
      'cockroachdb',
      '--cluster-ref',
      'CrdbCluster/crdb',
      '--name',
      'crdb-cli',
      '--to',
      'v24.1.3',
      '--finalize',
      'auto',
      ...endpoints,
    );
    assert.equal(run.code, 0, run.err + run.out);
    assert.match(run.out, /precheck statefulset-owner: ok/);
    assert.match(run.out, /Completed/);
    assert.deepEqual(pods.stopOrder(), ['crdb-2', 'crdb-1', 'crdb-0']);
    assert.ok(
      pods.stops.every((s) => s.draining && s.leases === 0),
      'each node drained before its pod went',
    );
    assert.deepEqual(
      [crdbOp.ownRolls, crdbOp.deploys],
      [[], []],
      'the stand-in neither rolled nor redeployed',
    );
    assert.deepEqual(crdbOp.versionChecks, [FROM, TO]);
    await waitFor('cluster version 24.1', () => c.clusterVersionString() === '24.1');
    const after = (await env.custom.getNamespacedCustomObject({ ...ref, name: 'crdb' })) as CrdbObject;
    assert.equal(after.spec.image?.name, TO);
    assert.equal(after.metadata.annotations?.[PAUSED_BY_ANNOTATION], undefined);
  });
});
