/**
 * `baton plan|apply --platform kubernetes --cluster-ref KIND/NAME`: the CLI drives a TidbCluster's
 * StatefulSets in TiDB's component order, pausing TiDB Operator for the roll and handing the
 * cluster back; bad references are one line and exit 2 with nothing touched.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import type { OutStream } from '../../src/cli/io.js';
import { nullLogger } from '../../src/core/logger.js';
import { PAUSED_BY_ANNOTATION, type ClusterObject } from '../../src/platforms/kubernetes/cluster-ref.js';
import { NS, podImages, setup, type Env } from './operator-fixtures.js';
import { fastClock } from './platform-fixture.js';
import { tcRef, tidbCluster } from './tidb-fixtures.js';

function capture(): OutStream & { text: () => string } {
  let buf = '';
  return { write: (s) => void (buf += s), isTTY: false, text: () => buf };
}

async function cliOn(t: TestContext, env: Env) {
  const dir = await mkdtemp(join(tmpdir(), 'baton-cli-cluster-ref-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'kubeconfig');
  await env.server.writeKubeconfig(kubeconfig);
  return async (verb: string, ...args: string[]) => {
    const stdout = capture();
    const stderr = capture();
    const code = await main(
      [verb, '--platform', 'kubernetes', '--kubeconfig', kubeconfig, '-n', NS, ...args],
      {
        stdout,
        stderr,
        env: {},
        clock: fastClock,
        logger: nullLogger,
      },
    );
    return { code, out: stdout.text(), err: stderr.text() };
  };
}

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
    const cli = await cliOn(t, env);

    const plan = await cli('plan', '--cluster-ref', 'TidbCluster/basic', '--to', 'v7.5.0');
    assert.equal(plan.code, 0, plan.err);
    const at = (pod: string) => plan.out.indexOf(pod);
    assert.ok(at('basic-pd-2') >= 0 && at('basic-tikv-2') >= 0 && at('basic-tidb-1') >= 0, plan.out);
    assert.ok(at('basic-pd-0') < at('basic-tikv-2') && at('basic-tikv-0') < at('basic-tidb-1'), plan.out);

    const r = await cli('apply', '--cluster-ref', 'TidbCluster/basic', '--to', 'v7.5.0');
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /Completed/);
    for (const c of ['pd', 'tikv', 'tidb'])
      for (const image of Object.values(await podImages(env, `basic-${c}`)))
        assert.equal(image, `pingcap/${c}:v7.5.0`);
    const tc = (await env.custom.getNamespacedCustomObject({ ...tcRef, name: 'basic' })) as ClusterObject;
    assert.equal(tc.spec!.paused, false);
    assert.equal(tc.spec!.version, 'v7.5.0');
    assert.equal(tc.metadata.annotations?.[PAUSED_BY_ANNOTATION], undefined);
  });

  it('bad references are one line, exit 2, and write nothing', async (t) => {
    const env = await setup(t);
    await tidbCluster(env);
    const cli = await cliOn(t, env);
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
    assert.match(ghost.err, /TidbCluster default\/ghost \(spec\.target\.cluster\) not found/);
    for (const err of [malformed.err, both.err, version.err, ghost.err])
      assert.equal(err.trim().split('\n').length, 1, err);
    assert.deepEqual(writes(env), []);
  });
});
