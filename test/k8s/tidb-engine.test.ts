/**
 * The TiDB engine on Kubernetes: a TidbCluster (TiDB Operator paused while Baton rolls, ADR 0004)
 * whose PD x3, TiKV x3 and TiDB x2 StatefulSets run on the real control plane, their pods backed by
 * the TiDB cluster double (test/tidb/pods.ts: PD's HTTP API, TiKV's status port, TiDB's status
 * and SQL ports per pod, the version the image tag names). Rolled by the operator under deploy/
 * RBAC (killed mid-roll and replaced) and by the CLI: PD's leader transferred before its pod goes, each TiKV
 * pod deleted only once PD's evict-leader scheduler emptied it and the scheduler removed after,
 * smooth upgrade or the DDL gate around the TiDB tier, the cluster handed back at the end; the
 * TidbCluster's `tidb.pingcap.com/force-upgrade` annotation read through the composition root and
 * warned about (status, Warning condition, Event, `baton status`) while PD is available, and
 * letting the CLI replace crashing PD pods while PD has no quorum.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CoreV1Event } from '@kubernetes/client-node';
import { FORCE_UPGRADE_ANNOTATION } from '../../src/engines/tidb/engine.js';
import { waitFor } from '../kube/helpers.js';
import { QUICK_TIMING } from '../tidb/model.js';
import { startTidbPods, type TidbPods } from '../tidb/pods.js';
import { kubeCli } from './cli-fixture.js';
import { historyOf } from './engine-etcd-fixtures.js';
import {
  createUpgrade,
  getUpgrade,
  makeOperator,
  setup,
  waitUpgrade,
  type Cleanup,
  type Env,
} from './operator-fixtures.js';
import { assertRolledAndHandedBack, tcRef, tidbCluster } from './tidb-fixtures.js';

const ENDED = ['Completed', 'Failed', 'Paused'];
const PD = ['basic-pd-0', 'basic-pd-1', 'basic-pd-2'];
const TIKV = ['basic-tikv-0', 'basic-tikv-1', 'basic-tikv-2'];
const TIDB = ['basic-tidb-0', 'basic-tidb-1'];

/** deploy/ applied, the TidbCluster `basic` at `version` whose pods are double members, formed. */
async function tidbOnPods(
  t: Cleanup,
  version: string,
  annotations?: Record<string, string>,
): Promise<{ env: Env; pods: TidbPods }> {
  const env = await setup(t);
  const pods = await startTidbPods(t, env.server, {
    prefix: 'basic-',
    version,
    pd: 3,
    tikv: 3,
    tidb: 2,
    // 660 regions: 220 leaders per store, above TiDB Operator's 200, so leaders must come back.
    timing: QUICK_TIMING,
  });
  await tidbCluster(env, { version, ...(annotations ? { annotations } : {}) });
  await pods.double.formed(30_000);
  return { env, pods };
}

/** Each member restarted once on `version`, every store empty when its pod went, no scheduler left. */
function assertCleanRoll(pods: TidbPods, version: string, leaderBefore: string): void {
  const c = pods.double;
  const m = c.model;
  for (const name of [...PD, ...TIKV, ...TIDB]) {
    assert.equal(m.counters.restarts[name], 1, `${name} restarted once`);
    assert.equal(c.versionOf(name), version);
  }
  const order = m.counters.restartLog.map((r) => r.name.replace(/-\d+$/, ''));
  assert.deepEqual([...new Set(order)], ['basic-pd', 'basic-tikv', 'basic-tidb'], 'PD, then TiKV, then TiDB');
  // A StatefulSet rolls its pods from the highest ordinal down, as TiDB Operator's pd_upgrader
  // does: the leader's pod goes in its turn, once PD moved the leadership to a follower.
  const pdStops = m.counters.restartLog.filter((r) => PD.includes(r.name));
  for (const r of pdStops)
    assert.notEqual(r.pdLeader, r.name, `${r.name} was not PD's leader when its pod went`);
  assert.equal(m.counters.pdTransfers.length, 1, `one leader transfer, away from ${leaderBefore}`);
  for (const s of m.stores) {
    assert.equal(m.counters.leadersAtStop[s.name], 0, `${s.name} held no leader when its pod went`);
    assert.equal(m.counters.evictAdds[s.id], 1, `${s.name} evicted once`);
    assert.equal(m.counters.evictRemovals[s.id], 1, `${s.name} left the scheduler once`);
  }
  assert.deepEqual([...m.evictStores], [], 'no store left in the evict-leader scheduler');
}

