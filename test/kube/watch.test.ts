import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CoreV1Api,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type V1ConfigMap,
} from '@kubernetes/client-node';
import { startFakeApiServer, type FakeApiServer } from './fake-apiserver.js';
import { waitFor, withFakeApiServer } from './helpers.js';

interface Seen {
  type: string;
  name?: string;
  rv?: string;
  code?: number;
  reason?: string;
  data?: Record<string, string>;
}

/** Open a client-node watch and collect its events; aborted when the test ends. */
async function collect(
  t: { after: (fn: () => void) => void },
  server: FakeApiServer,
  path: string,
  query: Record<string, string | number | boolean | undefined>,
) {
  const events: Seen[] = [];
  let ended: unknown = 'open';
  const watch = new Watch(server.kubeConfig());
  const ctl = await watch.watch(
    path,
    query,
    (
      type,
      obj: {
        metadata?: { name?: string; resourceVersion?: string };
        code?: number;
        reason?: string;
        data?: Record<string, string>;
      },
    ) =>
      events.push({
        type,
        name: obj.metadata?.name,
        rv: obj.metadata?.resourceVersion,
        code: obj.code,
        reason: obj.reason,
        data: obj.data,
      }),
    (err) => {
      ended = err;
    },
  );
  t.after(() => ctl.abort());
  return { events, ended: () => ended };
}

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

