/**
 * The CockroachDB engine on Kubernetes pods: a 3-pod StatefulSet on the real control plane whose
 * pods are backed by the CockroachDB double (test/cockroachdb/pods.ts: pgwire, HTTP and gRPC
 * Admin/Drain per pod, the binary the image tag names), rolled by the operator under deploy/ RBAC
 * and by the CLI: `cluster.preserve_downgrade_option` set before the major, every node drained
 * through the Admin API before its pod goes, finalization at the end, a killed operator replaced
 * mid-roll, manual finalization and the refused rollback after it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BatchV1Api } from '@kubernetes/client-node';
import type { UpgradeResource } from '../../src/api/upgrade.js';
import { PRESERVE_DOWNGRADE_OPTION } from '../../src/engines/cockroachdb/sql.js';
import { startCockroachPods, type CockroachPods } from '../cockroachdb/pods.js';
import { waitFor } from '../kube/helpers.js';
import { kubeCli } from './cli-fixture.js';
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

const FROM = 'v23.2.5';
const TO = 'v24.1.3';
const IMAGE = 'cockroachdb/cockroach';
const SET = `SET CLUSTER SETTING ${PRESERVE_DOWNGRADE_OPTION} = '23.2'`;
const RESET = `RESET CLUSTER SETTING ${PRESERVE_DOWNGRADE_OPTION}`;
const ENDED = ['Completed', 'Failed', 'Paused', 'AwaitingFinalization'];

/** deploy/ applied, a settled 3-pod StatefulSet `name` at v23.2.5 whose pods are double nodes. */
async function crdbOnPods(t: Cleanup, name: string): Promise<{ env: Env; pods: CockroachPods }> {
  const env = await setup(t);
  const pods = await startCockroachPods(t, env.server, {
    statefulSet: name,
    nodes: 3,
    version: FROM.slice(1),
    ranges: 18,
  });
  await createSettled(env, statefulSet(name, 3, { image: `${IMAGE}:${FROM}` }));
  await waitFor('every node live', () =>
    pods.double.cluster.nodes.every((n) => pods.double.cluster.isLive(n)),
  );
  return { env, pods };
}

function ended(env: Env, name: string, timeoutMs = 120_000): Promise<UpgradeResource> {
  return waitUpgrade(env, name, 'ended', (u) => ENDED.includes(u.status?.phase ?? ''), timeoutMs);
}

/** Every pod went only after the Admin API's Drain: draining, no lease left; one drain per node at least. */
function assertDrainedBeforeEachStop(pods: CockroachPods, order: string[]): void {
  assert.deepEqual(pods.stopOrder(), order, 'every pod replaced once, highest ordinal first');
  for (const s of pods.stops) {
    assert.equal(s.draining, true, `${s.pod} was draining when its pod went`);
    assert.equal(s.leases, 0, `${s.pod} held no range lease when its pod went`);
  }
  for (const n of pods.double.cluster.nodes)
    assert.ok((pods.double.cluster.drains.get(n.id) ?? 0) >= 1, `node ${n.id} got Drain calls`);
}

