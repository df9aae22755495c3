/**
 * `baton plan|apply --platform kubernetes --cluster-ref KIND/NAME`: the CLI drives a TidbCluster's
 * StatefulSets in TiDB's component order, pausing TiDB Operator for the roll and handing the
 * cluster back; bad references are one line and exit 2 with nothing touched.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kubeCli } from './cli-fixture.js';
import { setup, type Env } from './operator-fixtures.js';
import { assertRolledAndHandedBack, tidbCluster } from './tidb-fixtures.js';

const writes = (env: Env) =>
  env.server
    .requests()
    .entries.filter(
      (e) => ['create', 'update', 'patch', 'delete'].includes(e.verb) && e.resource !== 'events',
    );

describe('baton --platform kubernetes --cluster-ref', () => {
  it('plans and applies an upgrade of a TidbCluster: PD, TiKV, TiDB in order, the cluster handed back', async (t) => {
    const env = await setup(t);
    await tidbCluster(env);
    const cli = await kubeCli(t, env.server);

    const plan = await cli('plan', '--cluster-ref', 'TidbCluster/basic', '--to', 'v7.5.0');
    assert.equal(plan.code, 0, plan.err);
    const at = (pod: string) => plan.out.indexOf(pod);
    assert.ok(at('basic-pd-2') >= 0 && at('basic-tikv-2') >= 0 && at('basic-tidb-1') >= 0, plan.out);
    assert.ok(at('basic-pd-0') < at('basic-tikv-2') && at('basic-tikv-0') < at('basic-tidb-1'), plan.out);

    const r = await cli('apply', '--cluster-ref', 'TidbCluster/basic', '--to', 'v7.5.0');
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /Completed/);
    await assertRolledAndHandedBack(env, 'v7.5.0');
  });

  it('bad references are one line, exit 2, and write nothing', async (t) => {
    const env = await setup(t);
    await tidbCluster(env);
    const cli = await kubeCli(t, env.server);
    env.server.resetRequests();

    const malformed = await cli('apply', '--cluster-ref', 'tidbcluster', '--to', 'v7.5.0');
    assert.equal(malformed.code, 2);
    assert.match(malformed.err, /^error: --cluster-ref tidbcluster: use KIND\/NAME/);
    const both = await cli(
      'apply',
      '--cluster-ref',
      'TidbCluster/basic',
      '--statefulset',
      'basic-pd',
      '--to',
      'v7.5.0',
    );
    assert.equal(both.code, 2);
    assert.match(both.err, /--statefulset and --cluster-ref both name a target/);
    const version = await cli(
      'plan',
      '--cluster-api-version',
      'pingcap.com/v1alpha1',
      '--statefulset',
      'x',
      '--to',
      '1',
    );
    assert.equal(version.code, 2);
    assert.match(version.err, /--cluster-api-version needs --cluster-ref/);
    const ghost = await cli('apply', '--cluster-ref', 'TidbCluster/ghost', '--to', 'v7.5.0');
    assert.equal(ghost.code, 2, ghost.out);
    assert.match(
      ghost.err,
      new RegExp(String.raw`TidbCluster ${env.ns}/ghost \(spec\.target\.cluster\) not found`),
    );
    for (const err of [malformed.err, both.err, version.err, ghost.err])
      assert.equal(err.trim().split('\n').length, 1, err);
    assert.deepEqual(writes(env), []);
  });
});
