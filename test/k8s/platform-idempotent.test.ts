import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CoreV1Api } from '@kubernetes/client-node';
import { nullLogger } from '../../src/core/logger.js';
import { isPodReady } from '../kube/fake-kubelet.js';
import { waitFor } from '../kube/helpers.js';
import { imageTag } from '../../src/platforms/kubernetes/members.js';
import { MERGE_PATCH } from '../../src/platforms/kubernetes/api.js';
import {
  createSettled,
  fastClock,
  startCluster,
  statefulSet,
  upgradeResource,
  waitSettled,
  watchUnready,
  wire,
} from './platform-fixture.js';

const ctx = { clock: fastClock, logger: nullLogger };

/** Until pod `name` runs image tag `version` and is Ready. */
async function podReadyAt(core: CoreV1Api, NS: string, name: string, version: string): Promise<void> {
  await waitFor(
    `${name} ready at ${version}`,
    async () => {
      const pod = await core.readNamespacedPod({ namespace: NS, name });
      return imageTag(pod.spec!.containers[0]!.image!) === version && isPodReady(pod);
    },
    30_000,
    20,
  );
}

describe('KubernetesPlatform.replaceMember is idempotent', () => {
  for (const onDelete of [false, true]) {
    it(`${onDelete ? 'OnDelete' : 'RollingUpdate'}: repeated calls (a crashed runner re-issuing) restart the pod once`, async (t) => {
      const { server, core, ns: NS } = await startCluster(t);
      await createSettled(server, statefulSet('db', 3, { onDelete }));
      const watch = await watchUnready(t, server, 'db', 3);
      const w = await wire(server, upgradeResource('idem', { version: '1.1.0' }));
      await w.platform.replaceMember('db-2', '1.1.0', {}, ctx);
      await w.platform.replaceMember('db-2', '1.1.0', {}, ctx);
      await podReadyAt(core, NS, 'db-2', '1.1.0');
      await w.platform.replaceMember('db-2', '1.1.0', {}, ctx);
      await waitSettled(server, 'db');
      assert.deepEqual(watch.deletions(), ['db-2']);
      const members = await w.platform.listMembers(ctx);
      assert.deepEqual(
        members.map((m) => [m.name, m.version]),
        [
          ['db-0', '1.0.0'],
          ['db-1', '1.0.0'],
          ['db-2', '1.1.0'],
        ],
      );
      assert.equal(watch.maxUnready(), 1);
    });
  }

  it('RollingUpdate refuses a member out of partition order and restarts nothing', async (t) => {
    const { server, apps, ns: NS } = await startCluster(t);
    await createSettled(server, statefulSet('db', 3));
    const watch = await watchUnready(t, server, 'db', 3);
    const w = await wire(server, upgradeResource('ooo', { version: '1.1.0' }));
    await assert.rejects(
      w.platform.replaceMember('db-0', '1.1.0', {}, ctx),
      /cannot replace db-0 yet: db-1, db-2 must run 1\.1\.0 first/,
    );
    await waitSettled(server, 'db');
    const sts = await apps.readNamespacedStatefulSet({ namespace: NS, name: 'db' });
    assert.equal(sts.spec!.updateStrategy!.rollingUpdate!.partition, 3, 'frozen');
    assert.deepEqual(watch.deletions(), []);
  });

  it('a crash after the template write and before the partition step resumes where it stopped', async (t) => {
    const { server, apps, ns: NS } = await startCluster(t);
    await createSettled(server, statefulSet('db', 3));
    const watch = await watchUnready(t, server, 'db', 3);
    const w = await wire(server, upgradeResource('crash', { version: '1.1.0' }));
    // What the first half of replaceMember writes, as if Baton died right after it.
    await apps.patchNamespacedStatefulSet(
      {
        namespace: NS,
        name: 'db',
        body: {
          spec: {
            updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 3 } },
            template: { spec: { containers: [{ name: 'db', image: 'registry.local:5000/db:1.1.0' }] } },
          },
        },
      },
      MERGE_PATCH,
    );
    await waitSettled(server, 'db');
    assert.deepEqual(watch.deletions(), [], 'frozen: the controller restarts nothing');
    server.resetRequests();
    await w.platform.replaceMember('db-2', '1.1.0', {}, ctx);
    const patches = server.requests().entries.filter((e) => e.verb === 'patch');
    assert.equal(patches.length, 1, 'only the partition step is written');
    const sts = await apps.readNamespacedStatefulSet({ namespace: NS, name: 'db' });
    assert.equal(sts.spec!.updateStrategy!.rollingUpdate!.partition, 2);
    await waitFor('db-2 replaced', () => watch.deletions().includes('db-2'), 30_000, 20);
  });

  it('a step decided on stale copies never writes on them: a spec change since the read fails the patch and the step is decided again on fresh reads', async (t) => {
    const { server, apps, core, ns: NS } = await startCluster(t);
    await createSettled(server, statefulSet('db', 3));
    const watch = await watchUnready(t, server, 'db', 3);
    const w = await wire(server, upgradeResource('stale', { version: '1.1.0' }));
    await w.platform.replaceMember('db-2', '1.1.0', {}, ctx);
    await podReadyAt(core, NS, 'db-2', '1.1.0');
    // Copies as an informer might hold them, read before someone changed the StatefulSet's spec.
    const stale = await apps.readNamespacedStatefulSet({ namespace: NS, name: 'db' });
    const pods = new Map(
      (await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=db' })).items.map((p) => [
        p.metadata!.name!,
        p,
      ]),
    );
    await apps.patchNamespacedStatefulSet(
      { namespace: NS, name: 'db', body: { spec: { minReadySeconds: 1 } } },
      MERGE_PATCH,
    );
    server.resetRequests();
    await w.platform.replaceMember('db-1', '1.1.0', {}, ctx, {
      statefulSet: () => stale,
      pods: () => pods,
    });
    const writes = server
      .requests()
      .entries.filter((e) => e.resource === 'statefulsets' && e.verb !== 'get')
      .map((e) => `${e.verb} ${e.status}`);
    assert.deepEqual(writes, ['patch 422', 'patch 200'], 'the stale patch is refused, the fresh one lands');
    const sts = await apps.readNamespacedStatefulSet({ namespace: NS, name: 'db' });
    assert.equal(sts.spec!.updateStrategy!.rollingUpdate!.partition, 1);
    await waitFor('db-1 replaced', () => watch.deletions().includes('db-1'), 30_000, 20);
    assert.deepEqual(watch.deletions(), ['db-2', 'db-1']);
  });
});
