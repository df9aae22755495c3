import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api } from '@kubernetes/client-node';
import { nullLogger } from '../../src/core/logger.js';
import type { UpgradeResourceSpec } from '../../src/api/upgrade.js';
import { readCredentials, UpgradeResourceJournal } from '../../src/platforms/kubernetes/journal.js';
import { KubernetesPlatform } from '../../src/platforms/kubernetes/statefulset.js';
import { KubeEventRecorder } from '../../src/platforms/kubernetes/events.js';
import {
  createSettled,
  eventsOf,
  fastClock,
  startCluster,
  statefulSet,
  upgradeResource,
  watchUnready,
  wire,
} from './platform-fixture.js';
import { engineRegistry } from '../../src/engines/registry.js';

describe('KubernetesPlatform: several StatefulSets, events, credentials', () => {
  it("member endpoints: pod DNS names with the engine's client port unless spec.target.port says otherwise", async (t) => {
    const { server, ns: NS } = await startCluster(t);
    await createSettled(server, statefulSet('kv', 2));
    const kc = server.kubeConfig();
    const endpoints = async (spec: Partial<UpgradeResourceSpec>) => {
      const upgrade = upgradeResource('ports', { version: '1.1.0', target: { statefulSet: 'kv' }, ...spec });
      const journal = new UpgradeResourceJournal({ kc, namespace: NS });
      const platform = new KubernetesPlatform({
        kc,
        engines: engineRegistry,
        namespace: NS,
        upgrade,
        journal,
        clock: fastClock,
        logger: nullLogger,
      });
      return (await platform.listMembers({ clock: fastClock, logger: nullLogger })).map((m) => m.endpoint);
    };
    assert.deepEqual(await endpoints({ engine: 'etcd' }), [
      `kv-0.kv.${NS}.svc:2379`,
      `kv-1.kv.${NS}.svc:2379`,
    ]);
    assert.deepEqual(await endpoints({ engine: 'redis' }), [
      `kv-0.kv.${NS}.svc:6379`,
      `kv-1.kv.${NS}.svc:6379`,
    ]);
    assert.deepEqual(await endpoints({ engine: 'postgres', target: { statefulSet: 'kv', port: 6432 } }), [
      `kv-0.kv.${NS}.svc:6432`,
      `kv-1.kv.${NS}.svc:6432`,
    ]);
    assert.deepEqual(await endpoints({ engine: 'generic' }), [`kv-0.kv.${NS}.svc`, `kv-1.kv.${NS}.svc`]);
  });

  it('one component per StatefulSet (name, label or spec), each rolled one pod at a time', async (t) => {
    const { server } = await startCluster(t);
    await createSettled(server, statefulSet('pd', 3));
    await createSettled(server, statefulSet('kv', 3, { labels: { 'baton.dev/component': 'tikv' } }));
    const pd = await watchUnready(t, server, 'pd', 3);
    const kv = await watchUnready(t, server, 'kv', 3);
    const w = await wire(
      server,
      upgradeResource('multi', {
        version: '1.1.0',
        componentVersions: { placement: '1.2.0' },
        target: { statefulSets: [{ name: 'pd', component: 'placement' }, { name: 'kv' }] },
      }),
    );
    const members = await w.platform.listMembers({ clock: fastClock, logger: nullLogger });
    assert.deepEqual([...new Set(members.map((m) => `${m.component}:${m.name.split('-')[0]}`))].sort(), [
      'placement:pd',
      'tikv:kv',
    ]);
    const r = await w.runner.run();
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    const after = await w.platform.listMembers({ clock: fastClock, logger: nullLogger });
    for (const m of after) {
      assert.equal(m.version, m.component === 'placement' ? '1.2.0' : '1.1.0', m.name);
      assert.equal(m.ready, true);
    }
    assert.equal(pd.maxUnready(), 1);
    assert.equal(kv.maxUnready(), 1);
    assert.deepEqual(pd.deletions(), ['pd-2', 'pd-1', 'pd-0']);
    assert.deepEqual(kv.deletions(), ['kv-2', 'kv-1', 'kv-0']);
  });

  it('events go to the Upgrade and the pod; a failing Event write never throws', async (t) => {
    const { server, kc, ns: NS } = await startCluster(t);
    const rec = new KubeEventRecorder({ kc, clock: fastClock, logger: nullLogger, instance: 'test' });
    const upgrade = {
      ...upgradeResource('ev', { version: '2' }),
      metadata: { name: 'ev', namespace: NS, uid: 'u-1' },
    };
    await rec.emit(
      {
        type: 'Warning',
        reason: 'Blocked',
        message: 'waiting: db-1 not ready',
        member: 'db-1',
        at: Date.now(),
      },
      { upgrade },
    );
    const onUpgrade = await eventsOf(server, 'Upgrade', 'ev');
    assert.equal(onUpgrade.length, 1);
    assert.equal(onUpgrade[0]!.type, 'Warning');
    assert.equal(onUpgrade[0]!.reason, 'Blocked');
    assert.equal(onUpgrade[0]!.involvedObject.uid, 'u-1');
    assert.equal(onUpgrade[0]!.reportingComponent, 'baton.dev/operator');
    assert.equal((await eventsOf(server, 'Pod', 'db-1')).length, 1);

    server.failNext({ method: 'POST', pathPrefix: `/api/v1/namespaces/${NS}/events`, status: 500, times: 2 });
    await rec.emit(
      { type: 'Normal', reason: 'Step', message: 'x', at: Date.now() },
      { upgrade, pod: 'db-2' },
    );
    assert.equal((await eventsOf(server, 'Pod', 'db-2')).length, 0);
  });

  it('readCredentials reads the named keys of a Secret and names what is missing', async (t) => {
    const { kc, ns: NS } = await startCluster(t);
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedSecret({
      namespace: NS,
      body: {
        metadata: { name: 'admin' },
        data: { user: Buffer.from('root').toString('base64'), pw: Buffer.from('s3cret').toString('base64') },
      },
    });
    assert.deepEqual(
      await readCredentials(kc, NS, { name: 'admin', usernameKey: 'user', passwordKey: 'pw' }),
      {
        username: 'root',
        password: 's3cret',
      },
    );
    await assert.rejects(readCredentials(kc, NS, { name: 'admin' }), /has no key "password"/);
    await assert.rejects(
      readCredentials(kc, NS, { name: 'nope' }),
      new RegExp(`secret ${NS}/nope not found`),
    );
  });
});