describe('cockroachdb on pods', () => {
  it('the operator rolls a 23.2 -> 24.1 major: option set first, each node drained through the Admin API before its pod goes, finalized at the end; the Helm init Job left alone', async (t) => {
    const { env, pods } = await crdbOnPods(t, 'crdb');
    // The Helm chart's one-time `cockroach init` Job: Baton never touches it.
    const batch = env.kc.makeApiClient(BatchV1Api);
    const job = await batch.createNamespacedJob({
      namespace: env.ns,
      body: {
        metadata: { name: 'crdb-init' },
        spec: {
          template: {
            spec: {
              restartPolicy: 'OnFailure',
              containers: [{ name: 'cluster-init', image: `${IMAGE}:${FROM}` }],
            },
          },
        },
      },
    });
    const op = makeOperator(t, env);
    await op.start();
    await waitFor('leadership', () => op.isLeader());
    await createUpgrade(env, 'crdb-up', {
      target: { statefulSet: 'crdb', endpoints: pods.endpoints() },
      engine: 'cockroachdb',
      version: TO,
      finalize: 'auto',
    });
    const done = await ended(env, 'crdb-up');
    const history = historyOf(done);
    assert.equal(done.status?.phase, 'Completed', `${done.status?.reason}\n${history.join('\n')}`);
    assert.equal(done.status?.reason, 'upgrade finalized: rollback is no longer possible');

    assertDrainedBeforeEachStop(pods, ['crdb-2', 'crdb-1', 'crdb-0']);
    const c = pods.double.cluster;
    assert.deepEqual(
      c.nodes.map((n) => n.binary),
      ['24.1.3', '24.1.3', '24.1.3'],
      'every node runs the new binary',
    );
    assert.deepEqual(Object.values(await podImages(env, 'crdb')), Array(3).fill(`${IMAGE}:${TO}`));
    // The option was set from the version the cluster reported before the first pod went; reset
    // once every pod ran the new binary; the cluster version then reached the new major.
    const settings = c.statements.filter((s) => !s.startsWith('SHOW'));
    assert.deepEqual(settings, [SET, RESET], c.statements.join('\n'));
    assert.equal(c.clusterVersionString(), '24.1');
    assert.equal(c.preserveDowngrade, '');
    assert.equal(history.filter((m) => /\bdrained crdb-\d/.test(m)).length, 3, history.join('\n'));

    const after = await batch.readNamespacedJob({ namespace: env.ns, name: 'crdb-init' });
    assert.equal(after.metadata?.uid, job.metadata?.uid, 'the init Job was neither deleted nor recreated');
    assert.equal(after.spec?.template.spec?.containers[0]?.image, `${IMAGE}:${FROM}`, 'nor edited');
  });

  it('an operator killed mid-roll is replaced; manual finalization waits for `baton finalize`, then a rollback is refused', async (t) => {
    const { env, pods } = await crdbOnPods(t, 'db');
    const a = makeOperator(t, env, { identity: 'op-a' });
    await a.start();
    await waitFor('op-a to lead', () => a.isLeader());
    await createUpgrade(env, 'db-up', {
      target: { statefulSet: 'db', endpoints: pods.endpoints() },
      engine: 'cockroachdb',
      version: TO,
      finalize: 'manual',
    });
    await waitUpgrade(env, 'db-up', 'one member done', (u) => (u.status?.progress?.done ?? 0) >= 1, 60_000);
    await a.kill();
    const mid = await getUpgrade(env, 'db-up');
    assert.ok(
      ENDED.every((p) => p !== mid.status?.phase),
      `killed mid-roll (${mid.status?.phase})`,
    );

    const b = makeOperator(t, env, { identity: 'op-b' });
    await b.start();
    const waiting = await ended(env, 'db-up');
    const history = historyOf(waiting);
    assert.equal(
      waiting.status?.phase,
      'AwaitingFinalization',
      `${waiting.status?.reason}\n${history.join('\n')}`,
    );
    for (const [name, m] of Object.entries(waiting.status!.members!))
      assert.equal(m.replaceCalls, 1, `${name} replaced exactly once across the takeover`);
    assertDrainedBeforeEachStop(pods, ['db-2', 'db-1', 'db-0']);
    const c = pods.double.cluster;
    // Not finalized: still reversible, the cluster version held at the old major.
    assert.equal(c.preserveDowngrade, '23.2');
    assert.equal(c.clusterVersionString(), '23.2');
    assert.ok(!c.statements.includes(RESET));

    const cli = await kubeCli(t, env.server);
    const fin = await cli('finalize', '--name', 'db-up', '--detach');
    assert.equal(fin.code, 0, fin.err + fin.out);
    const done = await waitUpgrade(env, 'db-up', 'finalized', (u) =>
      ['Completed', 'Failed', 'Paused'].includes(u.status?.phase ?? ''),
    );
    assert.equal(done.status?.phase, 'Completed', done.status?.reason);
    assert.equal(c.preserveDowngrade, '');
    await waitFor('cluster version 24.1', () => c.clusterVersionString() === '24.1');

    const back = await cli('rollback', '--name', 'db-up', '--detach');
    assert.equal(back.code, 2, back.out + back.err);
    assert.match(back.err, /finalized: rollback is no longer possible/);
    assert.deepEqual(pods.stopOrder(), ['db-2', 'db-1', 'db-0'], 'nothing rolled back');
  });

  it('baton apply --platform kubernetes --engine cockroachdb rolls the pods through named per-pod addresses; plan shows the hops of a two-major jump', async (t) => {
    const { env, pods } = await crdbOnPods(t, 'kv');
    const cli = await kubeCli(t, env.server);
    const endpoints = Object.entries(pods.endpoints()).flatMap(([pod, ep]) => ['--endpoint', `${pod}=${ep}`]);
    const target = ['--engine', 'cockroachdb', '--statefulset', 'kv', '--name', 'kv-up'];

    const plan = await cli('plan', ...target, '--to', 'v25.2.0', ...endpoints);
    assert.equal(plan.code, 0, plan.err + plan.out);
    // One major at a time (the Innovation releases 24.2 and 25.1 skipped), each hop finalized.
    assert.match(plan.out, /Version path \(3 hops\)/, plan.out);
    assert.match(plan.out, /v23\.2\.5 -> 24\.1 +\(needs finalization\)/);
    assert.match(plan.out, /24\.1 -> 24\.3 +\(needs finalization\)/);
    assert.match(plan.out, /24\.3 -> v25\.2\.0 +\(needs finalization\)/);

    const driven = await cli('apply', ...target, '--to', TO, '--finalize', 'auto', ...endpoints);
    assert.equal(driven.code, 0, driven.err + driven.out);
    assert.match(driven.out, /precheck all-nodes-live: ok/);
    assert.match(driven.out, /drained kv-2/);
    assert.match(driven.out, /Completed/);
    assertDrainedBeforeEachStop(pods, ['kv-2', 'kv-1', 'kv-0']);
    const c = pods.double.cluster;
    assert.deepEqual(
      c.statements.filter((s) => !s.startsWith('SHOW')),
      [SET, RESET],
    );
    await waitFor('cluster version 24.1', () => c.clusterVersionString() === '24.1');
    const u = await getUpgrade(env, 'kv-up');
    assert.equal(u.status?.phase, 'Completed');
    assert.equal(u.spec.target.endpoints, undefined, 'CLI endpoints are never written into the resource');

    // Finalized: going back to 23.2 is refused before anything moves.
    const down = await cli('apply', ...target, '--name', 'kv-down', '--to', FROM, ...endpoints);
    assert.equal(down.code, 2, down.out + down.err);
    assert.match(down.err, /refusing to downgrade CockroachDB from v24\.1\.3 to v23\.2\.5/);
    assert.deepEqual(pods.stopOrder(), ['kv-2', 'kv-1', 'kv-0'], 'nothing moved');
  });
});
