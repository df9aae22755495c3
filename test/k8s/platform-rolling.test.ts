import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Watch, type V1Pod } from '@kubernetes/client-node';
import type { UpgradeResource } from '../../src/api/upgrade.js';
import { waitFor } from '../kube/helpers.js';
import { imageTag } from '../../src/platforms/kubernetes/members.js';
import { ORIGINAL_STRATEGY_ANNOTATION } from '../../src/platforms/kubernetes/statefulset.js';
import {
  createSettled,
  eventsOf,
  startCluster,
  statefulSet,
  upgradeResource,
  watchUnready,
  wire,
} from './platform-fixture.js';

describe('KubernetesPlatform: RollingUpdate StatefulSet', () => {
  it('upgrades 5 pods one at a time, highest ordinal first, never two down at once', async (t) => {
    const { server, ns: NS, apps, core } = await startCluster(t);
    await createSettled(server, statefulSet('db', 5));
    const watch = await watchUnready(t, server, 'db', 5);
    const w = await wire(server, upgradeResource('db-up', { version: '1.1.0' }));
    const seen: [string, string, string, string, string][] = [];
    const ctl = await new Watch(server.kubeConfig({ direct: true })).watch(
      `/apis/baton.dev/v1alpha1/namespaces/${NS}/upgrades`,
      { resourceVersion: await server.resourceVersion() },
      (_type, u: UpgradeResource) => {
        const c = (type: string) => u.status?.conditions?.find((x) => x.type === type)?.status ?? '-';
        seen.push([
          u.status?.phase ?? '-',
          u.status?.progressText ?? '-',
          u.status?.currentStep ?? '-',
          c('Progressing'),
          c('Ready'),
        ]);
      },
      () => {},
    );
    t.after(() => ctl.abort());

    const r = await w.runner.run();
    assert.equal(r.status.phase, 'Completed', r.status.reason);

    const sts = await apps.readNamespacedStatefulSet({ namespace: NS, name: 'db' });
    assert.equal(sts.spec!.template!.spec!.containers[0]!.image, 'registry.local:5000/db:1.1.0');
    assert.equal(sts.spec!.updateStrategy!.rollingUpdate!.partition, 0);
    assert.equal(sts.metadata!.annotations?.[ORIGINAL_STRATEGY_ANNOTATION], undefined, 'strategy restored');
    const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=db' });
    assert.deepEqual(pods.items.map((p: V1Pod) => imageTag(p.spec!.containers[0]!.image!)).sort(), [
      '1.1.0',
      '1.1.0',
      '1.1.0',
      '1.1.0',
      '1.1.0',
    ]);
    assert.deepEqual(watch.deletions(), ['db-4', 'db-3', 'db-2', 'db-1', 'db-0']);
    assert.equal(watch.maxUnready(), 1);

    // Status at each step: progress text and the member being replaced.
    const texts = [...new Set(w.statuses.map((s) => `${s.progress.done}/${s.progress.total}`))];
    assert.deepEqual(texts, ['0/5', '1/5', '2/5', '3/5', '4/5', '5/5']);
    const res = await w.journal.getResource('db-up');
    assert.equal(res!.status!.phase, 'Completed');
    assert.equal(res!.status!.progressText, '5/5');
    const ready = res!.status!.conditions!.find((c) => c.type === 'Ready')!;
    assert.equal(ready.status, 'True');
    assert.equal(res!.status!.conditions!.find((c) => c.type === 'Progressing')!.status, 'False');
    // Every status write as a watcher saw it: progress only grows, steps go highest ordinal first,
    // Progressing holds while Running, Ready only at the end.
    await waitFor('the watch to see the end', () => seen.some((x) => x[0] === 'Completed'));
    const done = seen.map((x) => Number(x[1].split('/')[0]));
    assert.deepEqual(
      done,
      [...done].sort((a, b) => a - b),
    );
    const steps = [...new Set(seen.map((x) => /replace (db-\d)/.exec(x[2])?.[1]).filter(Boolean))];
    assert.deepEqual(steps, ['db-4', 'db-3', 'db-2', 'db-1', 'db-0']);
    for (const [phase, , , progressing, readyCond] of seen) {
      if (phase === 'Running') assert.equal(progressing, 'True');
      assert.equal(readyCond, phase === 'Completed' ? 'True' : 'False');
    }
    const replaced = r.status.history.filter((h) => /replacing with/.test(h.message)).map((h) => h.member);
    assert.deepEqual(replaced, ['db-4', 'db-3', 'db-2', 'db-1', 'db-0']);
    await w.flushEvents();
    const evs = await eventsOf(server, 'Upgrade', 'db-up');
    assert.ok(evs.some((e) => e.reason === 'PhaseChanged' && /upgrade complete/.test(e.message!)));
    assert.ok((await eventsOf(server, 'Pod', 'db-4')).some((e) => e.reason === 'Step'));
  });
});
