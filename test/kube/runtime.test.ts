import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api } from '@kubernetes/client-node';
import { isPodReady } from './fake-apiserver.js';
import { waitFor, withFakeApiServer } from './helpers.js';
import type { PodRuntime } from './kubelet.js';
import type { KubeObject } from './types.js';

/** A runtime whose readiness and stops the test controls, recording every call. */
function scriptedRuntime(claim: (name: string) => boolean) {
  const calls: string[] = [];
  const ready = new Set<string>();
  let releaseStop: (() => void) | undefined;
  const stopGate = new Promise<void>((r) => (releaseStop = r));
  const runtime: PodRuntime = {
    claims: (pod) => claim(pod.metadata.name!),
    start: (pod) => {
      calls.push(`start ${pod.metadata.name}`);
      return Promise.resolve();
    },
    stop: async (pod) => {
      calls.push(`stop ${pod.metadata.name}`);
      await stopGate;
      calls.push(`stopped ${pod.metadata.name}`);
    },
    ready: (pod) => Promise.resolve(ready.has(pod.metadata.name!)),
  };
  return { runtime, calls, ready, releaseStop: () => releaseStop!() };
}

describe('kubelet runtime hook', () => {
  it('claimed pods start once, are Ready only when the probe says so, and stay Terminating until stopped', async (t) => {
    const server = await withFakeApiServer(t, { readinessDelayMs: 5, podTerminationMs: 5 });
    const script = scriptedRuntime((name) => name === 'real');
    server.kubelet.runtime = script.runtime;
    server.kubelet.probePeriodMs = 10;
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    const pod = (name: string) => ({
      metadata: { name },
      spec: { containers: [{ name: 'c', image: 'x:1' }] },
    });
    await core.createNamespacedPod({ namespace: 'default', body: pod('real') });
    await core.createNamespacedPod({ namespace: 'default', body: pod('sim') });
    const read = async (name: string) =>
      (await core.readNamespacedPod({ namespace: 'default', name })) as unknown as KubeObject;

    await waitFor('the unclaimed pod Ready after the delay', async () => isPodReady(await read('sim')));
    await waitFor('the claimed pod started', () => script.calls.includes('start real'));
    assert.equal(isPodReady(await read('real')), false, 'not Ready while the probe says no');
    script.ready.add('real');
    await waitFor('the claimed pod Ready once the probe says yes', async () =>
      isPodReady(await read('real')),
    );
    script.ready.delete('real');
    await waitFor('unready again when the probe fails', async () => !isPodReady(await read('real')));

    await core.deleteNamespacedPod({ namespace: 'default', name: 'real' });
    await waitFor('the stop began', () => script.calls.includes('stop real'));
    // Ten times the termination delay: without the runtime's stop holding it, the pod would be gone.
    await new Promise((r) => setTimeout(r, 50));
    const terminating = await read('real');
    assert.ok(terminating.metadata.deletionTimestamp, 'still there, Terminating, while its stop runs');
    script.releaseStop();
    await waitFor('gone once stopped', async () => {
      try {
        await read('real');
        return false;
      } catch {
        return true;
      }
    });
    assert.deepEqual(script.calls, ['start real', 'stop real', 'stopped real']);
  });
});
