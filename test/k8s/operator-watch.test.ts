import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { operatorInformers } from '../../src/operator/informers.js';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import { dropBookkeeping, Informer } from '../../src/api/watch.js';
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
    list: () => core.listNamespacedConfigMap({ namespace: server.namespace }),
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
  it('lists a page at a time into the cache, as one snapshot, trimming each object', async (t) => {
    const server = await startCluster(t);
    const NS = server.namespace;
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    for (let i = 0; i < 7; i++)
      await core.createNamespacedConfigMap({
        namespace: NS,
        body: {
          metadata: {
            name: `cm-${i}`,
            annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', keep: 'yes' },
          },
        },
      });
    const pages: { cont?: string; cachedBefore: number; rv: string }[] = [];
    const { inf } = informer(t, server, {
      transform: dropBookkeeping,
      list: async (cont) => {
        const cachedBefore = inf.list().length;
        const page = await core.listNamespacedConfigMap({ namespace: NS, limit: 3, _continue: cont });
        pages.push({ cont, cachedBefore, rv: page.metadata!.resourceVersion! });
        // What the server sends carries the bookkeeping the transform drops.
        assert.ok(page.items.every((c) => c.metadata!.managedFields?.length));
        return page;
      },
    });
    await inf.start();
    // 8 objects (kube-root-ca.crt too) in pages of 3, each cached before the next is asked for.
    assert.deepEqual(
      pages.map((p) => p.cachedBefore),
      [0, 3, 6],
    );
    assert.equal(pages[0]!.cont, undefined);
    assert.ok(pages[1]!.cont && pages[2]!.cont);
    const names = inf
      .list()
      .map((c) => c.metadata!.name!)
      .filter((n) => n !== 'kube-root-ca.crt');
    assert.deepEqual(names.sort(), ['cm-0', 'cm-1', 'cm-2', 'cm-3', 'cm-4', 'cm-5', 'cm-6']);
    for (const c of inf.list()) {
      assert.equal(c.metadata!.managedFields, undefined);
      assert.equal(c.metadata!.annotations?.['kubectl.kubernetes.io/last-applied-configuration'], undefined);
    }
    assert.equal(inf.get(`${NS}/cm-0`)!.metadata!.annotations!.keep, 'yes');
    // The watch resumes from the list's snapshot: a change made now arrives.
    await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'later' } } });
    await waitFor('the watched change', () => inf.get(`${NS}/later`) !== undefined);
    assert.equal(inf.stats.lists, 1);
  });

  it("keeps the operator's pods without their managedFields, listed or watched", async (t) => {
    const server = await startCluster(t);
    const NS = server.namespace;
    const kc = server.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const pod = (name: string) => ({
      metadata: { name, labels: { app: 'x' } },
      spec: { containers: [{ name: 'c', image: 'registry.local:5000/x:1' }] },
    });
    await core.createNamespacedPod({ namespace: NS, body: pod('listed') });
    const inf = operatorInformers([NS], { kc, clock: systemClock, logger: nullLogger });
    t.after(() => inf.pods.stop());
    await inf.pods.start();
    await core.createNamespacedPod({ namespace: NS, body: pod('watched') });
    await waitFor('the watched pod', () => inf.pods.get(`${NS}/watched`) !== undefined);
    const server1 = await core.readNamespacedPod({ namespace: NS, name: 'listed' });
    assert.ok(server1.metadata!.managedFields?.length, 'the server keeps managedFields');
    for (const name of ['listed', 'watched']) {
      const cached = inf.pods.get(`${NS}/${name}`)!;
      assert.equal(cached.metadata!.managedFields, undefined, name);
      assert.equal(cached.spec!.containers[0]!.image, 'registry.local:5000/x:1');
    }
  });
});
