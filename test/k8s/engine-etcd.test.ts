/**
 * The etcd engine on Kubernetes pods: a 3-pod StatefulSet on the real control plane whose pods run
 * real etcd processes (test/kube/etcd-pods.ts), upgraded by the operator while a writer writes,
 * by the CLI, and with credentials from a Secret that must never show up in status, Events or
 * logs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { systemClock } from '../../src/core/clock.js';
import { jsonLogger, nullLogger } from '../../src/core/logger.js';
import type { PlatformMember } from '../../src/core/types.js';
import { createPodEngine } from '../../src/wiring/kubernetes.js';
import { kubeCli } from './cli-fixture.js';
import { etcdPodsFixture, historyOf, operatorUpgradeUnderWrites } from './engine-etcd-fixtures.js';
import { createUpgrade, getUpgrade, makeOperator, waitUpgrade } from './operator-fixtures.js';
import { waitFor } from '../kube/helpers.js';

const run = promisify(execFile);

const ENDED = ['Completed', 'Failed', 'Paused'];

describe('etcd on pods', () => {
  it('the operator upgrades 3 etcd pods under writes: highest ordinal first, leadership moved off each leader before its pod goes, no acknowledged write lost', async (t) => {
    const { env, pods } = await etcdPodsFixture(t, 'etcd');
    const { done, report } = await operatorUpgradeUnderWrites(t, env, pods, {
      engine: 'etcd',
      statefulSet: 'etcd',
      name: 'etcd-up',
      version: '3.4.23',
      timeoutMs: 120_000,
    });
    assert.equal(done.status?.phase, 'Completed', `${done.status?.reason}\n${historyOf(done).join('\n')}`);
    assert.equal(done.status?.progressText, '3/3');

    assert.deepEqual(
      pods.stopOrder(),
      ['etcd-2', 'etcd-1', 'etcd-0'],
      'every pod replaced once, highest ordinal first',
    );
    const leaderStops = pods.leaderStops();
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

  it('baton apply --platform kubernetes --engine etcd drives an upgrade whose pods are reached at per-pod endpoints', async (t) => {
    const { env, pods } = await etcdPodsFixture(t, 'kv');
    const kube = await kubeCli(t, env.server);
    const cli = (args: string[]) => kube(args[0]!, ...args.slice(1));
    const apply = [
      'apply',
      '--engine',
      'etcd',
      '--statefulset',
      'kv',
      '--name',
      'kv-upgrade',
      '--to',
      '3.4.23',
    ];
    // What a user outside the cluster does: port-forward each pod and name the local ports.
    const forwards = Object.entries(pods.endpoints()).flatMap(([pod, ep]) => ['--endpoint', `${pod}=${ep}`]);
    const badEndpoint = await cli([...apply, '--endpoint', 'kv-0=nowhere']);
    assert.equal(badEndpoint.code, 2);
    assert.match(badEndpoint.err, /--endpoint kv-0=nowhere: use POD=HOST:PORT/);
    const driven = await cli([...apply, ...forwards]);
    assert.equal(driven.code, 0, driven.err + driven.out);
    assert.match(
      driven.out,
      /precheck quorum: ok: 3\/3 voting members healthy/,
      'the etcd prechecks reached the pods',
    );
    assert.match(driven.out, /moved etcd leadership from kv-\d to kv-\d/);
    assert.match(driven.out, /Completed/);
    const u = await getUpgrade(env, 'kv-upgrade');
    assert.equal(u.status?.phase, 'Completed');
    assert.deepEqual(pods.stopOrder(), ['kv-2', 'kv-1', 'kv-0'], driven.out);
    assert.deepEqual(pods.leaderStops(), [], 'no pod was deleted while its etcd member led');
    assert.equal(u.spec.target.endpoints, undefined, 'CLI endpoints are never written into the resource');

    const wrong = await cli([
      'plan',
      '--engine',
      'kubernetes',
      '--statefulset',
      'kv',
      '--name',
      'other',
      '--to',
      '1.0.0',
    ]);
    assert.equal(wrong.code, 2);
    assert.match(
      wrong.err,
      /--engine kubernetes cannot be driven on Kubernetes .*use one of generic, etcd, redis, postgres, tidb, cockroachdb, redis-enterprise/,
    );
  });

  it('credentials from spec.credentialsSecret reach etcd (auth enabled) and never status, Events or logs', async (t) => {
    const { env, pods } = await etcdPodsFixture(t, 'sec');
    const password = 'pw-Zq81-never-shown';
    const endpoints = Object.values(pods.endpoints()).join(',');
    await run('etcdctl', [
      '--endpoints',
      endpoints,
      'user',
      'add',
      'root',
      `--new-user-password=${password}`,
      '--interactive=false',
    ]);
    await run('etcdctl', ['--endpoints', endpoints, 'auth', 'enable']);
    await env.core.createNamespacedSecret({
      namespace: env.ns,
      body: {
        metadata: { name: 'etcd-admin' },
        data: {
          username: Buffer.from('root').toString('base64'),
          password: Buffer.from(password).toString('base64'),
        },
      },
    });

    // The password decides: a wrong one reaches no member.
    const members: PlatformMember[] = Object.entries(pods.endpoints()).map(([name, endpoint], ordinal) => ({
      name,
      component: 'sec',
      ordinal,
      version: '3.4.22',
      ready: true,
      running: true,
      endpoint,
    }));
    const ctx = { clock: systemClock, logger: nullLogger };
    const denied = await createPodEngine('etcd', { username: 'root', password: 'wrong' }, 'spec.engine');
    t.after(() => denied.close?.());
    assert.deepEqual(Object.keys((await denied.observe(members, ctx)).members), []);
    const allowed = await createPodEngine('etcd', { username: 'root', password }, 'spec.engine');
    t.after(() => allowed.close?.());
    assert.equal((await allowed.observe(members, ctx)).health.healthy, true);

    const logs: string[] = [];
    const op = makeOperator(t, env, {
      logger: jsonLogger((l) => logs.push(l), { debug: true }),
      secretRetryMs: 100,
    });
    await op.start();
    await waitFor('leadership', () => op.isLeader());
    await createUpgrade(env, 'sec-up', {
      target: { statefulSet: 'sec', endpoints: pods.endpoints() },
      engine: 'etcd',
      version: '3.4.23',
      credentialsSecret: { name: 'etcd-admin' },
    });
    const done = await waitUpgrade(
      env,
      'sec-up',
      'ended',
      (u) => ENDED.includes(u.status?.phase ?? ''),
      120_000,
    );
    assert.equal(done.status?.phase, 'Completed', `${done.status?.reason}\n${historyOf(done).join('\n')}`);
    assert.deepEqual(pods.stopOrder(), ['sec-2', 'sec-1', 'sec-0']);

    const events = await env.core.listNamespacedEvent({ namespace: env.ns });
    const encoded = Buffer.from(password).toString('base64');
    for (const [what, text] of [
      ['status', JSON.stringify(done)],
      ['events', JSON.stringify(events.items)],
      ['logs', logs.join('')],
    ] as const) {
      assert.ok(text.length > 0, `${what} is not empty`);
      assert.ok(!text.includes(password) && !text.includes(encoded), `the password appears in ${what}`);
    }
    assert.ok(logs.length > 0 && events.items.length > 0);

    // A missing Secret is a spec error on the Upgrade, naming the field.
    await createUpgrade(env, 'no-secret', {
      target: { statefulSet: 'sec', endpoints: pods.endpoints() },
      engine: 'etcd',
      version: '3.4.23',
      credentialsSecret: { name: 'absent' },
    });
    const bad = await waitUpgrade(env, 'no-secret', 'failed', (u) => u.status?.phase === 'Failed');
    assert.match(
      bad.status?.reason ?? '',
      new RegExp(String.raw`spec\.credentialsSecret\.name: secret ${env.ns}/absent not found`),
    );
    // Creating the Secret is enough: the operator looks again on a timer, no spec change needed.
    await env.core.createNamespacedSecret({
      namespace: env.ns,
      body: { metadata: { name: 'absent' }, data: { password: Buffer.from(password).toString('base64') } },
    });
    const fixed = await waitUpgrade(
      env,
      'no-secret',
      'ended',
      (u) => u.status?.phase === 'Completed',
      30_000,
    );
    assert.equal(fixed.status?.phase, 'Completed', fixed.status?.reason);
  });
});
