import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  VersionApi,
  type V1ObjectMeta,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { startFakeApiServer, type FakeApiServer } from './fake-apiserver.js';
import { expectApiError } from './helpers.js';
import { age } from './table.js';

function statefulSet(name: string, replicas = 0): V1StatefulSet {
  return {
    metadata: { name },
    spec: {
      replicas,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'main', image: 'img:1', env: [{ name: 'A', value: '1' }] }] },
      },
    },
  };
}

describe('fake API server: discovery, CRUD, conflicts, patches', () => {
  let server: FakeApiServer;
  let kc: KubeConfig;
  let core: CoreV1Api;
  let apps: AppsV1Api;

  before(async () => {
    server = await startFakeApiServer();
    kc = server.kubeConfig();
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
  });
  after(() => server.close());

  it('serves /version, /healthz and discovery documents', async () => {
    const v = await kc.makeApiClient(VersionApi).getCode();
    assert.equal(v.gitVersion, 'v1.31.0');
    const res = await fetch(`${server.url}/apis/apps/v1`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    const list = (await res.json()) as { resources: { name: string; kind: string }[] };
    assert.ok(list.resources.some((r) => r.name === 'statefulsets' && r.kind === 'StatefulSet'));
    assert.ok(list.resources.some((r) => r.name === 'statefulsets/scale' && r.kind === 'Scale'));
    const health = await fetch(`${server.url}/healthz`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    assert.equal(await health.text(), 'ok');
  });

  it('rejects a wrong bearer token with 401, and a missing one when the token is required', async () => {
    const wrong = await fetch(`${server.url}/api/v1/namespaces/default/pods`, {
      headers: { authorization: 'Bearer nope' },
    });
    assert.equal(wrong.status, 401);
    const anonymous = await fetch(`${server.url}/api/v1/namespaces/default/pods`);
    assert.equal(anonymous.status, 200);
    const strict = await startFakeApiServer({ requireToken: true });
    try {
      assert.equal((await fetch(`${strict.url}/api/v1/namespaces/default/pods`)).status, 401);
    } finally {
      await strict.close();
    }
  });

  it('creates with uid, creationTimestamp and resourceVersion; 409 AlreadyExists; 404 NotFound', async () => {
    const cm = await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'crud' }, data: { a: '1' } },
    });
    assert.ok(cm.metadata?.uid);
    assert.ok(cm.metadata?.creationTimestamp instanceof Date);
    assert.match(cm.metadata?.resourceVersion ?? '', /^\d+$/);
    const dup = await expectApiError(() =>
      core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'crud' } } }),
    );
    assert.equal(dup.code, 409);
    assert.equal(dup.reason, 'AlreadyExists');
    const missing = await expectApiError(() =>
      core.readNamespacedConfigMap({ namespace: 'default', name: 'nope' }),
    );
    assert.equal(missing.code, 404);
    assert.equal(missing.reason, 'NotFound');
    assert.equal(missing.message, 'configmaps "nope" not found');
    const noNs = await expectApiError(() =>
      core.createNamespacedConfigMap({ namespace: 'absent', body: { metadata: { name: 'x' } } }),
    );
    assert.equal(noNs.code, 404);
    assert.equal(noNs.message, 'namespaces "absent" not found');
  });

  it('replace with a stale resourceVersion is a 409 Conflict; a fresh one succeeds', async () => {
    const cm = await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'occ' }, data: { v: '1' } },
    });
    const updated = await core.replaceNamespacedConfigMap({
      namespace: 'default',
      name: 'occ',
      body: { ...cm, data: { v: '2' } },
    });
    assert.notEqual(updated.metadata?.resourceVersion, cm.metadata?.resourceVersion);
    const stale = await expectApiError(() =>
      core.replaceNamespacedConfigMap({
        namespace: 'default',
        name: 'occ',
        body: { ...cm, data: { v: '3' } },
      }),
    );
    assert.equal(stale.code, 409);
    assert.equal(stale.reason, 'Conflict');
    assert.match(stale.message ?? '', /the object has been modified/);
    const again = await core.readNamespacedConfigMap({ namespace: 'default', name: 'occ' });
    assert.deepEqual(again.data, { v: '2' });
  });

  it('a no-op update keeps the resourceVersion', async () => {
    const cm = await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'noop' }, data: { v: '1' } },
    });
    const same = await core.replaceNamespacedConfigMap({ namespace: 'default', name: 'noop', body: cm });
    assert.equal(same.metadata?.resourceVersion, cm.metadata?.resourceVersion);
  });

  it('bumps generation on spec changes but not on status writes; status writes ignore spec', async () => {
    const created = await apps.createNamespacedStatefulSet({
      namespace: 'default',
      body: statefulSet('gen'),
    });
    assert.equal(created.metadata?.generation, 1);
    await server.idle();
    const sts = await apps.readNamespacedStatefulSet({ namespace: 'default', name: 'gen' });
    const withStatus = {
      ...sts,
      status: { replicas: 7, availableReplicas: 0 },
      spec: { ...sts.spec!, replicas: 5 },
    };
    const s1 = await apps.replaceNamespacedStatefulSetStatus({
      namespace: 'default',
      name: 'gen',
      body: withStatus,
    });
    assert.equal(s1.metadata?.generation, 1);
    assert.equal(s1.status?.replicas, 7);
    assert.equal(s1.spec?.replicas, 0, 'a status write ignores spec');
    const s2 = await apps.patchNamespacedStatefulSet(
      {
        namespace: 'default',
        name: 'gen',
        body: { spec: { replicas: 0, minReadySeconds: 1 }, status: { replicas: 99 } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    assert.equal(s2.metadata?.generation, 2);
    assert.notEqual(s2.status?.replicas, 99, 'a main-resource write ignores status');
  });

  it('applies defaults on update, so replacing a StatefulSet without defaulted fields is accepted', async () => {
    const created = await apps.createNamespacedStatefulSet({
      namespace: 'default',
      body: statefulSet('dflt'),
    });
    assert.equal(created.spec?.podManagementPolicy, 'OrderedReady');
    const bare = statefulSet('dflt');
    bare.spec!.template.spec!.containers[0]!.image = 'img:2';
    const replaced = await apps.replaceNamespacedStatefulSet({
      namespace: 'default',
      name: 'dflt',
      body: bare,
    });
    assert.equal(replaced.spec?.podManagementPolicy, 'OrderedReady');
    assert.equal(replaced.spec?.updateStrategy?.rollingUpdate?.partition, 0);
    assert.equal(replaced.metadata?.generation, 2);
    bare.spec!.serviceName = 'other';
    const forbidden = await expectApiError(() =>
      apps.replaceNamespacedStatefulSet({ namespace: 'default', name: 'dflt', body: bare }),
    );
    assert.equal(forbidden.code, 422);
    assert.match(forbidden.message ?? '', /Forbidden/);
  });

  it('applies JSON patch (the client default), with test failure as 422', async () => {
    await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'jp', labels: { a: '1' } }, data: { k: 'v' } },
    });
    const patched = await core.patchNamespacedConfigMap({
      namespace: 'default',
      name: 'jp',
      body: [
        { op: 'test', path: '/data/k', value: 'v' },
        { op: 'replace', path: '/data/k', value: 'w' },
        { op: 'add', path: '/metadata/labels/b', value: '2' },
        { op: 'remove', path: '/metadata/labels/a' },
      ],
    });
    assert.deepEqual(patched.data, { k: 'w' });
    assert.deepEqual(patched.metadata?.labels, { b: '2' });
    const failed = await expectApiError(() =>
      core.patchNamespacedConfigMap({
        namespace: 'default',
        name: 'jp',
        body: [{ op: 'test', path: '/data/k', value: 'nope' }],
      }),
    );
    assert.equal(failed.code, 422);
    const last = server
      .requests()
      .entries.filter((e) => e.verb === 'patch')
      .at(-1);
    assert.equal(last?.patchType, 'application/json-patch+json');
  });

  it('applies merge patches (null deletes, arrays replace) and honours a resourceVersion precondition', async () => {
    const cm = await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'mp' }, data: { a: '1', b: '2' } },
    });
    const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    const patched = await core.patchNamespacedConfigMap(
      { namespace: 'default', name: 'mp', body: { data: { a: null, c: '3' } } },
      merge,
    );
    assert.deepEqual(patched.data, { b: '2', c: '3' });
    const stale = await expectApiError(() =>
      core.patchNamespacedConfigMap(
        {
          namespace: 'default',
          name: 'mp',
          body: { metadata: { resourceVersion: cm.metadata!.resourceVersion }, data: { d: '4' } },
        },
        merge,
      ),
    );
    assert.equal(stale.code, 409);
  });

  it('applies strategic merge patches: containers and env merge by name', async () => {
    await apps.createNamespacedStatefulSet({ namespace: 'default', body: statefulSet('smp') });
    const smp = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
    const patched = await apps.patchNamespacedStatefulSet(
      {
        namespace: 'default',
        name: 'smp',
        body: {
          spec: {
            template: {
              spec: {
                containers: [
                  { name: 'main', image: 'img:2', env: [{ name: 'B', value: '2' }] },
                  { name: 'side', image: 'side:1' },
                ],
              },
            },
          },
        },
      },
      smp,
    );
    const containers = patched.spec!.template.spec!.containers;
    assert.equal(containers.length, 2);
    assert.equal(containers[0]!.image, 'img:2');
    assert.deepEqual(
      containers[0]!.env?.map((e) => e.name),
      ['A', 'B'],
    );
    const removed = await apps.patchNamespacedStatefulSet(
      {
        namespace: 'default',
        name: 'smp',
        body: { spec: { template: { spec: { containers: [{ name: 'side', $patch: 'delete' }] } } } },
      },
      smp,
    );
    assert.deepEqual(
      removed.spec!.template.spec!.containers.map((c) => c.name),
      ['main'],
    );
  });

  it('server-side apply creates and then merges, recording managedFields; fieldManager is required', async () => {
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const spec = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'ssa', namespace: 'default' },
      data: { a: '1' },
    };
    const created = await objects.patch(
      spec,
      undefined,
      undefined,
      'baton',
      true,
      PatchStrategy.ServerSideApply,
    );
    const managed = (created.metadata as V1ObjectMeta).managedFields;
    assert.equal(managed?.[0]?.manager, 'baton');
    assert.equal(managed?.[0]?.operation, 'Apply');
    const merged = await objects.patch(
      { ...spec, data: { b: '2' } },
      undefined,
      undefined,
      'baton',
      true,
      PatchStrategy.ServerSideApply,
    );
    assert.deepEqual((merged as unknown as { data: unknown }).data, { a: '1', b: '2' });
    const noManager = await expectApiError(() =>
      objects.patch(spec, undefined, undefined, undefined, true, PatchStrategy.ServerSideApply),
    );
    assert.equal(noManager.code, 422);
  });

  it('KubernetesObjectApi resolves kinds through discovery (create, read, list, delete)', async () => {
    const objects = KubernetesObjectApi.makeApiClient(kc);
    await objects.create({ apiVersion: 'apps/v1', kind: 'StatefulSet', ...statefulSet('koa') } as never);
    const read = await objects.read({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'koa', namespace: 'default' },
    });
    assert.equal(read.kind, 'StatefulSet');
    const list = await objects.list('apps/v1', 'StatefulSet', 'default');
    assert.ok(list.items.some((i) => i.metadata?.name === 'koa'));
    await objects.delete({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'koa', namespace: 'default' },
    });
    await expectApiError(() => apps.readNamespacedStatefulSet({ namespace: 'default', name: 'koa' }));
  });

  it('lists with label selectors, field selectors and limit/continue pages', async () => {
    for (const [name, tier] of [
      ['sel-a', 'web'],
      ['sel-b', 'db'],
      ['sel-c', 'cache'],
      ['sel-d', 'db'],
    ] as const) {
      await core.createNamespacedConfigMap({
        namespace: 'default',
        body: { metadata: { name, labels: { group: 'sel', tier } } },
      });
    }
    const names = (l: { items: { metadata?: { name?: string } }[] }) => l.items.map((i) => i.metadata?.name);
    assert.deepEqual(
      names(
        await core.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'group=sel,tier!=db' }),
      ),
      ['sel-a', 'sel-c'],
    );
    assert.deepEqual(
      names(
        await core.listNamespacedConfigMap({
          namespace: 'default',
          labelSelector: 'group=sel,tier in (db,cache)',
        }),
      ),
      ['sel-b', 'sel-c', 'sel-d'],
    );
    assert.deepEqual(
      names(
        await core.listNamespacedConfigMap({ namespace: 'default', fieldSelector: 'metadata.name=sel-d' }),
      ),
      ['sel-d'],
    );
    const page1 = await core.listNamespacedConfigMap({
      namespace: 'default',
      labelSelector: 'group=sel',
      limit: 3,
    });
    assert.equal(page1.items.length, 3);
    assert.ok(page1.metadata?._continue);
    const page2 = await core.listNamespacedConfigMap({
      namespace: 'default',
      labelSelector: 'group=sel',
      limit: 3,
      _continue: page1.metadata!._continue!,
    });
    assert.deepEqual(names(page2), ['sel-d']);
    assert.equal(page2.metadata?._continue, undefined);
    await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'after-compact' } },
    });
    server.compact();
    const expired = await expectApiError(() =>
      core.listNamespacedConfigMap({
        namespace: 'default',
        labelSelector: 'group=sel',
        limit: 3,
        _continue: page1.metadata!._continue!,
      }),
    );
    assert.equal(expired.code, 410);
    assert.equal(expired.reason, 'Expired');
  });

  it('keeps an object with finalizers until the last finalizer is removed', async () => {
    await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'fin', finalizers: ['baton.dev/keep'] } },
    });
    const deleting = await core.deleteNamespacedConfigMap({ namespace: 'default', name: 'fin' });
    assert.ok(deleting);
    const still = await core.readNamespacedConfigMap({ namespace: 'default', name: 'fin' });
    assert.ok(still.metadata?.deletionTimestamp);
    await core.patchNamespacedConfigMap(
      { namespace: 'default', name: 'fin', body: { metadata: { finalizers: null } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const gone = await expectApiError(() =>
      core.readNamespacedConfigMap({ namespace: 'default', name: 'fin' }),
    );
    assert.equal(gone.code, 404);
  });

  it('garbage-collects dependents of a deleted owner, and orphans them on request', async () => {
    const owner = await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'owner' } },
    });
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata!.uid! };
    await core.createNamespacedSecret({
      namespace: 'default',
      body: { metadata: { name: 'owned', ownerReferences: [ref] } },
    });
    await core.deleteNamespacedConfigMap({ namespace: 'default', name: 'owner' });
    assert.equal(
      (await expectApiError(() => core.readNamespacedSecret({ namespace: 'default', name: 'owned' }))).code,
      404,
    );

    const owner2 = await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'owner2' } },
    });
    await core.createNamespacedSecret({
      namespace: 'default',
      body: {
        metadata: {
          name: 'orphan',
          ownerReferences: [{ ...ref, name: 'owner2', uid: owner2.metadata!.uid! }],
        },
      },
    });
    await core.deleteNamespacedConfigMap({
      namespace: 'default',
      name: 'owner2',
      propagationPolicy: 'Orphan',
    });
    const orphan = await core.readNamespacedSecret({ namespace: 'default', name: 'orphan' });
    assert.equal(orphan.metadata?.ownerReferences, undefined);
  });

  it('supports leader election on leases: create conflicts and stale updates are 409', async () => {
    const coord = kc.makeApiClient(CoordinationV1Api);
    const lease = await coord.createNamespacedLease({
      namespace: 'default',
      body: { metadata: { name: 'leader' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } },
    });
    const lost = await expectApiError(() =>
      coord.createNamespacedLease({
        namespace: 'default',
        body: { metadata: { name: 'leader' }, spec: { holderIdentity: 'b' } },
      }),
    );
    assert.equal(lost.code, 409);
    const renewed = await coord.replaceNamespacedLease({
      namespace: 'default',
      name: 'leader',
      body: { ...lease, spec: { ...lease.spec, renewTime: new Date() } },
    });
    const stolen = await expectApiError(() =>
      coord.replaceNamespacedLease({
        namespace: 'default',
        name: 'leader',
        body: { ...lease, spec: { ...lease.spec, holderIdentity: 'b' } },
      }),
    );
    assert.equal(stolen.code, 409);
    const current = await coord.readNamespacedLease({ namespace: 'default', name: 'leader' });
    assert.equal(current.spec?.holderIdentity, 'a');
    assert.equal(current.metadata?.resourceVersion, renewed.metadata?.resourceVersion);
  });

  it('serves the scale subresource of StatefulSets', async () => {
    await apps.createNamespacedStatefulSet({ namespace: 'default', body: statefulSet('scaled') });
    const scale = await apps.readNamespacedStatefulSetScale({ namespace: 'default', name: 'scaled' });
    assert.equal(scale.spec?.replicas, 0);
    assert.equal(scale.status?.selector, 'app=scaled');
    await apps.replaceNamespacedStatefulSetScale({
      namespace: 'default',
      name: 'scaled',
      body: { ...scale, spec: { replicas: 0 } },
    });
    const stale = await expectApiError(() =>
      apps.replaceNamespacedStatefulSetScale({
        namespace: 'default',
        name: 'scaled',
        body: { metadata: { name: 'scaled', resourceVersion: '1' }, spec: { replicas: 2 } },
      }),
    );
    assert.equal(stale.code, 409);
  });

  it('rejects an invalid StatefulSet (selector not matching template labels) with 422', async () => {
    const bad = statefulSet('bad');
    bad.spec!.selector = { matchLabels: { app: 'other' } };
    const err = await expectApiError(() =>
      apps.createNamespacedStatefulSet({ namespace: 'default', body: bad }),
    );
    assert.equal(err.code, 422);
    assert.equal(err.reason, 'Invalid');
    assert.match(err.message ?? '', /selector/);
  });

  it('deletes a namespace with its contents, and deletecollection honours selectors', async () => {
    await core.createNamespace({ body: { metadata: { name: 'scratch' } } });
    for (const [name, keep] of [
      ['d1', 'no'],
      ['d2', 'no'],
      ['d3', 'yes'],
    ]) {
      await core.createNamespacedConfigMap({
        namespace: 'scratch',
        body: { metadata: { name, labels: { keep: keep! } } },
      });
    }
    await core.deleteCollectionNamespacedConfigMap({ namespace: 'scratch', labelSelector: 'keep=no' });
    const left = await core.listNamespacedConfigMap({ namespace: 'scratch' });
    assert.deepEqual(
      left.items.map((i) => i.metadata?.name),
      ['d3'],
    );
    await core.deleteNamespace({ name: 'scratch' });
    assert.equal((await expectApiError(() => core.readNamespace({ name: 'scratch' }))).code, 404);
    assert.equal(
      (await expectApiError(() => core.readNamespacedConfigMap({ namespace: 'scratch', name: 'd3' }))).code,
      404,
    );
  });

  it('dryRun=All validates without storing', async () => {
    const dry = await core.createNamespacedConfigMap({
      namespace: 'default',
      dryRun: 'All',
      body: { metadata: { name: 'dry' } },
    });
    assert.equal(dry.metadata?.name, 'dry');
    assert.equal(
      (await expectApiError(() => core.readNamespacedConfigMap({ namespace: 'default', name: 'dry' }))).code,
      404,
    );
  });

  it('answers kubectl-style Table requests with kubectl columns', async () => {
    await core.createNamespacedPod({
      namespace: 'default',
      body: { metadata: { name: 'tbl' }, spec: { containers: [{ name: 'c', image: 'x:1' }] } },
    });
    const res = await fetch(
      `${server.url}/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dtbl`,
      {
        headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' },
      },
    );
    const table = (await res.json()) as {
      kind: string;
      columnDefinitions: { name: string }[];
      rows: { cells: unknown[]; object: { kind: string } }[];
    };
    assert.equal(table.kind, 'Table');
    assert.deepEqual(
      table.columnDefinitions.map((c) => c.name),
      ['Name', 'Ready', 'Status', 'Restarts', 'Age'],
    );
    assert.equal(table.rows.length, 1);
    assert.equal(table.rows[0]!.cells[0], 'tbl');
    assert.equal(table.rows[0]!.object.kind, 'PartialObjectMetadata');
    assert.equal(age(Date.parse('2026-01-01T00:10:00Z'), '2026-01-01T00:00:00Z'), '10m');
    assert.equal(age(Date.parse('2026-01-03T00:00:00Z'), '2026-01-01T00:00:00Z'), '2d');
  });

  it('writes a kubeconfig that client-node loads', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fakekube-'));
    try {
      const path = join(dir, 'config');
      await server.writeKubeconfig(path);
      const loaded = new KubeConfig();
      loaded.loadFromString(await readFile(path, 'utf8'));
      const ns = await loaded.makeApiClient(CoreV1Api).readNamespace({ name: 'default' });
      assert.equal(ns.status?.phase, 'Active');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
