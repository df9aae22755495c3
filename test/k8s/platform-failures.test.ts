import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { nullLogger } from '../../src/core/logger.js';
import { isPodReady } from '../kube/fake-kubelet.js';
import { waitFor } from '../kube/helpers.js';
import { MERGE_PATCH } from '../../src/platforms/kubernetes/api.js';
import { imageTag } from '../../src/platforms/kubernetes/members.js';
import { ORIGINAL_STRATEGY_ANNOTATION } from '../../src/platforms/kubernetes/statefulset.js';
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

const ctx = { clock: fastClock, logger: nullLogger };

describe('KubernetesPlatform: failures, faults and rollback', () => {
  it('retries 500/503 answers and 409 conflicts of the API and still rolls one pod at a time', async (t) => {
    const { server, ns: NS } = await startCluster(t);
    await createSettled(server, statefulSet('db', 3));
    const watch = await watchUnready(t, server, 'db', 3);
    const w = await wire(server, upgradeResource('flaky', { version: '1.1.0' }));
    const sts = `/apis/apps/v1/namespaces/${NS}/statefulsets`;
    server.failNext({ method: 'PATCH', pathPrefix: sts, status: 409, times: 2 });
    server.failNext({ method: 'PATCH', pathPrefix: sts, status: 500, times: 2 });
    server.failNext({ method: 'GET', pathPrefix: sts, status: 503, times: 3 });
    server.failNext({ method: 'GET', pathPrefix: `/api/v1/namespaces/${NS}/pods`, status: 500, times: 2 });
    server.failNext({
      method: 'PUT',
      pathPrefix: `/apis/baton.dev/v1alpha1/namespaces/${NS}/upgrades/flaky/status`,
      status: 503,
      times: 2,
    });
    const r = await w.runner.run();
    assert.equal(r.status.phase, 'Completed', r.status.reason);
    const injected = server.requests().entries.filter((e) => e.injected);
    assert.equal(injected.length, 11, 'every injected fault was hit');
    assert.equal(watch.maxUnready(), 1);
    assert.deepEqual(watch.deletions(), ['db-2', 'db-1', 'db-0']);
    for (const m of Object.values(r.status.members)) assert.equal(m.replaceCalls, 1);
  });

  it('a status write on a stale revision is a ConflictError (the runner re-reads)', async (t) => {
    const { server } = await startCluster(t);
    await createSettled(server, statefulSet('db', 1));
    const w = await wire(server, upgradeResource('race', { version: '1.1.0' }));
    const rec = (await w.journal.get('race'))!;
    await w.journal.writeStatus('race', { ...rec.status, reason: 'first' }, rec.revision);
    await assert.rejects(
      w.journal.writeStatus('race', { ...rec.status, reason: 'second' }, rec.revision),
      (err: Error) => err.name === 'OperationalError' && /changed since revision/.test(err.message),
    );
    assert.equal((await w.journal.get('race'))!.status.reason, 'first');
  });

  it('a pod that never becomes Ready pauses the upgrade with that cause; nothing else is touched; resume after the fix', async (t) => {
    const { server, apps, core, ns: NS } = await startCluster(t);
    // The template carries the never-ready marker, but the roll is held by partition = replicas,
    // so only pods that Baton lets the controller replace run it.
    const base = statefulSet('db', 3, { partition: 3 });
    base.spec!.template!.metadata!.annotations = { 'fake.baton.dev/never-ready': 'true' };
    await apps.createNamespacedStatefulSet({ namespace: NS, body: statefulSet('db', 3) });
    await holdRollWithTemplate(server, base);
    const watch = await watchUnready(t, server, 'db', 3);
    const w = await wire(
      server,
      upgradeResource('nr', { version: '1.1.0', strategy: { timeouts: { ready: '1s' } } }),
    );
    const r = await w.runner.run({ stopWhen: (x) => x.status.phase === 'Paused' });
    assert.equal(r.status.phase, 'Paused');
    assert.match(r.status.pauseCause ?? '', /db-2 not ready on 1\.1\.0 after 1s/);
    assert.deepEqual(watch.deletions(), ['db-2']);
    const res = await w.journal.getResource('nr');
    const paused = res!.status!.conditions!.find((c) => c.type === 'Paused')!;
    assert.equal(paused.status, 'True');
    assert.equal(paused.reason, 'AutoPaused');
    assert.match(paused.message, /db-2 not ready/);
    const sts = await apps.readNamespacedStatefulSet({ namespace: NS, name: 'db' });
    assert.equal(sts.spec!.updateStrategy!.rollingUpdate!.partition, 2);
    // The strategy as the apiserver stored it (it defaults maxUnavailable to 1).
    assert.deepEqual(JSON.parse(sts.metadata!.annotations![ORIGINAL_STRATEGY_ANNOTATION]!), {
      type: 'RollingUpdate',
      rollingUpdate: { partition: 3, maxUnavailable: 1 },
    });
    await w.flushEvents();
    assert.ok(
      (await eventsOf(server, 'Upgrade', 'nr')).some((e) => e.type === 'Warning' && /db-2/.test(e.message!)),
    );

    // Fix the release (drop the marker from the template), then resume through the resource.
    // spec.paused is already false: resume still writes a new generation, which the runner needs.
    await apps.patchNamespacedStatefulSet(
      {
        namespace: NS,
        name: 'db',
        body: { spec: { template: { metadata: { annotations: { 'fake.baton.dev/never-ready': null } } } } },
      },
      MERGE_PATCH,
    );
    await core.patchNamespacedPod(
      {
        namespace: NS,
        name: 'db-2',
        body: { metadata: { annotations: { 'fake.baton.dev/never-ready': null } } },
      },
      MERGE_PATCH,
    );
    await waitFor(
      'db-2 ready on the fixed template',
      async () => (await w.platform.listMembers(ctx)).find((m) => m.name === 'db-2')?.ready,
      30_000,
      20,
    );
    const generation = res!.metadata.generation!;
    await w.journal.updateSpec('nr', (s) => ({ ...s, paused: false }));
    assert.equal((await w.journal.getResource('nr'))!.metadata.generation, generation + 1);
    const resumed = await w.runner.run({ stopWhen: (x) => x.status.phase === 'Paused' });
    assert.equal(resumed.status.phase, 'Completed', resumed.status.reason);
    const members = await w.platform.listMembers(ctx);
    assert.ok(members.every((m) => m.ready && m.version === '1.1.0'));
  });

  it('a bad image pauses at once (ImagePullBackOff); rollback replaces the stuck pod (rollback trap)', async (t) => {
    const { server, apps, core, ns: NS } = await startCluster(t, { badImages: [/:6\.6\.6$/] });
    await createSettled(server, statefulSet('db', 3));
    const w = await wire(server, upgradeResource('bad', { version: '6.6.6' }));
    const r = await w.runner.run({ stopWhen: (x) => x.status.phase === 'Paused' });
    assert.equal(r.status.phase, 'Paused');
    assert.match(r.status.pauseCause ?? '', /db-2 failed on 6\.6\.6: db: ImagePullBackOff/);
    const members = await w.platform.listMembers(ctx);
    const stuck = members.find((m) => m.name === 'db-2')!;
    assert.equal(stuck.failed, true);
    assert.equal(stuck.version, '6.6.6');

    // The controller alone would never replace an unready pod: Baton deletes it.
    await w.journal.updateSpec('bad', (s) => ({ ...s, rollback: true, paused: false }));
    const back = await w.runner.run();
    assert.equal(back.status.phase, 'Completed', back.status.reason);
    assert.match(back.status.reason, /rolled back/);
    const sts = await apps.readNamespacedStatefulSet({ namespace: NS, name: 'db' });
    assert.equal(imageTag(sts.spec!.template!.spec!.containers[0]!.image!), '1.0.0');
    assert.deepEqual(JSON.parse(JSON.stringify(sts.spec!.updateStrategy)), {
      type: 'RollingUpdate',
      rollingUpdate: { partition: 0, maxUnavailable: 1 },
    });
    assert.equal(sts.metadata!.annotations?.[ORIGINAL_STRATEGY_ANNOTATION], undefined);
    const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=db' });
    for (const p of pods.items as V1Pod[]) {
      assert.equal(imageTag(p.spec!.containers[0]!.image!), '1.0.0', p.metadata!.name);
      assert.ok(isPodReady(p), `${p.metadata!.name} ready`);
    }
  });

  it('rollback trap below the partition: a pod stuck at an abandoned revision is deleted so the controller can go on', async (t) => {
    const { server, core, ns: NS } = await startCluster(t);
    await createSettled(server, statefulSet('db', 4));
    const w = await wire(server, upgradeResource('trap', { version: '1.1.0' }));
    const p = w.platform;
    const readyAt = (name: string, tag: string) =>
      waitFor(
        `${name} ready at ${tag}`,
        async () => {
          const pod = await core.readNamespacedPod({ namespace: NS, name });
          return imageTag(pod.spec!.containers[0]!.image!) === tag && isPodReady(pod);
        },
        30_000,
      );
    await p.replaceMember('db-3', '1.1.0', {}, ctx);
    await readyAt('db-3', '1.1.0');
    await p.replaceMember('db-2', '1.1.0', {}, ctx);
    await readyAt('db-2', '1.1.0');
    // db-1 goes to 1.1.0 too, but this time the release is broken: it never becomes Ready.
    server.kubelet.settings.badImages.push(/:1\.1\.0$/);
    await p.replaceMember('db-1', '1.1.0', {}, ctx);
    await waitFor(
      'db-1 stuck',
      async () => {
        const pod = await core.readNamespacedPod({ namespace: NS, name: 'db-1' });
        return imageTag(pod.spec!.containers[0]!.image!) === '1.1.0' && !pod.metadata!.deletionTimestamp;
      },
      30_000,
    );
    const watch = await watchUnready(t, server, 'db', 4);
    // Roll back in partition order: db-3 first. db-1 blocks the controller until Baton deletes it.
    for (const name of ['db-3', 'db-2', 'db-1']) {
      await p.replaceMember(name, '1.0.0', {}, ctx);
      await readyAt(name, '1.0.0');
    }
    const members = await p.listMembers(ctx);
    assert.deepEqual(
      members.map((m) => [m.name, m.version, m.ready]),
      [
        ['db-0', '1.0.0', true],
        ['db-1', '1.0.0', true],
        ['db-2', '1.0.0', true],
        ['db-3', '1.0.0', true],
      ],
    );
    assert.deepEqual(watch.deletions().sort(), ['db-1', 'db-2', 'db-3']);
    await w.flushEvents();
    assert.ok(
      (await eventsOf(server, 'Pod', 'db-1')).some(
        (e) => e.reason === 'PodDeleted' && /abandoned revision/.test(e.message!),
      ),
    );
  });
});

/** Give a settled StatefulSet `sts`'s template and strategy, and wait until the controller saw them. */
async function holdRollWithTemplate(
  server: Awaited<ReturnType<typeof startCluster>>['server'],
  sts: ReturnType<typeof statefulSet>,
): Promise<void> {
  const { AppsV1Api } = await import('@kubernetes/client-node');
  const apps = server.kubeConfig().makeApiClient(AppsV1Api);
  const NS = server.namespace;
  await waitFor('initial pods ready', async () => {
    const s = await apps.readNamespacedStatefulSet({ namespace: NS, name: sts.metadata!.name! });
    return s.status?.readyReplicas === sts.spec!.replicas;
  });
  await apps.patchNamespacedStatefulSet(
    {
      namespace: NS,
      name: sts.metadata!.name!,
      body: { spec: { updateStrategy: sts.spec!.updateStrategy, template: sts.spec!.template } },
    },
    MERGE_PATCH,
  );
  await waitFor('the controller to observe the new template', async () => {
    const s = await apps.readNamespacedStatefulSet({ namespace: NS, name: sts.metadata!.name! });
    return (
      s.status?.observedGeneration === s.metadata?.generation &&
      s.status?.readyReplicas === sts.spec!.replicas
    );
  });
}
