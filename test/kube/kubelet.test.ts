import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppsV1Api, BatchV1Api, CoreV1Api, PolicyV1Api, type V1Pod } from '@kubernetes/client-node';
import { startCluster } from './test-cluster.js';
import { CRASH_ANNOTATION, NEVER_READY_ANNOTATION, isPodReady, type PodRuntime } from './fake-kubelet.js';
import { expectApiError, waitFor } from './helpers.js';

function pod(
  name: string,
  opts: { image?: string; annotations?: Record<string, string>; restartPolicy?: string } = {},
): V1Pod {
  return {
    metadata: { name, annotations: opts.annotations },
    spec: {
      containers: [{ name: 'main', image: opts.image ?? 'example/app:1' }],
      ...(opts.restartPolicy ? { restartPolicy: opts.restartPolicy } : {}),
    },
  };
}

describe('fake kubelet on the real control plane', () => {
  it('registers Ready nodes with labels, taints, capacity and a kubelet version, and renews their Leases', async (t) => {
    const c = await startCluster(t, {
      nodes: [
        { name: 'a', labels: { zone: 'z1' } },
        { name: 'b', kubeletVersion: 'v1.36.1' },
      ],
    });
    const core = c.kubeConfig().makeApiClient(CoreV1Api);
    const node = await core.readNode({ name: `${c.namespace}-a` });
    assert.equal(node.metadata!.labels!.zone, 'z1');
    assert.deepEqual(
      node.spec!.taints!.map((x) => `${x.key}=${x.value}:${x.effect}`),
      [`baton.dev/test-node-group=${c.namespace}:NoSchedule`],
    );
    assert.equal(node.status!.nodeInfo!.kubeletVersion, 'v1.37.2');
    assert.equal(node.status!.capacity!.pods, '110');
    assert.equal(node.status!.conditions!.find((x) => x.type === 'Ready')!.status, 'True');
    const b = await core.readNode({ name: `${c.namespace}-b` });
    assert.equal(b.status!.nodeInfo!.kubeletVersion, 'v1.36.1');
    const lease = await c.rest.get<{ spec: { holderIdentity: string } }>(
      `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${c.namespace}-a`,
    );
    assert.equal(lease.spec.holderIdentity, `${c.namespace}-a`);
  });

  it("runs a StatefulSet: the real scheduler binds its pods to this test's nodes and they turn Ready", async (t) => {
    const c = await startCluster(t, { readinessDelayMs: 50 });
    const other = await startCluster(t);
    const apps = c.kubeConfig().makeApiClient(AppsV1Api);
    const core = c.kubeConfig().makeApiClient(CoreV1Api);
    await apps.createNamespacedStatefulSet({
      namespace: c.namespace,
      body: {
        metadata: { name: 'db' },
        spec: {
          replicas: 3,
          serviceName: 'db',
          selector: { matchLabels: { app: 'db' } },
          template: {
            metadata: { labels: { app: 'db' } },
            spec: { containers: [{ name: 'db', image: 'example/db:1' }] },
          },
        },
      },
    });
    await waitFor(
      'three ready replicas',
      async () =>
        (await apps.readNamespacedStatefulSet({ namespace: c.namespace, name: 'db' })).status
          ?.readyReplicas === 3,
      60_000,
      50,
    );
    const pods = await core.listNamespacedPod({ namespace: c.namespace });
    assert.equal(pods.items.length, 3);
    for (const p of pods.items) {
      assert.equal(p.spec!.nodeName, `${c.namespace}-node-1`);
      assert.ok(isPodReady(p));
      assert.equal(p.status!.containerStatuses![0]!.image, 'example/db:1');
    }
    assert.notEqual(c.namespace, other.namespace);
  });

  it('honours graceful deletion: unready at once, then gone after the termination delay', async (t) => {
    const c = await startCluster(t, { podTerminationMs: 300 });
    const core = c.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedPod({ namespace: c.namespace, body: pod('p') });
    await waitFor(
      'ready',
      async () => isPodReady(await core.readNamespacedPod({ namespace: c.namespace, name: 'p' })),
      60_000,
      20,
    );
    await core.deleteNamespacedPod({ namespace: c.namespace, name: 'p' });
    const terminating = await core.readNamespacedPod({ namespace: c.namespace, name: 'p' });
    assert.ok(terminating.metadata!.deletionTimestamp);
    await waitFor(
      'gone',
      async () => {
        try {
          await core.readNamespacedPod({ namespace: c.namespace, name: 'p' });
          return false;
        } catch {
          return true;
        }
      },
      30_000,
      20,
    );
  });

  it('keeps never-ready pods unready, crashes crashing ones, and leaves bad images Pending', async (t) => {
    const c = await startCluster(t, { badImages: ['example/broken:1'] });
    const core = c.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedPod({
      namespace: c.namespace,
      body: pod('never', { annotations: { [NEVER_READY_ANNOTATION]: 'true' } }),
    });
    await core.createNamespacedPod({
      namespace: c.namespace,
      body: pod('crash', { annotations: { [CRASH_ANNOTATION]: 'true' } }),
    });
    await core.createNamespacedPod({
      namespace: c.namespace,
      body: pod('bad', { image: 'example/broken:1' }),
    });
    await core.createNamespacedPod({ namespace: c.namespace, body: pod('ok') });
    await waitFor(
      'ok ready',
      async () => isPodReady(await core.readNamespacedPod({ namespace: c.namespace, name: 'ok' })),
      60_000,
      20,
    );
    const get = (name: string) => core.readNamespacedPod({ namespace: c.namespace, name });
    await waitFor(
      'statuses',
      async () => {
        const [n, cr, b] = await Promise.all([get('never'), get('crash'), get('bad')]);
        return (
          n.status?.phase === 'Running' &&
          cr.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff' &&
          b.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff'
        );
      },
      30_000,
      20,
    );
    for (const name of ['never', 'crash', 'bad']) assert.equal(isPodReady(await get(name)), false, name);
    assert.equal((await get('bad')).status!.phase, 'Pending');
  });

  it('runs Job pods to completion and DaemonSet pods on every node', async (t) => {
    const c = await startCluster(t, { nodes: 2 });
    const batch = c.kubeConfig().makeApiClient(BatchV1Api);
    const apps = c.kubeConfig().makeApiClient(AppsV1Api);
    await batch.createNamespacedJob({
      namespace: c.namespace,
      body: {
        metadata: { name: 'once' },
        spec: {
          template: {
            spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'example/job:1' }] },
          },
        },
      },
    });
    await apps.createNamespacedDaemonSet({
      namespace: c.namespace,
      body: {
        metadata: { name: 'agent' },
        spec: {
          selector: { matchLabels: { app: 'agent' } },
          template: {
            metadata: { labels: { app: 'agent' } },
            spec: {
              tolerations: [c.toleration()],
              containers: [{ name: 'agent', image: 'example/agent:1' }],
            },
          },
        },
      },
    });
    await waitFor(
      'job complete',
      async () =>
        (await batch.readNamespacedJob({ namespace: c.namespace, name: 'once' })).status?.succeeded === 1,
      60_000,
      50,
    );
    await waitFor(
      'daemonset ready on both nodes',
      async () =>
        (await apps.readNamespacedDaemonSet({ namespace: c.namespace, name: 'agent' })).status
          ?.numberReady === 2,
      60_000,
      50,
    );
  });
});

