import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AppsV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type V1Pod,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { FakeClock } from '../../src/core/clock.js';
import {
  isPodReady,
  NEVER_READY_ANNOTATION,
  READY_DELAY_ANNOTATION,
  REVISION_LABEL,
  type FakeApiServer,
} from './fake-apiserver.js';
import { waitFor, withFakeApiServer } from './helpers.js';
import type { KubeObject } from './types.js';

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function sts(
  name: string,
  replicas: number,
  opts: { partition?: number; onDelete?: boolean; parallel?: boolean; image?: string } = {},
): V1StatefulSet {
  return {
    metadata: { name },
    spec: {
      replicas,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      podManagementPolicy: opts.parallel ? 'Parallel' : 'OrderedReady',
      updateStrategy: opts.onDelete
        ? { type: 'OnDelete' }
        : { type: 'RollingUpdate', rollingUpdate: { partition: opts.partition ?? 0 } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'db', image: opts.image ?? 'db:1' }] },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: 'data' },
          spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
        },
      ],
    },
  };
}

/** A pod event as seen through a real watch. */
interface PodEvent {
  type: string;
  name: string;
  ready: boolean;
  revision: string | undefined;
  terminating: boolean;
}

async function podTimeline(
  t: { after: (fn: () => void) => void },
  server: FakeApiServer,
): Promise<PodEvent[]> {
  const events: PodEvent[] = [];
  const ctl = await new Watch(server.kubeConfig()).watch(
    '/api/v1/namespaces/default/pods',
    { resourceVersion: server.resourceVersion() },
    (type, pod: V1Pod) =>
      events.push({
        type,
        name: pod.metadata!.name!,
        ready: isPodReady(pod as unknown as KubeObject),
        revision: pod.metadata?.labels?.[REVISION_LABEL],
        terminating: !!pod.metadata?.deletionTimestamp,
      }),
    () => {},
  );
  t.after(() => ctl.abort());
  return events;
}

async function settled(apps: AppsV1Api, name: string, want: number): Promise<V1StatefulSet> {
  return waitFor(`statefulset ${name} to settle`, async () => {
    const s = await apps.readNamespacedStatefulSet({ namespace: 'default', name });
    const st = s.status;
    return st?.readyReplicas === want &&
      st.replicas === want &&
      st.observedGeneration === s.metadata?.generation
      ? s
      : undefined;
  });
}

function clients(server: FakeApiServer) {
  const kc = server.kubeConfig();
  return { core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api) };
}

async function podsByName(core: CoreV1Api, app: string): Promise<Map<string, V1Pod>> {
  const list = await core.listNamespacedPod({ namespace: 'default', labelSelector: `app=${app}` });
  return new Map(list.items.map((p) => [p.metadata!.name!, p]));
}