describe('fake API server: watch', () => {
  it('replays changes after a resourceVersion, then streams new ones', async (t) => {
    const server = await withFakeApiServer(t);
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    const start = await core.listNamespacedConfigMap({ namespace: 'default' });
    await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'w1' }, data: { v: '1' } },
    });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'w2' } } });
    await core.patchNamespacedConfigMap(
      { namespace: 'default', name: 'w1', body: { data: { v: '2' } } },
      merge,
    );
    await core.deleteNamespacedConfigMap({ namespace: 'default', name: 'w2' });
    const w = await collect(t, server, '/api/v1/namespaces/default/configmaps', {
      resourceVersion: start.metadata!.resourceVersion,
    });
    await waitFor('replayed events', () => w.events.length >= 4);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'w3' } } });
    await waitFor('live event', () => w.events.length >= 5);
    assert.deepEqual(
      w.events.map((e) => `${e.type} ${e.name}`),
      ['ADDED w1', 'ADDED w2', 'MODIFIED w1', 'DELETED w2', 'ADDED w3'],
    );
    assert.deepEqual(w.events[2]!.data, { v: '2' });
    const rvs = w.events.map((e) => Number(e.rv));
    assert.deepEqual(
      [...rvs].sort((a, b) => a - b),
      rvs,
      'resourceVersions increase',
    );
  });

  it('without a resourceVersion sends the current objects as ADDED first', async (t) => {
    const server = await withFakeApiServer(t);
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'pre' } } });
    const w = await collect(t, server, '/api/v1/namespaces/default/configmaps', {});
    await waitFor('initial ADDED', () => w.events.length >= 1);
    assert.deepEqual(w.events[0], {
      type: 'ADDED',
      name: 'pre',
      rv: w.events[0]!.rv,
      code: undefined,
      reason: undefined,
      data: undefined,
    });
  });

  it('reports a resourceVersion older than the history window as an ERROR event with 410 Expired', async (t) => {
    const server = await withFakeApiServer(t, { historyLimit: 5 });
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    const start = await core.listNamespacedConfigMap({ namespace: 'default' });
    for (let i = 0; i < 8; i++)
      await core.createNamespacedConfigMap({
        namespace: 'default',
        body: { metadata: { name: `old-${i}` } },
      });
    const w = await collect(t, server, '/api/v1/namespaces/default/configmaps', {
      resourceVersion: start.metadata!.resourceVersion,
    });
    await waitFor('the watch to end', () => w.ended() !== 'open');
    assert.equal(w.events.length, 1);
    assert.equal(w.events[0]!.type, 'ERROR');
    assert.equal(w.events[0]!.code, 410);
    assert.equal(w.events[0]!.reason, 'Expired');
  });

  it('sends DELETED when an object leaves a label selector and ADDED when it enters', async (t) => {
    const server = await withFakeApiServer(t);
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'lab', labels: { role: 'a' } } },
    });
    const w = await collect(t, server, '/api/v1/namespaces/default/configmaps', { labelSelector: 'role=a' });
    await waitFor('initial', () => w.events.length >= 1);
    await core.patchNamespacedConfigMap(
      { namespace: 'default', name: 'lab', body: { metadata: { labels: { role: 'b' } } } },
      merge,
    );
    await core.patchNamespacedConfigMap(
      { namespace: 'default', name: 'lab', body: { metadata: { labels: { role: 'a' } } } },
      merge,
    );
    await waitFor('transitions', () => w.events.length >= 3);
    assert.deepEqual(
      w.events.map((e) => e.type),
      ['ADDED', 'DELETED', 'ADDED'],
    );
  });

  it('sends BOOKMARK events when asked to', async (t) => {
    const server = await withFakeApiServer(t, { bookmarkIntervalMs: 10 });
    const w = await collect(t, server, '/api/v1/namespaces/default/configmaps', {
      resourceVersion: server.resourceVersion(),
      allowWatchBookmarks: true,
    });
    await waitFor('a bookmark', () => w.events.some((e) => e.type === 'BOOKMARK'));
    assert.equal(w.events.find((e) => e.type === 'BOOKMARK')!.rv, server.resourceVersion());
  });

  it('drives a client-node informer (list, then watch from the list resourceVersion)', async (t) => {
    const server = await withFakeApiServer(t);
    const kc = server.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'inf-1' } } });
    const informer = makeInformer<V1ConfigMap>(kc, '/api/v1/namespaces/default/configmaps', () =>
      core.listNamespacedConfigMap({ namespace: 'default' }),
    );
    const seen: string[] = [];
    informer.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
    informer.on('update', (o) => seen.push(`update ${o.metadata?.name}`));
    informer.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    await informer.start();
    t.after(() => informer.stop());
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'inf-2' } } });
    await core.patchNamespacedConfigMap(
      { namespace: 'default', name: 'inf-2', body: { data: { a: 'b' } } },
      merge,
    );
    await core.deleteNamespacedConfigMap({ namespace: 'default', name: 'inf-1' });
    await waitFor('informer events', () => seen.length >= 4);
    assert.deepEqual(seen, ['add inf-1', 'add inf-2', 'update inf-2', 'delete inf-1']);
  });

  it('an informer whose watch is dropped after compaction gets 410 and relists', async (t) => {
    const server = await withFakeApiServer(t);
    const kc = server.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'r-1' } } });
    const informer = makeInformer<V1ConfigMap>(kc, '/api/v1/namespaces/default/configmaps', () =>
      core.listNamespacedConfigMap({ namespace: 'default' }),
    );
    const seen: string[] = [];
    informer.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
    informer.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    await informer.start();
    t.after(() => informer.stop());
    await waitFor('the informer watch', () => server.requests().byVerb.watch === 1);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'r-2' } } });
    await core.deleteNamespacedConfigMap({ namespace: 'default', name: 'r-1' });
    await waitFor('live events', () => seen.includes('add r-2') && seen.includes('delete r-1'));
    server.compact();
    server.resetRequests();
    assert.equal(server.dropWatches(), 1);
    await waitFor('relist and a new watch', () => {
      const s = server.requests().byVerb;
      return (s.list ?? 0) >= 1 && (s.watch ?? 0) >= 2;
    });
    assert.deepEqual(
      informer.list().map((o) => o.metadata?.name),
      ['r-2'],
    );
    assert.deepEqual(seen, ['add r-1', 'add r-2', 'delete r-1'], 'the relist caused no spurious events');
  });

  it('close() ends open watches and the client sees the stream end', async () => {
    const server = await startFakeApiServer();
    let ended: unknown = 'open';
    const ctl = await new Watch(server.kubeConfig()).watch(
      '/api/v1/pods',
      {},
      () => {},
      (err) => {
        ended = err;
      },
    );
    await server.close();
    await waitFor('done callback', () => ended !== 'open');
    ctl.abort();
  });
});
