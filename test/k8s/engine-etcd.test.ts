/**
 * The etcd engine on Kubernetes pods: a 3-pod StatefulSet on the fake API server whose pods run
 * real etcd processes (test/kube/etcd-pods.ts), upgraded by the operator while a writer writes,
 * by the CLI, and with credentials from a Secret that must never show up in status, Events or
 * logs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import { Probe, createProbeClient } from '../../src/probe/index.js';
import { etcdPodsFixture, historyOf, stopOrder } from './engine-etcd-fixtures.js';
import { createUpgrade, makeOperator, waitUpgrade } from './operator-fixtures.js';
import { waitFor } from '../kube/helpers.js';

const ENDED = ['Completed', 'Failed', 'Paused'];

describe('etcd on pods', () => {
  it('the operator upgrades 3 etcd pods under writes: highest ordinal first, leadership moved off each leader before its pod goes, no acknowledged write lost', async (t) => {
    const { env, pods } = await etcdPodsFixture(t, 'etcd');
    const probe = new Probe({
      client: createProbeClient('etcd', {
        endpoints: () => Promise.resolve(Object.values(pods.endpoints())),
        logger: nullLogger,
      }),
      clock: systemClock,
      logger: nullLogger,
    });
    await probe.start();
    t.after(() => probe.stop().catch(() => undefined));

    const op = makeOperator(t, env);
    await op.start();
    await waitFor('leadership', () => op.isLeader());
    await createUpgrade(env, 'etcd-up', {
      target: { statefulSet: 'etcd', endpoints: pods.endpoints() },
      engine: 'etcd',
      version: '3.4.23',
    });
    const done = await waitUpgrade(
      env,
      'etcd-up',
      'ended',
      (u) => ENDED.includes(u.status?.phase ?? ''),
      120_000,
    );
    const report = await probe.stop();
    assert.equal(done.status?.phase, 'Completed', `${done.status?.reason}\n${historyOf(done).join('\n')}`);
    assert.equal(done.status?.progressText, '3/3');

    assert.deepEqual(
      stopOrder(pods),
      ['etcd-2', 'etcd-1', 'etcd-0'],
      'every pod replaced once, highest ordinal first',
    );
    const leaderStops = pods.events.filter((e) => e.kind === 'stop' && e.wasLeader).map((e) => e.pod);
    assert.deepEqual(leaderStops, [], 'no pod was deleted while its etcd member led');
    const history = historyOf(done);
    assert.ok(
      history.some((m) => /moved etcd leadership from etcd-\d to etcd-\d/.test(m)),
      `leadership was moved before the leader's pod went:\n${history.join('\n')}`,
    );
    const restarted = pods.events.filter((e) => e.kind === 'start').slice(3);
    assert.deepEqual(
      restarted.map((e) => [e.pod, e.version]),
      [
        ['etcd-2', '3.4.23'],
        ['etcd-1', '3.4.23'],
        ['etcd-0', '3.4.23'],
      ],
    );

    assert.ok(report.acknowledgedWrites > 0, 'the writer wrote during the upgrade');
    assert.equal(report.lostWrites, 0, `lost: ${JSON.stringify(report.lost)}`);
    assert.equal(report.unverifiedWrites, 0);
    assert.equal(report.readMismatches, 0);
  });
});
