import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OWNER_PRECHECK } from '../../src/platforms/kubernetes/cluster-ref.js';
import { waitFor } from '../kube/helpers.js';
import { assertRolledAndHandedBack, tidbCluster } from './tidb-fixtures.js';
import { createUpgrade, makeOperator, setup, waitPhase } from './operator-fixtures.js';

describe('operator: spec.target.cluster', () => {
  it('drives an Upgrade of a TidbCluster (engine generic) to Completed and hands the cluster back; a missing one is InvalidSpec', async (t) => {
    const env = await setup(t);
    await tidbCluster(env);
    const op = makeOperator(t, env);
    await op.start();
    await waitFor('leadership', () => op.isLeader());

    await createUpgrade(env, 'tidb-up', {
      target: { cluster: { kind: 'TidbCluster', name: 'basic' } },
      version: 'v7.5.0',
    });
    const done = await waitPhase(env, 'tidb-up', ['Completed', 'Failed', 'Paused']);
    assert.equal(done.status?.phase, 'Completed', done.status?.reason);
    assert.equal(done.status?.progressText, '8/8');
    assert.ok(done.status?.prechecks?.find((p) => p.name === OWNER_PRECHECK)?.ok);
    // generic has no component rules: the cluster's own order (PD, TiKV, TiDB) decides.
    const rolled = (done.status?.history ?? [])
      .map((h) => /^basic-(\w+)-\d+: replacing with/.exec(h.message)?.[1])
      .filter((c): c is string => c !== undefined);
    assert.deepEqual([...new Set(rolled)], ['pd', 'tikv', 'tidb'], rolled.join(' '));
    await assertRolledAndHandedBack(env, 'v7.5.0');

    env.server.resetRequests();
    await createUpgrade(env, 'ghost-up', {
      target: { cluster: { kind: 'TidbCluster', name: 'ghost' } },
      version: 'v7.5.0',
    });
    const bad = await waitPhase(env, 'ghost-up', ['Failed']);
    const ready = bad.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.reason, 'InvalidSpec');
    assert.match(
      ready!.message,
      new RegExp(String.raw`TidbCluster ${env.ns}/ghost \(spec\.target\.cluster\) not found`),
    );
    const writes = env.server
      .requests()
      .entries.filter(
        (e) =>
          ['patch', 'delete'].includes(e.verb) &&
          (e.resource.startsWith('statefulsets') ||
            e.resource.startsWith('pods') ||
            e.resource.startsWith('tidbclusters')),
      );
    assert.deepEqual(writes, []);
  });
});
