import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppsV1Api, CoreV1Api, Watch } from '@kubernetes/client-node';
import { FakeClock } from '../../src/core/clock.js';
import { startFakeApiServer } from './fake-apiserver.js';
import { expectApiError, waitFor, withFakeApiServer } from './helpers.js';

describe('fake API server: faults, latency, request log, shutdown', () => {
  it('failNext fails the matching requests the given number of times, then recovers', async (t) => {
    const server = await withFakeApiServer(t);
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    server.failNext({
      method: 'GET',
      pathPrefix: '/api/v1/namespaces/default/configmaps',
      status: 503,
      times: 2,
    });
    server.failNext({ method: 'POST', status: 429, message: 'slow down' });
    const a = await expectApiError(() => core.listNamespacedConfigMap({ namespace: 'default' }));
    assert.equal(a.code, 503);
    assert.equal(a.reason, 'ServiceUnavailable');
    assert.equal(
      (await expectApiError(() => core.listNamespacedConfigMap({ namespace: 'default' }))).code,
      503,
    );
    await core.listNamespacedConfigMap({ namespace: 'default' });
    await core.listNamespacedSecret({ namespace: 'default' });
    const throttled = await expectApiError(() =>
      core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'x' } } }),
    );
    assert.equal(throttled.code, 429);
    assert.equal(throttled.message, 'slow down');
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'x' } } });
    const stats = server.requests();
    assert.equal(stats.entries.filter((e) => e.injected).length, 3);
    assert.equal(stats.byVerbResource['list configmaps'], 3);
    assert.equal(stats.byVerbResource['create configmaps'], 2);
  });

  it('injects a 409 on a StatefulSet update path only', async (t) => {
    const server = await withFakeApiServer(t);
    const kc = server.kubeConfig();
    const apps = kc.makeApiClient(AppsV1Api);
    await apps.createNamespacedStatefulSet({
      namespace: 'default',
      body: {
        metadata: { name: 's' },
        spec: {
          replicas: 0,
          serviceName: 's',
          selector: { matchLabels: { a: 's' } },
          template: { metadata: { labels: { a: 's' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
        },
      },
    });
    server.failNext({
      method: 'PUT',
      pathPrefix: '/apis/apps/v1/namespaces/default/statefulsets/s',
      status: 409,
    });
    const s = await apps.readNamespacedStatefulSet({ namespace: 'default', name: 's' });
    const err = await expectApiError(() =>
      apps.replaceNamespacedStatefulSet({ namespace: 'default', name: 's', body: s }),
    );
    assert.equal(err.code, 409);
    assert.equal(err.reason, 'Conflict');
  });

  it('counts requests per verb and resource and resets', async (t) => {
    const server = await withFakeApiServer(t);
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'c' } } });
    await core.readNamespacedConfigMap({ namespace: 'default', name: 'c' });
    await core.readNamespacedConfigMap({ namespace: 'default', name: 'c' });
    await core.replaceNamespacedConfigMapWithHttpInfo({
      namespace: 'default',
      name: 'c',
      body: { metadata: { name: 'c' }, data: { a: 'b' } },
    });
    await core.deleteNamespacedConfigMap({ namespace: 'default', name: 'c' });
    const stats = server.requests();
    assert.deepEqual(stats.byVerb, { create: 1, get: 2, update: 1, delete: 1 });
    assert.deepEqual(stats.byResource, { configmaps: 5 });
    assert.equal(stats.total, 5);
    assert.ok(stats.entries.every((e) => e.namespace === 'default' && e.status >= 200 && e.status < 300));
    server.resetRequests();
    assert.equal(server.requests().total, 0);
  });

  it('adds latency through the injected clock', async (t) => {
    const clock = new FakeClock();
    const server = await withFakeApiServer(t, { clock });
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    server.setLatency({ ms: 250, method: 'GET', pathPrefix: '/api/v1/namespaces/default/secrets' });
    const t0 = clock.now();
    await core.listNamespacedSecret({ namespace: 'default' });
    assert.equal(clock.now() - t0, 250);
    await core.listNamespacedConfigMap({ namespace: 'default' });
    assert.equal(clock.now() - t0, 250, 'other paths are not delayed');
  });

  it('close() leaves no sockets, servers or timers behind, even with open watches and rolling pods', async () => {
    const before = countHandles();
    const server = await startFakeApiServer({ readinessDelayMs: 50, bookmarkIntervalMs: 5 });
    const kc = server.kubeConfig();
    const apps = kc.makeApiClient(AppsV1Api);
    await apps.createNamespacedStatefulSet({
      namespace: 'default',
      body: {
        metadata: { name: 'c' },
        spec: {
          replicas: 3,
          podManagementPolicy: 'Parallel',
          serviceName: 'c',
          selector: { matchLabels: { a: 'c' } },
          template: { metadata: { labels: { a: 'c' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
        },
      },
    });
    let ended = false;
    const ctl = await new Watch(kc).watch(
      '/api/v1/pods',
      { allowWatchBookmarks: true },
      () => {},
      () => {
        ended = true;
      },
    );
    await server.close();
    await waitFor('watch ended', () => ended);
    ctl.abort();
    const after = await waitFor('handles released', () => {
      const now = countHandles();
      return now.TCPServerWrap <= before.TCPServerWrap &&
        now.TCPSocketWrap <= before.TCPSocketWrap &&
        now.Timeout <= before.Timeout
        ? now
        : undefined;
    });
    assert.ok(after.TCPServerWrap <= before.TCPServerWrap);
  });
});

function countHandles(): Record<'TCPServerWrap' | 'TCPSocketWrap' | 'Timeout', number> {
  const info = process.getActiveResourcesInfo();
  const n = (k: string) => info.filter((x) => x === k).length;
  return { TCPServerWrap: n('TCPServerWrap'), TCPSocketWrap: n('TCPSocketWrap'), Timeout: n('Timeout') };
}
