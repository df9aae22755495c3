import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApiextensionsV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type V1CustomResourceDefinition,
  Watch,
} from '@kubernetes/client-node';
import { expectApiError, waitFor, withFakeApiServer } from './helpers.js';

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function crd(
  opts: { scope?: 'Namespaced' | 'Cluster'; status?: boolean; schema?: unknown; plural?: string } = {},
): V1CustomResourceDefinition {
  const plural = opts.plural ?? 'upgrades';
  return {
    metadata: { name: `${plural}.baton.dev` },
    spec: {
      group: 'baton.dev',
      scope: opts.scope ?? 'Namespaced',
      names: {
        plural,
        singular: plural.slice(0, -1),
        kind: plural === 'upgrades' ? 'Upgrade' : 'Fleet',
        listKind: plural === 'upgrades' ? 'UpgradeList' : 'FleetList',
      },
      versions: [
        {
          name: 'v1alpha1',
          served: true,
          storage: true,
          ...(opts.status === false ? {} : { subresources: { status: {} } }),
          schema: {
            openAPIV3Schema: (opts.schema ?? {
              type: 'object',
              properties: {
                spec: { type: 'object', properties: { target: { type: 'string' } } },
                status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              },
            }) as never,
          },
        },
      ],
    },
  };
}

describe('fake API server: CustomResourceDefinitions', () => {
  it('serves a created CRD generically, with the status subresource splitting spec and status', async (t) => {
    const server = await withFakeApiServer(t);
    const kc = server.kubeConfig();
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    const created = await ext.createCustomResourceDefinition({ body: crd() });
    assert.ok(created.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'));

    const custom = kc.makeApiClient(CustomObjectsApi);
    const ref = { group: 'baton.dev', version: 'v1alpha1', namespace: 'default', plural: 'upgrades' };
    const obj = (await custom.createNamespacedCustomObject({
      ...ref,
      body: {
        apiVersion: 'baton.dev/v1alpha1',
        kind: 'Upgrade',
        metadata: { name: 'u1' },
        spec: { target: '3.5' },
        status: { phase: 'ignored' },
      },
    })) as { metadata: { generation: number; resourceVersion: string }; status?: unknown };
    assert.equal(obj.metadata.generation, 1);
    assert.equal(obj.status, undefined, 'status is dropped on create');

    const withStatus = (await custom.patchNamespacedCustomObjectStatus(
      { ...ref, name: 'u1', body: { status: { phase: 'Rolling' }, spec: { target: 'ignored' } } },
      merge,
    )) as { metadata: { generation: number }; spec: { target: string }; status: { phase: string } };
    assert.equal(withStatus.status.phase, 'Rolling');
    assert.equal(withStatus.spec.target, '3.5', 'a status write ignores spec');
    assert.equal(withStatus.metadata.generation, 1, 'a status write does not bump generation');

    const specChange = (await custom.patchNamespacedCustomObject(
      { ...ref, name: 'u1', body: { spec: { target: '3.6' }, status: { phase: 'ignored' } } },
      merge,
    )) as {
      metadata: { generation: number };
      status: { phase: string };
    };
    assert.equal(specChange.metadata.generation, 2);
    assert.equal(specChange.status.phase, 'Rolling', 'a main-resource write ignores status');

    const list = (await custom.listNamespacedCustomObject(ref)) as { kind: string; items: unknown[] };
    assert.equal(list.kind, 'UpgradeList');
    assert.equal(list.items.length, 1);

    const smp = await expectApiError(() =>
      custom.patchNamespacedCustomObject(
        { ...ref, name: 'u1', body: { spec: { target: 'x' } } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      ),
    );
    assert.equal(smp.code, 415);

    const objects = KubernetesObjectApi.makeApiClient(kc);
    const read = await objects.read({
      apiVersion: 'baton.dev/v1alpha1',
      kind: 'Upgrade',
      metadata: { name: 'u1', namespace: 'default' },
    });
    assert.equal(read.metadata?.name, 'u1');
  });

  it('without a status subresource, status is part of the main resource', async (t) => {
    const server = await withFakeApiServer(t);
    const kc = server.kubeConfig();
    await kc
      .makeApiClient(ApiextensionsV1Api)
      .createCustomResourceDefinition({ body: crd({ status: false }) });
    const custom = kc.makeApiClient(CustomObjectsApi);
    const ref = { group: 'baton.dev', version: 'v1alpha1', namespace: 'default', plural: 'upgrades' };
    const obj = (await custom.createNamespacedCustomObject({
      ...ref,
      body: { apiVersion: 'baton.dev/v1alpha1', kind: 'Upgrade', metadata: { name: 'u' }, status: { a: 1 } },
    })) as {
      status: { a: number };
    };
    assert.deepEqual(obj.status, { a: 1 });
    const err = await expectApiError(() => custom.getNamespacedCustomObjectStatus({ ...ref, name: 'u' }));
    assert.equal(err.code, 404);
  });

  it('serves cluster-scoped custom resources', async (t) => {
    const server = await withFakeApiServer(t);
    const kc = server.kubeConfig();
    await kc
      .makeApiClient(ApiextensionsV1Api)
      .createCustomResourceDefinition({ body: crd({ scope: 'Cluster', plural: 'fleets' }) });
    const custom = kc.makeApiClient(CustomObjectsApi);
    await custom.createClusterCustomObject({
      group: 'baton.dev',
      version: 'v1alpha1',
      plural: 'fleets',
      body: { apiVersion: 'baton.dev/v1alpha1', kind: 'Fleet', metadata: { name: 'f' } },
    });
    const got = (await custom.getClusterCustomObject({
      group: 'baton.dev',
      version: 'v1alpha1',
      plural: 'fleets',
      name: 'f',
    })) as { metadata: { namespace?: string } };
    assert.equal(got.metadata.namespace, undefined);
  });

  it('rejects CRDs without a schema or with a non-structural schema (422)', async (t) => {
    const server = await withFakeApiServer(t);
    const ext = server.kubeConfig().makeApiClient(ApiextensionsV1Api);
    const noSchema = crd();
    delete noSchema.spec.versions[0]!.schema;
    const e1 = await expectApiError(() => ext.createCustomResourceDefinition({ body: noSchema }));
    assert.equal(e1.code, 422);
    assert.match(e1.message ?? '', /openAPIV3Schema/);
    const e2 = await expectApiError(() =>
      ext.createCustomResourceDefinition({
        body: crd({
          schema: { type: 'object', properties: { spec: { properties: { a: { type: 'string' } } } } },
        }),
      }),
    );
    assert.equal(e2.code, 422);
    assert.match(e2.message ?? '', /properties\[spec\]\.type/);
  });

  it('deleting a CRD deletes its objects and stops serving the resource', async (t) => {
    const server = await withFakeApiServer(t);
    const kc = server.kubeConfig();
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    await ext.createCustomResourceDefinition({ body: crd() });
    const custom = kc.makeApiClient(CustomObjectsApi);
    const ref = { group: 'baton.dev', version: 'v1alpha1', namespace: 'default', plural: 'upgrades' };
    await custom.createNamespacedCustomObject({
      ...ref,
      body: { apiVersion: 'baton.dev/v1alpha1', kind: 'Upgrade', metadata: { name: 'u' } },
    });
    let watchEnded = false;
    const ctl = await new Watch(kc).watch(
      '/apis/baton.dev/v1alpha1/namespaces/default/upgrades',
      {},
      () => {},
      () => {
        watchEnded = true;
      },
    );
    t.after(() => ctl.abort());
    await ext.deleteCustomResourceDefinition({ name: 'upgrades.baton.dev' });
    await waitFor('the custom resource watch to end', () => watchEnded);
    const err = await expectApiError(() => custom.listNamespacedCustomObject(ref));
    assert.equal(err.code, 404);
    await ext.createCustomResourceDefinition({ body: crd() });
    const list = (await custom.listNamespacedCustomObject(ref)) as { items: unknown[] };
    assert.equal(list.items.length, 0);
  });
});