/** A runtime whose readiness and stops the test controls, recording every call. */
function scriptedRuntime(claim: (name: string) => boolean) {
  const calls: string[] = [];
  const ready = new Set<string>();
  let releaseStop: (() => void) | undefined;
  const stopGate = new Promise<void>((r) => (releaseStop = r));
  const runtime: PodRuntime = {
    claims: (p) => claim(p.metadata!.name!),
    start: (p) => {
      calls.push(`start ${p.metadata!.name}`);
      return Promise.resolve();
    },
    stop: async (p) => {
      calls.push(`stop ${p.metadata!.name}`);
      await stopGate;
      calls.push(`stopped ${p.metadata!.name}`);
    },
    ready: (p) => Promise.resolve(ready.has(p.metadata!.name!)),
  };
  return { runtime, calls, ready, releaseStop: () => releaseStop!() };
}

describe('fake kubelet: process-backed pods and the real disruption controller', () => {
  it('claimed pods start once, are Ready only when the probe says so, and stay Terminating until stopped', async (t) => {
    const c = await startCluster(t, { readinessDelayMs: 5, podTerminationMs: 5, probePeriodMs: 10 });
    const script = scriptedRuntime((name) => name === 'real');
    c.kubelet.settings.runtime = script.runtime;
    const core = c.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedPod({ namespace: c.namespace, body: pod('real') });
    await core.createNamespacedPod({ namespace: c.namespace, body: pod('sim') });
    const read = (name: string) => core.readNamespacedPod({ namespace: c.namespace, name });

    await waitFor(
      'the unclaimed pod Ready after the delay',
      async () => isPodReady(await read('sim')),
      60_000,
    );
    await waitFor('the claimed pod started', () => script.calls.includes('start real'), 60_000);
    assert.equal(isPodReady(await read('real')), false, 'not Ready while the probe says no');
    script.ready.add('real');
    await waitFor('Ready once the probe says yes', async () => isPodReady(await read('real')), 30_000);
    script.ready.delete('real');
    await waitFor('unready again when the probe fails', async () => !isPodReady(await read('real')), 30_000);

    await core.deleteNamespacedPod({ namespace: c.namespace, name: 'real' });
    await waitFor('the stop began', () => script.calls.includes('stop real'), 30_000);
    // A hundred times the termination delay: without the runtime's stop holding it, it would be gone.
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(
      (await read('real')).metadata!.deletionTimestamp,
      'still there, Terminating, while its stop runs',
    );
    script.releaseStop();
    await waitFor(
      'gone once stopped',
      async () => {
        try {
          await read('real');
          return false;
        } catch {
          return true;
        }
      },
      30_000,
    );
    assert.deepEqual(script.calls, ['start real', 'stop real', 'stopped real']);
  });

  it('Eviction honours a PodDisruptionBudget kept by the real disruption controller', async (t) => {
    // Evicted pods stay Terminating (long termination) so the budget stays spent.
    const c = await startCluster(t, { podTerminationMs: 600_000 });
    const kc = c.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    const policy = kc.makeApiClient(PolicyV1Api);
    await apps.createNamespacedStatefulSet({
      namespace: c.namespace,
      body: {
        metadata: { name: 'kv' },
        spec: {
          replicas: 3,
          serviceName: 'kv',
          podManagementPolicy: 'Parallel',
          selector: { matchLabels: { app: 'kv' } },
          template: {
            metadata: { labels: { app: 'kv' } },
            spec: { containers: [{ name: 'kv', image: 'kv:1' }] },
          },
        },
      },
    });
    await policy.createNamespacedPodDisruptionBudget({
      namespace: c.namespace,
      body: {
        metadata: { name: 'kv-pdb' },
        spec: { selector: { matchLabels: { app: 'kv' } }, maxUnavailable: 1 },
      },
    });
    const pdb = await waitFor(
      'the budget computed',
      async () => {
        const p = await policy.readNamespacedPodDisruptionBudget({ namespace: c.namespace, name: 'kv-pdb' });
        return p.status?.currentHealthy === 3 && p.status.disruptionsAllowed === 1 ? p : undefined;
      },
      60_000,
      50,
    );
    assert.equal(pdb.status?.desiredHealthy, 2);
    const evict = (name: string) =>
      core.createNamespacedPodEviction({
        namespace: c.namespace,
        name,
        body: { metadata: { name, namespace: c.namespace } },
      });
    await evict('kv-2');
    assert.ok(
      (await core.readNamespacedPod({ namespace: c.namespace, name: 'kv-2' })).metadata?.deletionTimestamp,
    );
    await waitFor(
      'the spent budget',
      async () =>
        (await policy.readNamespacedPodDisruptionBudget({ namespace: c.namespace, name: 'kv-pdb' })).status
          ?.disruptionsAllowed === 0,
      30_000,
      50,
    );
    const refused = await expectApiError(() => evict('kv-1'));
    assert.equal(refused.code, 429);
    assert.equal(refused.reason, 'TooManyRequests');
    assert.match(refused.message ?? '', /Cannot evict pod as it would violate the pod's disruption budget/);
    assert.ok(isPodReady(await core.readNamespacedPod({ namespace: c.namespace, name: 'kv-1' })));
  });
});
