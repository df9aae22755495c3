import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import { Informer } from '../../src/operator/watch.js';
import { waitFor, withFakeApiServer } from '../kube/helpers.js';
import type { FakeApiServer } from '../kube/fake-apiserver.js';

function informer(
  t: { after: (fn: () => unknown) => void },
  server: FakeApiServer,
  extra: Partial<ConstructorParameters<typeof Informer<V1ConfigMap>>[0]> = {},
) {
  const kc = server.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const inf = new Informer<V1ConfigMap>({
    kc,
    what: 'configmaps',
    path: '/api/v1/namespaces/default/configmaps',
    list: async () => {
      const r = await core.listNamespacedConfigMap({ namespace: 'default' });
      return { items: r.items, resourceVersion: r.metadata!.resourceVersion! };
    },
    clock: systemClock,
    logger: nullLogger,
    backoffMs: 20,
    ...extra,
  });
  const seen: string[] = [];
  inf.on((type, o) => seen.push(`${type} ${o.metadata!.name}`));
  t.after(() => inf.stop());
  return { inf, core, seen };
}

describe('operator informer', () => {
  it('lists, then streams changes into the cache', async (t) => {
    const server = await withFakeApiServer(t);
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'before' } } });
    const { inf, seen } = informer(t, server);
    await inf.start();
    assert.ok(inf.synced);
    assert.deepEqual(seen, ['ADDED before']);
    await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'after' }, data: { a: '1' } },
    });
    await core.deleteNamespacedConfigMap({ namespace: 'default', name: 'before' });
    await waitFor('the changes', () => seen.includes('DELETED before'));
    assert.deepEqual(seen, ['ADDED before', 'ADDED after', 'DELETED before']);
    assert.equal(inf.get('default/after')?.data?.a, '1');
    assert.equal(inf.get('default/before'), undefined);
  });

  it('relists on 410 Gone when the watch resumes from a compacted resourceVersion', async (t) => {
    const server = await withFakeApiServer(t);
    const { inf, core, seen } = informer(t, server, { watchTimeoutSeconds: 1, backoffMs: 500 });
    await inf.start();
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'one' } } });
    await waitFor('one', () => seen.includes('ADDED one'));
    // The server ends the watch after 1 s; the first reconnect fails, and while the informer backs
    // off, a change happens and the history is compacted: resuming gets 410 and must relist.
    server.failNext({ method: 'GET', pathPrefix: '/api/v1/namespaces/default/configmaps', status: 503 });
    await waitFor('the failed reconnect', () => inf.stats.errors >= 1);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'two' } } });
    await core.deleteNamespacedConfigMap({ namespace: 'default', name: 'one' });
    server.compact();
    await waitFor('a 410 relist', () => inf.stats.expired >= 1);
    await waitFor(
      'the relisted cache',
      () => inf.get('default/two') !== undefined && !inf.get('default/one'),
    );
    assert.ok(inf.stats.lists >= 2, 'relisted after the 410');
    assert.ok(seen.includes('DELETED one'), 'a deletion missed by the watch is emitted by the relist');
    assert.equal(seen.filter((s) => s === 'ADDED one').length, 1, 'no duplicate ADDED');
  });

  it('restarts a silent watch (watchdog) and backs off while the server fails', async (t) => {
    const server = await withFakeApiServer(t, { bookmarkIntervalMs: 0 });
    const { inf, core } = informer(t, server, { watchdogMs: 200 });
    await inf.start();
    await waitFor('a watchdog restart', () => inf.stats.watchdogRestarts >= 1);
    server.failNext({
      method: 'GET',
      pathPrefix: '/api/v1/namespaces/default/configmaps',
      status: 503,
      times: 3,
    });
    await waitFor('errors counted', () => inf.stats.errors >= 1);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'late' } } });
    await waitFor('recovery', () => inf.get('default/late') !== undefined);
  });
});
