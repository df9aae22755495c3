import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, Watch } from '@kubernetes/client-node';
import { startCluster } from './test-cluster.js';
import { requestInfo } from './fault-proxy.js';
import { expectApiError, waitFor } from './helpers.js';

describe('fault proxy in front of the real apiserver', () => {
  it('names verbs and resources as the apiserver does', () => {
    const info = (m: string, p: string) => {
      const r = requestInfo(m, new URL(p, 'https://x'));
      return `${r.verb} ${r.resource}`;
    };
    assert.equal(info('GET', '/api/v1/namespaces/a/pods'), 'list pods');
    assert.equal(info('GET', '/api/v1/namespaces/a/pods?watch=true'), 'watch pods');
    assert.equal(info('GET', '/api/v1/watch/namespaces/a/pods'), 'watch pods');
    assert.equal(info('GET', '/api/v1/namespaces/a/pods/p'), 'get pods');
    assert.equal(info('POST', '/api/v1/namespaces/a/pods/p/eviction'), 'create pods/eviction');
    assert.equal(
      info('PATCH', '/apis/apps/v1/namespaces/a/statefulsets/s/status'),
      'patch statefulsets/status',
    );
    assert.equal(info('DELETE', '/api/v1/namespaces/a/pods'), 'deletecollection pods');
    assert.equal(info('GET', '/api/v1/namespaces/a'), 'get namespaces');
    assert.equal(info('GET', '/api/v1/nodes'), 'list nodes');
    assert.equal(info('GET', '/apis/baton.dev/v1alpha1/namespaces/a/upgrades'), 'list upgrades');
    assert.equal(info('GET', '/version'), 'nonresource ');
    assert.equal(info('GET', '/apis/apps/v1'), 'nonresource ');
  });

  it('injects Status errors, counts requests per verb and resource, and passes tokens through', async (t) => {
    const c = await startCluster(t);
    const core = c.kubeConfig().makeApiClient(CoreV1Api);
    c.failNext({
      method: 'GET',
      pathPrefix: `/api/v1/namespaces/${c.namespace}/configmaps`,
      status: 503,
      times: 2,
    });
    c.failNext({ method: 'POST', status: 429 });
    for (const want of [503, 503]) {
      const err = await expectApiError(() => core.listNamespacedConfigMap({ namespace: c.namespace }));
      assert.equal(err.code, want);
      assert.equal(err.reason, 'ServiceUnavailable');
    }
    const throttled = await expectApiError(() =>
      core.createNamespacedConfigMap({ namespace: c.namespace, body: { metadata: { name: 'a' } } }),
    );
    assert.equal(throttled.code, 429);
    await core.createNamespacedConfigMap({ namespace: c.namespace, body: { metadata: { name: 'a' } } });
    await core.listNamespacedConfigMap({ namespace: c.namespace });
    const stats = c.requests();
    assert.equal(stats.byVerbResource['list configmaps'], 3);
    assert.equal(stats.byVerbResource['create configmaps'], 2);
    assert.equal(stats.entries.filter((e) => e.injected).length, 3);

    // RBAC still decides: a token nobody bound is refused by the real apiserver through the proxy.
    const anon = c.kubeConfig({ token: 'not-a-token' }).makeApiClient(CoreV1Api);
    assert.equal((await expectApiError(() => anon.listNamespacedPod({ namespace: c.namespace }))).code, 401);
  });

  it('adds latency to matching requests', async (t) => {
    const c = await startCluster(t);
    const core = c.kubeConfig().makeApiClient(CoreV1Api);
    c.setLatency({ ms: 300, method: 'GET' });
    const t0 = Date.now();
    await core.listNamespacedConfigMap({ namespace: c.namespace });
    assert.ok(Date.now() - t0 >= 300);
    c.setLatency({ ms: 0, method: 'GET' });
  });

  it('cuts watches, and answers a watch from before a compaction with 410 Expired', async (t) => {
    const c = await startCluster(t);
    const kc = c.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const rv = await c.resourceVersion();
    let ended: unknown = 'open';
    const seen: string[] = [];
    const ctl = await new Watch(kc).watch(
      `/api/v1/namespaces/${c.namespace}/configmaps`,
      { resourceVersion: rv },
      (type, obj: { metadata: { name: string } }) => seen.push(`${type} ${obj.metadata.name}`),
      (err) => (ended = err),
    );
    t.after(() => ctl.abort());
    await core.createNamespacedConfigMap({ namespace: c.namespace, body: { metadata: { name: 'one' } } });
    await waitFor('the event', () => seen.includes('ADDED one'));
    assert.equal(c.dropWatches(), 1);
    await waitFor('the watch to end', () => ended !== 'open');

    await c.compact();
    const errors: { type: string; code?: number; reason?: string }[] = [];
    let done = false;
    await new Watch(kc).watch(
      `/api/v1/namespaces/${c.namespace}/configmaps`,
      { resourceVersion: rv },
      (type, obj: { code?: number; reason?: string }) =>
        errors.push({ type, code: obj.code, reason: obj.reason }),
      () => (done = true),
    );
    await waitFor('the expired watch to end', () => done);
    assert.deepEqual(errors, [{ type: 'ERROR', code: 410, reason: 'Expired' }]);
    // A relist gives a fresh resourceVersion that watches again.
    const fresh = await core.listNamespacedConfigMap({ namespace: c.namespace });
    const again: string[] = [];
    const ctl2 = await new Watch(kc).watch(
      `/api/v1/namespaces/${c.namespace}/configmaps`,
      { resourceVersion: fresh.metadata!.resourceVersion! },
      (type, obj: { metadata: { name: string } }) => again.push(`${type} ${obj.metadata.name}`),
      () => undefined,
    );
    t.after(() => ctl2.abort());
    await core.createNamespacedConfigMap({ namespace: c.namespace, body: { metadata: { name: 'two' } } });
    await waitFor('the new watch to see it', () => again.includes('ADDED two'));
  });
});