describe('fake API server: StatefulSet controller and kubelet', () => {
  it('creates pods in ordinal order, each after its predecessor is Ready (OrderedReady), with PVCs', async (t) => {
    const server = await withFakeApiServer(t, { readinessDelayMs: 20 });
    const { core, apps } = clients(server);
    const events = await podTimeline(t, server);
    await apps.createNamespacedStatefulSet({ namespace: 'default', body: sts('ord', 3) });
    const done = await settled(apps, 'ord', 3);
    await waitFor('the watch to catch up', () => events.some((e) => e.name === 'ord-2' && e.ready));
    assert.equal(done.status?.currentRevision, done.status?.updateRevision);
    for (const [i, name] of ['ord-1', 'ord-2'].entries()) {
      const added = events.findIndex((e) => e.type === 'ADDED' && e.name === name);
      const predecessorReady = events.findIndex((e) => e.name === `ord-${i}` && e.ready);
      assert.ok(
        predecessorReady >= 0 && predecessorReady < added,
        `${name} created after ord-${i} was Ready`,
      );
    }
    const pvc = await core.readNamespacedPersistentVolumeClaim({ namespace: 'default', name: 'data-ord-0' });
    assert.equal(pvc.status?.phase, 'Bound');
    const pod = await core.readNamespacedPod({ namespace: 'default', name: 'ord-0' });
    assert.equal(
      pod.spec?.volumes?.find((v) => v.name === 'data')?.persistentVolumeClaim?.claimName,
      'data-ord-0',
    );
    assert.equal(pod.spec?.hostname, 'ord-0');
    assert.equal(pod.metadata?.ownerReferences?.[0]?.kind, 'StatefulSet');
  });

  it('Parallel creates every pod without waiting', async (t) => {
    const server = await withFakeApiServer(t, { readinessDelayMs: 20 });
    const { apps } = clients(server);
    const events = await podTimeline(t, server);
    await apps.createNamespacedStatefulSet({ namespace: 'default', body: sts('par', 3, { parallel: true }) });
    await settled(apps, 'par', 3);
    await waitFor(
      'the watch to catch up',
      () => new Set(events.filter((e) => e.ready).map((e) => e.name)).size === 3,
    );
    const firstReady = events.findIndex((e) => e.ready);
    const added = events.filter((e, i) => e.type === 'ADDED' && i < firstReady).map((e) => e.name);
    assert.deepEqual(added.sort(), ['par-0', 'par-1', 'par-2']);
  });

  it('rolls a partition highest ordinal first, one pod at a time, waiting for Ready', async (t) => {
    const server = await withFakeApiServer(t, { readinessDelayMs: 20 });
    const { core, apps } = clients(server);
    await apps.createNamespacedStatefulSet({ namespace: 'default', body: sts('part', 5, { partition: 3 }) });
    const before = await settled(apps, 'part', 5);
    const oldRev = before.status!.currentRevision!;
    const events = await podTimeline(t, server);
    await apps.patchNamespacedStatefulSet(
      {
        namespace: 'default',
        name: 'part',
        body: { spec: { template: { spec: { containers: [{ name: 'db', image: 'db:2' }] } } } },
      },
      merge,
    );
    const rolled = await waitFor('two pods updated and ready', async () => {
      const s = await apps.readNamespacedStatefulSet({ namespace: 'default', name: 'part' });
      return s.status?.updatedReplicas === 2 && s.status.readyReplicas === 5 ? s : undefined;
    });
    const newRev = rolled.status!.updateRevision!;
    assert.notEqual(newRev, oldRev);
    assert.equal(rolled.status?.currentRevision, oldRev);
    assert.equal(rolled.status?.currentReplicas, 3);
    await server.idle();
    await waitFor('the watch to catch up', () =>
      events.some((e) => e.name === 'part-3' && e.ready && e.revision === newRev),
    );
    const pods = await podsByName(core, 'part');
    for (const i of [0, 1, 2])
      assert.equal(pods.get(`part-${i}`)?.metadata?.labels?.[REVISION_LABEL], oldRev, `part-${i} stays`);
    for (const i of [3, 4])
      assert.equal(pods.get(`part-${i}`)?.metadata?.labels?.[REVISION_LABEL], newRev, `part-${i} updated`);
    const deletions = events.filter((e) => e.terminating && e.type === 'MODIFIED').map((e) => e.name);
    assert.deepEqual([...new Set(deletions)], ['part-4', 'part-3']);
    const part3Deleted = events.findIndex((e) => e.name === 'part-3' && e.terminating);
    const part4ReadyNew = events.findIndex((e) => e.name === 'part-4' && e.ready && e.revision === newRev);
    assert.ok(
      part4ReadyNew >= 0 && part4ReadyNew < part3Deleted,
      'part-3 is replaced only after part-4 is Ready at the new revision',
    );
    let unready = 0;
    const state = new Map<string, boolean>();
    for (const e of events) {
      state.set(e.name, e.type !== 'DELETED' && e.ready);
      unready = Math.max(unready, [...state.values()].filter((r) => !r).length);
    }
    assert.equal(unready, 1, 'never more than one pod down');

    await apps.patchNamespacedStatefulSet(
      {
        namespace: 'default',
        name: 'part',
        body: { spec: { updateStrategy: { rollingUpdate: { partition: 0 } } } },
      },
      merge,
    );
    const all = await waitFor('full rollout', async () => {
      const s = await apps.readNamespacedStatefulSet({ namespace: 'default', name: 'part' });
      return s.status?.updatedReplicas === 5 &&
        s.status.readyReplicas === 5 &&
        s.status.currentRevision === newRev
        ? s
        : undefined;
    });
    assert.equal(all.status?.currentReplicas, 5);
  });

  it('OnDelete replaces a pod only when it is deleted, at the update revision', async (t) => {
    const server = await withFakeApiServer(t, { readinessDelayMs: 10 });
    const { core, apps } = clients(server);
    await apps.createNamespacedStatefulSet({ namespace: 'default', body: sts('od', 3, { onDelete: true }) });
    const before = await settled(apps, 'od', 3);
    const oldRev = before.status!.currentRevision!;
    await apps.patchNamespacedStatefulSet(
      {
        namespace: 'default',
        name: 'od',
        body: { spec: { template: { spec: { containers: [{ name: 'db', image: 'db:2' }] } } } },
      },
      merge,
    );
    await server.idle();
    const unchanged = await podsByName(core, 'od');
    assert.deepEqual(
      [...unchanged.values()].map((p) => p.metadata?.labels?.[REVISION_LABEL]),
      [oldRev, oldRev, oldRev],
    );
    const oldUid = unchanged.get('od-1')!.metadata!.uid;
    await core.deleteNamespacedPod({ namespace: 'default', name: 'od-1' });
    const replaced = await waitFor('od-1 recreated and ready', async () => {
      const p = await core.readNamespacedPod({ namespace: 'default', name: 'od-1' });
      return p.metadata?.uid !== oldUid && isPodReady(p as unknown as KubeObject) ? p : undefined;
    });
    const s = await apps.readNamespacedStatefulSet({ namespace: 'default', name: 'od' });
    assert.equal(replaced.metadata?.labels?.[REVISION_LABEL], s.status?.updateRevision);
    assert.equal(s.status?.updatedReplicas, 1);
    assert.equal(s.status?.currentRevision, oldRev);
  });

  it('reproduces the rollback trap: a never-ready pod at a bad revision blocks until deleted', async (t) => {
    const server = await withFakeApiServer(t, { readinessDelayMs: 10, badImages: ['db:broken'] });
    const { core, apps } = clients(server);
    await apps.createNamespacedStatefulSet({ namespace: 'default', body: sts('trap', 3) });
    const good = await settled(apps, 'trap', 3);
    const goodRev = good.status!.currentRevision!;
    const image = (img: string) => ({
      spec: { template: { spec: { containers: [{ name: 'db', image: img }] } } },
    });
    await apps.patchNamespacedStatefulSet(
      { namespace: 'default', name: 'trap', body: image('db:broken') },
      merge,
    );
    const stuck = await waitFor('trap-2 recreated at the bad revision', async () => {
      const p = await core.readNamespacedPod({ namespace: 'default', name: 'trap-2' });
      return p.spec?.containers[0]?.image === 'db:broken' ? p : undefined;
    });
    await server.idle();
    assert.equal(stuck.status?.phase, 'Pending');
    assert.equal(stuck.status?.containerStatuses?.[0]?.state?.waiting?.reason, 'ImagePullBackOff');

    await apps.patchNamespacedStatefulSet({ namespace: 'default', name: 'trap', body: image('db:1') }, merge);
    await server.idle();
    const reverted = await apps.readNamespacedStatefulSet({ namespace: 'default', name: 'trap' });
    assert.equal(
      reverted.status?.updateRevision,
      goodRev,
      'the reverted template maps to the original revision',
    );
    const still = await core.readNamespacedPod({ namespace: 'default', name: 'trap-2' });
    assert.equal(still.metadata?.uid, stuck.metadata?.uid, 'the controller does not replace the stuck pod');
    assert.equal(still.spec?.containers[0]?.image, 'db:broken');
    assert.equal(reverted.status?.readyReplicas, 2);

    await core.deleteNamespacedPod({ namespace: 'default', name: 'trap-2' });
    const healed = await settled(apps, 'trap', 3);
    assert.equal(healed.status?.updatedReplicas, 3);
    const pods = await podsByName(core, 'trap');
    assert.equal(pods.get('trap-2')?.spec?.containers[0]?.image, 'db:1');
    assert.equal(pods.get('trap-2')?.metadata?.labels?.[REVISION_LABEL], goodRev);
  });

  it('scales down from the highest ordinal and garbage-collects pods (not PVCs) with the StatefulSet', async (t) => {
    const server = await withFakeApiServer(t, { readinessDelayMs: 5 });
    const { core, apps } = clients(server);
    await apps.createNamespacedStatefulSet({ namespace: 'default', body: sts('down', 3) });
    await settled(apps, 'down', 3);
    const events = await podTimeline(t, server);
    await apps.patchNamespacedStatefulSetScale(
      { namespace: 'default', name: 'down', body: { spec: { replicas: 1 } } },
      merge,
    );
    await settled(apps, 'down', 1);
    await waitFor('condemned pods gone', () => events.filter((e) => e.type === 'DELETED').length >= 2);
    assert.deepEqual(
      events.filter((e) => e.type === 'DELETED').map((e) => e.name),
      ['down-2', 'down-1'],
    );
    await apps.deleteNamespacedStatefulSet({ namespace: 'default', name: 'down' });
    await waitFor('pods collected', async () => (await podsByName(core, 'down')).size === 0);
    const pvcs = await core.listNamespacedPersistentVolumeClaim({ namespace: 'default' });
    assert.equal(pvcs.items.length, 3);
  });

  it('kubelet: Ready after the per-pod delay (FakeClock), never-ready stays Running and unready', async (t) => {
    const clock = new FakeClock();
    const server = await withFakeApiServer(t, { clock, readinessDelayMs: 30 });
    const { core } = clients(server);
    const start = clock.now();
    await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name: 'slow', annotations: { [READY_DELAY_ANNOTATION]: '5000' } },
        spec: { containers: [{ name: 'c', image: 'x:1' }] },
      },
    });
    await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name: 'never', annotations: { [NEVER_READY_ANNOTATION]: 'true' } },
        spec: { containers: [{ name: 'c', image: 'x:1' }] },
      },
    });
    await server.idle();
    const slow = await core.readNamespacedPod({ namespace: 'default', name: 'slow' });
    assert.ok(isPodReady(slow as unknown as KubeObject));
    assert.ok(clock.now() - start >= 5000, 'readiness waited for the annotated delay on the clock');
    const never = await core.readNamespacedPod({ namespace: 'default', name: 'never' });
    assert.equal(never.status?.phase, 'Running');
    assert.equal(isPodReady(never as unknown as KubeObject), false);
    assert.equal(never.spec?.nodeName, 'fake-node-1');

    await core.patchNamespacedPod(
      {
        namespace: 'default',
        name: 'never',
        body: { metadata: { annotations: { [NEVER_READY_ANNOTATION]: null } } },
      },
      merge,
    );
    await server.idle();
    assert.ok(
      isPodReady(
        (await core.readNamespacedPod({ namespace: 'default', name: 'never' })) as unknown as KubeObject,
      ),
    );
  });

  it('kubelet: a deleted pod is Terminating (unready) before it disappears; an image change restarts readiness', async (t) => {
    const server = await withFakeApiServer(t, { readinessDelayMs: 5, podTerminationMs: 30 });
    const { core } = clients(server);
    await core.createNamespacedPod({
      namespace: 'default',
      body: { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'x:1' }] } },
    });
    await waitFor('p ready', async () =>
      isPodReady(
        (await core.readNamespacedPod({ namespace: 'default', name: 'p' })) as unknown as KubeObject,
      ),
    );
    const events = await podTimeline(t, server);
    await core.patchNamespacedPod(
      { namespace: 'default', name: 'p', body: { spec: { containers: [{ name: 'c', image: 'x:2' }] } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    await waitFor('p restarted: unready after the image change, then ready again', () => {
      const down = events.findIndex((e) => !e.ready);
      return down >= 0 && events.slice(down).some((e) => e.ready);
    });
    const deleted = await core.deleteNamespacedPod({ namespace: 'default', name: 'p' });
    assert.ok(deleted.metadata?.deletionTimestamp);
    await waitFor('p gone', () => events.some((e) => e.type === 'DELETED'));
    const terminating = events.filter((e) => e.terminating && e.type === 'MODIFIED');
    assert.ok(terminating.length >= 1 && terminating.every((e) => !e.ready));
  });

  it('kubelet: a readiness timer that fires early is re-armed (pods never get stuck unready)', async (t) => {
    class EarlyOnceClock extends FakeClock {
      private early = true;
      override async sleep(ms: number, signal?: AbortSignal): Promise<void> {
        if (signal?.aborted) throw signal.reason;
        this.advance(this.early && ms > 1 ? ms - 1 : ms);
        this.early = false;
      }
    }
    const server = await withFakeApiServer(t, { clock: new EarlyOnceClock(), readinessDelayMs: 30 });
    const { core } = clients(server);
    await core.createNamespacedPod({
      namespace: 'default',
      body: { metadata: { name: 'early' }, spec: { containers: [{ name: 'c', image: 'x:1' }] } },
    });
    await server.idle();
    assert.ok(
      isPodReady(
        (await core.readNamespacedPod({ namespace: 'default', name: 'early' })) as unknown as KubeObject,
      ),
    );
  });

  it('a never-ready annotation on the template blocks an OrderedReady StatefulSet at the first pod', async (t) => {
    const server = await withFakeApiServer(t, { readinessDelayMs: 5 });
    const { core, apps } = clients(server);
    const body = sts('nr', 3);
    body.spec!.template.metadata!.annotations = { [NEVER_READY_ANNOTATION]: 'true' };
    await apps.createNamespacedStatefulSet({ namespace: 'default', body });
    await waitFor(
      'nr-0 running',
      async () =>
        (await core.readNamespacedPod({ namespace: 'default', name: 'nr-0' })).status?.phase === 'Running',
    );
    await server.idle();
    const pods = await podsByName(core, 'nr');
    assert.deepEqual([...pods.keys()], ['nr-0']);
    const s = await apps.readNamespacedStatefulSet({ namespace: 'default', name: 'nr' });
    assert.equal(s.status?.readyReplicas, 0);
    assert.equal(s.status?.replicas, 1);
  });
});
