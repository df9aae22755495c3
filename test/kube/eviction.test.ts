import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppsV1Api, CoreV1Api, PolicyV1Api } from '@kubernetes/client-node';
import { isPodReady } from './fake-apiserver.js';
import { expectApiError, waitFor, withFakeApiServer } from './helpers.js';
import type { KubeObject } from './types.js';

async function cluster(t: Parameters<typeof withFakeApiServer>[0], pdbSpec: Record<string, unknown>) {
  const server = await withFakeApiServer(t, { readinessDelayMs: 5 });
  const kc = server.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const policy = kc.makeApiClient(PolicyV1Api);
  await apps.createNamespacedStatefulSet({
    namespace: 'default',
    body: {
      metadata: { name: 'kv' },
      spec: {
        replicas: 3,
        serviceName: 'kv',
        selector: { matchLabels: { app: 'kv' } },
        template: {
          metadata: { labels: { app: 'kv' } },
          spec: { containers: [{ name: 'kv', image: 'kv:1' }] },
        },
      },
    },
  });
  await policy.createNamespacedPodDisruptionBudget({
    namespace: 'default',
    body: { metadata: { name: 'kv-pdb' }, spec: { selector: { matchLabels: { app: 'kv' } }, ...pdbSpec } },
  });
  await waitFor(
    '3 ready pods',
    async () =>
      (await apps.readNamespacedStatefulSet({ namespace: 'default', name: 'kv' })).status?.readyReplicas ===
      3,
  );
  const evict = (name: string) =>
    core.createNamespacedPodEviction({
      namespace: 'default',
      name,
      body: { metadata: { name, namespace: 'default' } },
    });
  return { server, core, apps, policy, evict };
}

describe('fake API server: Eviction and PodDisruptionBudgets', () => {
  it('allows one eviction under maxUnavailable=1 and refuses the next with 429 naming the budget', async (t) => {
    const { server, core, policy, evict } = await cluster(t, { maxUnavailable: 1 });
    // Evicted pods stay Terminating until force-deleted below, so the budget stays spent.
    server.kubelet.podTerminationMs = 600_000;
    const pdb = await waitFor('PDB status', async () => {
      const p = await policy.readNamespacedPodDisruptionBudget({ namespace: 'default', name: 'kv-pdb' });
      return p.status?.currentHealthy === 3 ? p : undefined;
    });
    assert.equal(pdb.status?.desiredHealthy, 2);
    assert.equal(pdb.status?.disruptionsAllowed, 1);
    assert.equal(pdb.status?.expectedPods, 3);

    await evict('kv-2');
    const evicted = await core.readNamespacedPod({ namespace: 'default', name: 'kv-2' });
    assert.ok(evicted.metadata?.deletionTimestamp, 'the evicted pod is being deleted');

    const refused = await expectApiError(() => evict('kv-1'));
    assert.equal(refused.code, 429);
    assert.equal(refused.reason, 'TooManyRequests');
    assert.equal(refused.message, "Cannot evict pod as it would violate the pod's disruption budget.");
    assert.equal(
      refused.details?.causes?.[0]?.message,
      'The disruption budget kv-pdb needs 2 healthy pods and has 2 currently',
    );
    const kv1 = await core.readNamespacedPod({ namespace: 'default', name: 'kv-1' });
    assert.ok(isPodReady(kv1 as unknown as KubeObject), 'a refused eviction leaves the pod alone');

    await core.deleteNamespacedPod({ namespace: 'default', name: 'kv-2', gracePeriodSeconds: 0 });
    await waitFor('kv-2 back and ready', async () => {
      const p = await core.readNamespacedPod({ namespace: 'default', name: 'kv-2' });
      return p.metadata?.uid !== evicted.metadata?.uid && isPodReady(p as unknown as KubeObject);
    });
    await waitFor(
      'budget restored',
      async () =>
        (await policy.readNamespacedPodDisruptionBudget({ namespace: 'default', name: 'kv-pdb' })).status
          ?.disruptionsAllowed === 1,
    );
    await evict('kv-1');
  });

  it('honours minAvailable as a percentage (rounded up)', async (t) => {
    const { evict } = await cluster(t, { minAvailable: '100%' });
    const refused = await expectApiError(() => evict('kv-0'));
    assert.equal(refused.code, 429);
    assert.equal(
      refused.details?.causes?.[0]?.message,
      'The disruption budget kv-pdb needs 3 healthy pods and has 3 currently',
    );
  });

  it('evicts pods without a matching budget, and 404s for a missing pod', async (t) => {
    const { core, policy, evict } = await cluster(t, { minAvailable: 3 });
    await policy.deleteNamespacedPodDisruptionBudget({ namespace: 'default', name: 'kv-pdb' });
    const uid = (await core.readNamespacedPod({ namespace: 'default', name: 'kv-0' })).metadata?.uid;
    await evict('kv-0');
    const pod = await core.readNamespacedPod({ namespace: 'default', name: 'kv-0' }).catch(() => undefined);
    assert.ok(!pod || pod.metadata?.deletionTimestamp || pod.metadata?.uid !== uid);
    const missing = await expectApiError(() => evict('nope'));
    assert.equal(missing.code, 404);
  });
});
