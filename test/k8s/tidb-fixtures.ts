/** A TidbCluster on the test control plane: its CRD, the object, and the StatefulSets TiDB Operator would own. */
import assert from 'node:assert/strict';
import {
  PAUSED_BY_ANNOTATION,
  TIDB_CLUSTER,
  type ClusterObject,
} from '../../src/platforms/kubernetes/cluster-ref.js';
import { applyCrd } from '../kube/crds.js';
import { createSettled, podImages, statefulSet, type Env } from './operator-fixtures.js';

/** CustomObjectsApi coordinates of TidbClusters in the test namespace. */
export function tcRef(env: Env) {
  return {
    group: TIDB_CLUSTER.group,
    version: TIDB_CLUSTER.version,
    plural: TIDB_CLUSTER.plural,
    namespace: env.ns,
  };
}

/** PD x3, TiKV x3, TiDB x2: the StatefulSets of `basic` unless a test names others. */
export const BASIC_COMPONENTS: readonly (readonly [string, number])[] = [
  ['pd', 3],
  ['tikv', 3],
  ['tidb', 2],
];

/** The TidbCluster CRD (only what Baton reads: any spec and status kept). */
export async function applyTidbClusterCrd(rest: Parameters<typeof applyCrd>[0]): Promise<void> {
  await applyCrd(rest, {
    metadata: { name: `${TIDB_CLUSTER.plural}.${TIDB_CLUSTER.group}` },
    spec: {
      group: TIDB_CLUSTER.group,
      scope: 'Namespaced',
      names: { kind: TIDB_CLUSTER.kind, plural: TIDB_CLUSTER.plural },
      versions: [
        {
          name: TIDB_CLUSTER.version,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        },
      ],
    },
  });
}

/**
 * The TidbCluster CRD, a TidbCluster `basic` at `opts.version` (default v7.1.0, with
 * `opts.annotations`) and its StatefulSets (`opts.components`, default {@link BASIC_COMPONENTS}),
 * each created once the one before has settled.
 */
export async function tidbCluster(
  env: Env,
  opts: {
    version?: string;
    annotations?: Record<string, string>;
    components?: readonly (readonly [string, number])[];
    /** A component's own version (`spec.<component>.version`, TiDB Operator v1's override). */
    componentVersions?: Record<string, string>;
  } = {},
): Promise<void> {
  const version = opts.version ?? 'v7.1.0';
  const own = opts.componentVersions ?? {};
  await applyTidbClusterCrd(env.server.rest);
  const tc = (await env.custom.createNamespacedCustomObject({
    ...tcRef(env),
    body: {
      apiVersion: `${TIDB_CLUSTER.group}/${TIDB_CLUSTER.version}`,
      kind: TIDB_CLUSTER.kind,
      metadata: { name: 'basic', ...(opts.annotations ? { annotations: opts.annotations } : {}) },
      spec: { version, ...Object.fromEntries(Object.entries(own).map(([c, v]) => [c, { version: v }])) },
    },
  })) as ClusterObject;
  for (const [c, n] of opts.components ?? BASIC_COMPONENTS) {
    const body = statefulSet(`basic-${c}`, n, {
      image: `pingcap/${c}:${own[c] ?? version}`,
      labels: { 'app.kubernetes.io/instance': 'basic', 'app.kubernetes.io/component': c },
    });
    body.metadata!.ownerReferences = [
      {
        apiVersion: `${TIDB_CLUSTER.group}/${TIDB_CLUSTER.version}`,
        kind: TIDB_CLUSTER.kind,
        name: 'basic',
        uid: tc.metadata.uid!,
        controller: true,
      },
    ];
    await createSettled(env, body);
  }
}

/**
 * Every pod of `basic`'s StatefulSets (`components`, default PD, TiKV and TiDB) runs `version`,
 * and the TidbCluster was handed back: un-paused, `spec.version` = `version`, Baton's annotation gone.
 */
export async function assertRolledAndHandedBack(
  env: Env,
  version: string,
  components: readonly string[] = ['pd', 'tikv', 'tidb'],
  componentVersions: Record<string, string> = {},
): Promise<void> {
  for (const c of components)
    for (const image of Object.values(await podImages(env, `basic-${c}`)))
      assert.equal(image, `pingcap/${c}:${componentVersions[c] ?? version}`);
  const tc = (await env.custom.getNamespacedCustomObject({ ...tcRef(env), name: 'basic' })) as ClusterObject;
  assert.equal(tc.spec!.paused, false);
  assert.equal(tc.spec!.version, version);
  for (const [c, v] of Object.entries(componentVersions))
    assert.equal((tc.spec![c] as { version?: string } | undefined)?.version, v, `spec.${c}.version`);
  assert.equal(tc.metadata.annotations?.[PAUSED_BY_ANNOTATION], undefined);
}
