import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import { Informer } from '../../src/api/watch.js';
import { waitFor } from '../kube/helpers.js';
import { startCluster, type TestCluster } from '../kube/test-cluster.js';

function informer(
  t: { after: (fn: () => unknown) => void },
  server: TestCluster,
  extra: Partial<ConstructorParameters<typeof Informer<V1ConfigMap>>[0]> = {},
) {
  const kc = server.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const inf = new Informer<V1ConfigMap>({
    kc,
    what: 'configmaps',
    path: `/api/v1/namespaces/${server.namespace}/configmaps`,
    list: async () => {
      const r = await core.listNamespacedConfigMap({ namespace: server.namespace });
      return { items: r.items, resourceVersion: r.metadata!.resourceVersion! };
    },
    clock: systemClock,
    logger: nullLogger,
    backoffMs: 20,
    ...extra,
  });
  const seen: string[] = [];
  // Every real namespace holds kube-root-ca.crt (the root CA publisher's): not the test's.
  inf.on((type, o) => {
    if (o.metadata!.name !== 'kube-root-ca.crt') seen.push(`${type} ${o.metadata!.name}`);
  });
  t.after(() => inf.stop());
  return { inf, core, seen };
}

describe('operator informer', () => {
  it('lists, then streams changes into the cache', async (t) => {
    const server = await startCluster(t);
    const NS = server.namespace;
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'before' } } });
    const { inf, seen } = informer(t, server);
    await inf.start();
    assert.ok(inf.synced);
    assert.deepEqual(seen, ['ADDED before']);
    await core.createNamespacedConfigMap({
      namespace: NS,
      body: { metadata: { name: 'after' }, data: { a: '1' } },
    });
    await core.deleteNamespacedConfigMap({ namespace: NS, name: 'before' });
    await waitFor('the changes', () => seen.includes('DELETED before'));
    assert.deepEqual(seen, ['ADDED before', 'ADDED after', 'DELETED before']);
    assert.equal(inf.get(`${NS}/after`)?.data?.a, '1');
    assert.equal(inf.get(`${NS}/before`), undefined);
  });

  it('relists on 410 Gone when the watch resumes from a compacted resourceVersion', async (t) => {
    const server = await startCluster(t);
    const NS = server.namespace;
    const { inf, core, seen } = informer(t, server, { watchTimeoutSeconds: 1, backoffMs: 500 });
    await inf.start();
    await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'one' } } });
    await waitFor('one', () => seen.includes('ADDED one'));
    // The server ends the watch after 1 s; reconnecting fails for as long as the fault lasts, and
    // meanwhile a change happens and the history is compacted: resuming gets 410 and must relist.
    server.failNext({
      method: 'GET',
      pathPrefix: `/api/v1/namespaces/${NS}/configmaps`,
      status: 503,
      times: 1_000_000,
    });
    await waitFor('the failed reconnect', () => inf.stats.errors >= 1);
    await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'two' } } });
    await core.deleteNamespacedConfigMap({ namespace: NS, name: 'one' });
    await server.compact();
    server.clearFaults();
    await waitFor('a 410 relist', () => inf.stats.expired >= 1);
    await waitFor('the relisted cache', () => inf.get(`${NS}/two`) !== undefined && !inf.get(`${NS}/one`));
    assert.ok(inf.stats.lists >= 2, 'relisted after the 410');
    assert.ok(seen.includes('DELETED one'), 'a deletion missed by the watch is emitted by the relist');
    assert.equal(seen.filter((s) => s === 'ADDED one').length, 1, 'no duplicate ADDED');
  });

  it('restarts a silent watch (watchdog) and backs off while the server fails', async (t) => {
    const server = await startCluster(t);
    const NS = server.namespace;
    const { inf, core } = informer(t, server, { watchdogMs: 200 });
    await inf.start();
    await waitFor('a watchdog restart', () => inf.stats.watchdogRestarts >= 1);
    server.failNext({
      method: 'GET',
      pathPrefix: `/api/v1/namespaces/${NS}/configmaps`,
      status: 503,
      times: 3,
    });
    await waitFor('errors counted', () => inf.stats.errors >= 1);
    await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'late' } } });
    await waitFor('recovery', () => inf.get(`${NS}/late`) !== undefined);
  });
});