describe('tidb on pods', () => {
  it('the operator rolls a TidbCluster v7.5.0 -> v8.1.1 with the TiDB engine, killed mid-roll and replaced: PD leader transferred before its pod, leaders evicted and back, smooth upgrade, cluster handed back', async (t) => {
    const { env, pods } = await tidbOnPods(t, 'v7.5.0');
    const leaderBefore = pods.double.model.pdLeader as string;
    const a = makeOperator(t, env, { identity: 'op-a' });
    await a.start();
    await waitFor('op-a to lead', () => a.isLeader());
    await createUpgrade(env, 'tidb-up', {
      target: { cluster: { kind: 'TidbCluster', name: 'basic' }, endpoints: pods.endpoints() },
      engine: 'tidb',
      version: 'v8.1.1',
    });
    // Killed once the first TiKV pod is back: mid-roll, after a drain and a restore.
    await waitUpgrade(env, 'tidb-up', 'a store restored', (u) =>
      TIKV.some((n) => u.status?.members?.[n]?.restoredAt !== undefined),
    );
    await a.kill();
    const mid = await getUpgrade(env, 'tidb-up');
    assert.ok(!ENDED.includes(mid.status?.phase ?? ''), `killed mid-roll (${mid.status?.phase})`);
    const b = makeOperator(t, env, { identity: 'op-b' });
    await b.start();
    const done = await waitUpgrade(
      env,
      'tidb-up',
      'ended',
      (u) => ENDED.includes(u.status?.phase ?? ''),
      180_000,
    );
    const history = historyOf(done);
    assert.equal(done.status?.phase, 'Completed', `${done.status?.reason}\n${history.join('\n')}`);
    for (const [name, p] of Object.entries(done.status!.members!))
      assert.equal(p.replaceCalls, 1, `${name} replaced exactly once across the takeover`);

    assertCleanRoll(pods, 'v8.1.1', leaderBefore);
    const m = pods.double.model;
    assert.equal(m.counters.upgradeStart, 1, 'smooth upgrade started once');
    assert.equal(m.counters.upgradeFinish, 1, 'and finished once');
    assert.equal(m.upgrading, false);
    for (const name of TIKV)
      assert.ok(
        history.some((h) => h.includes(`${name} leads `)),
        `${name}: leaders came back\n${history.join('\n')}`,
      );
    await assertRolledAndHandedBack(env, 'v8.1.1');
    assert.equal(done.status?.warnings, undefined, 'no warning without force');
  });

  it('baton apply --cluster-ref TidbCluster/basic --engine tidb: DDL gate before the TiDB tier; the force-upgrade annotation is read and warned about until it is removed', async (t) => {
    const { env, pods } = await tidbOnPods(t, 'v6.5.2', { [FORCE_UPGRADE_ANNOTATION]: 'true' });
    const leaderBefore = pods.double.model.pdLeader as string;
    const cli = await kubeCli(t, env.server);
    const endpoints = Object.entries(pods.endpoints()).flatMap(([pod, ep]) => ['--endpoint', `${pod}=${ep}`]);
    const target = ['--cluster-ref', 'TidbCluster/basic', '--engine', 'tidb', '--name', 'tc-up'];

    const r = await cli('apply', ...target, '--to', 'v6.5.3', ...endpoints);
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /no DDL job running or queued before the TiDB tier/);
    assert.match(r.out, /Completed/);
    assertCleanRoll(pods, 'v6.5.3', leaderBefore);
    assert.equal(pods.double.model.counters.upgradeStart, 0, 'no smooth upgrade before v7.1');
    await assertRolledAndHandedBack(env, 'v6.5.3');

    const how = `kubectl annotate tc basic -n ${env.ns} ${FORCE_UPGRADE_ANNOTATION}-`;
    const u = await getUpgrade(env, 'tc-up');
    assert.equal(u.status?.warnings?.length, 1, historyOf(u).join('\n'));
    assert.ok(u.status!.warnings![0]!.includes(how), u.status!.warnings![0]);
    const cond = u.status?.conditions?.find((c) => c.type === 'Warning');
    assert.deepEqual([cond?.status, cond?.reason], ['True', 'EngineWarning']);
    const events = await waitFor('the EngineWarning Event', async () => {
      const list = await env.core.listNamespacedEvent({ namespace: env.ns });
      const found = list.items.filter((e: CoreV1Event) => e.reason === 'EngineWarning');
      return found.length > 0 ? found : undefined;
    });
    assert.equal(events[0]!.type, 'Warning');
    assert.ok(events[0]!.message!.includes(how));

    const shown = await cli('status', '--name', 'tc-up', ...endpoints);
    assert.equal(shown.code, 0, shown.err);
    assert.match(
      shown.out,
      /Warning: +PD is available again but force-upgrade is still set: you must remove it/,
    );

    // Removed: `baton status` observes the cluster again and says nothing more.
    await env.custom.patchNamespacedCustomObject({
      ...tcRef(env),
      name: 'basic',
      body: [{ op: 'remove', path: '/metadata/annotations/tidb.pingcap.com~1force-upgrade' }],
    });
    const after = await cli('status', '--name', 'tc-up', ...endpoints);
    assert.equal(after.code, 0, after.err);
    assert.doesNotMatch(after.out, /Warning:/);
  });

  it('with PD down (every PD pod crashing), the force-upgrade annotation lets the CLI replace the PD pods and bring PD back, then warns', async (t) => {
    const { env, pods } = await tidbOnPods(t, 'v8.1.0', { [FORCE_UPGRADE_ANNOTATION]: 'true' });
    const c = pods.double;
    // A bad v8.1.0 PD: its pods, deleted, come back crashing at start; PD has no quorum.
    c.brokenPdVersions.add('v8.1.0');
    await env.core.deleteCollectionNamespacedPod({ namespace: env.ns, labelSelector: 'app=basic-pd' });
    await waitFor('PD down', () => !c.model.pdServing() && PD.every((n) => !c.isUp(n)), 30_000);
    const cli = await kubeCli(t, env.server);
    const endpoints = Object.entries(pods.endpoints()).flatMap(([pod, ep]) => ['--endpoint', `${pod}=${ep}`]);

    const r = await cli(
      'apply',
      '--cluster-ref',
      'TidbCluster/basic',
      '--engine',
      'tidb',
      '--name',
      'fix-up',
      '--to',
      'v8.1.1',
      ...endpoints,
    );
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /Completed/);
    assert.ok(c.model.pdServing(), 'PD is back');
    for (const name of [...PD, ...TIKV, ...TIDB]) assert.equal(c.versionOf(name), 'v8.1.1', name);
    const u = await getUpgrade(env, 'fix-up');
    assert.deepEqual(u.status?.forced, ['pd-available'], 'forced by the annotation, without --force');
    assert.ok(
      u.status?.prechecks?.some((p) => p.name === 'pd-available' && !p.ok && p.forced === true),
      JSON.stringify(u.status?.prechecks),
    );
    assert.match(
      u.status?.warnings?.[0] ?? '',
      /PD is available again but force-upgrade is still set: you must remove it/,
    );
    await assertRolledAndHandedBack(env, 'v8.1.1');
  });
});
