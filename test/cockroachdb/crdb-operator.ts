/**
 * A stand-in for the CockroachDB operator (cockroachdb/cockroach-operator; the real one cannot run
 * here) reconciling one CrdbCluster on the test control plane, for the decisions that matter to a
 * roll, as its code makes them:
 * - the CRD with the schema fields used here (apis/v1alpha1/cluster_types.go: `spec.nodes`,
 *   `spec.image.name`, `spec.cockroachDBVersion`; status `conditions`, `crdbcontainerimage`,
 *   `version`) and the status subresource;
 * - pkg/controller/cluster_controller.go `Reconcile`: an image other than
 *   `status.crdbcontainerimage` while `CrdbVersionChecked` is True sets it False first;
 * - the version checker (pkg/actor/validate_version.go): after its Job (here `versionCheckMs`), the
 *   CrdbCluster's annotations `crdb.io/version` (the image's build tag, here its tag) and
 *   `crdb.io/containerimage`, then the status;
 * - `needsPartitionedUpdate` (pkg/actor/director.go): the CrdbCluster's `crdb.io/version` differs
 *   from the StatefulSet's -> the operator rolls by itself (pkg/actor/partitioned_update.go; here:
 *   the template image, the annotation, and the partition opened, recorded in {@link ownRolls});
 * - `needsDeploy`: the StatefulSet it builds (pkg/resource/statefulset.go: replicas, the image of
 *   `spec.image.name`, the two annotations from the CrdbCluster's) differs from the live one in a
 *   field it sets -> Update with its own spec, `RollingUpdate` without a partition (recorded in
 *   {@link deploys}). Fields only the live object has (a partition, other annotations) are no
 *   difference, as with the three-way patch of its AnnotatingPersister.
 * One loop, every `tickMs`, one decision per tick like the director's one actor per reconcile.
 */
import {
  AppsV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { MERGE_PATCH } from '../../src/api/client.js';
import { CRDB_CLUSTER } from '../../src/platforms/kubernetes/cluster-ref.js';
import {
  CRDB_IMAGE_ANNOTATION,
  CRDB_VERSION_ANNOTATION,
  CRDB_VERSION_CHECKED,
} from '../../src/platforms/kubernetes/crdb-ref.js';
import { imageTag } from '../../src/platforms/kubernetes/members.js';
import { applyCrd } from '../kube/crds.js';
import type { TestCluster } from '../kube/test-cluster.js';

/** A CrdbCluster as the stand-in reads it. */
export interface CrdbObject {
  metadata: { name: string; uid?: string; resourceVersion?: string; annotations?: Record<string, string> };
  spec: { nodes: number; image?: { name?: string }; cockroachDBVersion?: string };
  status?: {
    conditions?: { type: string; status: string }[];
    crdbcontainerimage?: string;
    version?: string;
  };
}

/** The CrdbCluster CRD with the fields of cluster_types.go the tests use. */
export async function installCrdbClusterCrd(server: TestCluster): Promise<void> {
  const str = { type: 'string' };
  await applyCrd(server.rest, {
    metadata: { name: `${CRDB_CLUSTER.plural}.${CRDB_CLUSTER.group}` },
    spec: {
      group: CRDB_CLUSTER.group,
      scope: 'Namespaced',
      names: { kind: CRDB_CLUSTER.kind, plural: CRDB_CLUSTER.plural, singular: 'crdbcluster' },
      versions: [
        {
          name: CRDB_CLUSTER.version,
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: {
                  type: 'object',
                  required: ['nodes'],
                  properties: {
                    nodes: { type: 'integer', format: 'int32', minimum: 3 },
                    image: { type: 'object', properties: { name: str, pullPolicy: str } },
                    cockroachDBVersion: str,
                    tlsEnabled: { type: 'boolean' },
                  },
                  'x-kubernetes-preserve-unknown-fields': true,
                },
                status: {
                  type: 'object',
                  properties: {
                    conditions: {
                      type: 'array',
                      items: {
                        type: 'object',
                        required: ['type', 'status'],
                        properties: { type: str, status: str, lastTransitionTime: str },
                      },
                    },
                    crdbcontainerimage: str,
                    version: str,
                    clusterStatus: str,
                  },
                  'x-kubernetes-preserve-unknown-fields': true,
                },
              },
            },
          },
        },
      ],
    },
  });
}

/** What the stand-in did; {@link stop} it (also when the test ends). */
export interface CrdbOperator {
  /** Its own partitioned updates: `from -> to` versions. */
  ownRolls: string[];
  /** Its deploys that changed the StatefulSet, with the fields that differed. */
  deploys: string[];
  /** Version checks it finished, by image. */
  versionChecks: string[];
  stop(): void;
}

const checkedOf = (o: CrdbObject) =>
  o.status?.conditions?.find((c) => c.type === CRDB_VERSION_CHECKED)?.status;

/** Start the stand-in for CrdbCluster `name` and its StatefulSet of the same name. */
export function startCrdbOperator(
  t: { after(fn: () => unknown): void },
  server: TestCluster,
  kc: KubeConfig,
  name: string,
  opts: { tickMs?: number; versionCheckMs?: number } = {},
): CrdbOperator {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const apps = kc.makeApiClient(AppsV1Api);
  const namespace = server.namespace;
  const ref = {
    group: CRDB_CLUSTER.group,
    version: CRDB_CLUSTER.version,
    plural: CRDB_CLUSTER.plural,
    namespace,
    name,
  };
  const op: CrdbOperator = {
    ownRolls: [],
    deploys: [],
    versionChecks: [],
    stop: () => void (stopped = true),
  };
  let stopped = false;
  let checkingSince: { image: string; at: number } | undefined;
  const tickMs = opts.tickMs ?? 50;
  const versionCheckMs = opts.versionCheckMs ?? 1000;

  const setStatus = (status: NonNullable<CrdbObject['status']>) =>
    custom.patchNamespacedCustomObjectStatus({ ...ref, body: { status } }, MERGE_PATCH);

  const reconcile = async (): Promise<void> => {
    const cr = (await custom.getNamespacedCustomObject(ref)) as CrdbObject;
    const image = cr.spec.image?.name ?? '';
    const checked = checkedOf(cr);
    if (checked === 'True' && image !== cr.status?.crdbcontainerimage) {
      await setStatus({ conditions: [{ type: CRDB_VERSION_CHECKED, status: 'False' }] });
      return;
    }
    if (checked !== 'True') {
      // The version checker: a Job runs the image and reports its build tag.
      if (checkingSince?.image !== image) checkingSince = { image, at: Date.now() };
      if (Date.now() - checkingSince.at < versionCheckMs) return;
      await custom.patchNamespacedCustomObject(
        {
          ...ref,
          body: {
            metadata: {
              annotations: { [CRDB_VERSION_ANNOTATION]: imageTag(image), [CRDB_IMAGE_ANNOTATION]: image },
            },
          },
        },
        MERGE_PATCH,
      );
      await setStatus({
        conditions: [{ type: CRDB_VERSION_CHECKED, status: 'True' }],
        crdbcontainerimage: image,
        version: imageTag(image),
      });
      op.versionChecks.push(image);
      checkingSince = undefined;
      return;
    }
    const sts: V1StatefulSet = await apps.readNamespacedStatefulSet({ namespace, name });
    const wantVersion = cr.metadata.annotations?.[CRDB_VERSION_ANNOTATION] ?? '';
    const wantImage = cr.metadata.annotations?.[CRDB_IMAGE_ANNOTATION] ?? '';
    const stsVersion = sts.metadata?.annotations?.[CRDB_VERSION_ANNOTATION] ?? '';
    if (wantVersion && stsVersion && wantVersion !== stsVersion) {
      // needsPartitionedUpdate: the operator's own roll (recorded when attempted).
      op.ownRolls.push(`${stsVersion} -> ${wantVersion}`);
      await apps.patchNamespacedStatefulSet(
        {
          namespace,
          name,
          body: {
            metadata: { annotations: { [CRDB_VERSION_ANNOTATION]: wantVersion } },
            spec: {
              template: { spec: { containers: [{ name: 'db', image: wantImage }] } },
              updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
            },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
      return;
    }
    // needsDeploy: the fields its builder sets, against the live StatefulSet.
    const differs: string[] = [];
    if ((sts.spec?.replicas ?? 1) !== cr.spec.nodes) differs.push('replicas');
    if (sts.spec?.template?.spec?.containers?.[0]?.image !== image) differs.push('image');
    if (stsVersion !== wantVersion) differs.push(CRDB_VERSION_ANNOTATION);
    if ((sts.metadata?.annotations?.[CRDB_IMAGE_ANNOTATION] ?? '') !== wantImage)
      differs.push(CRDB_IMAGE_ANNOTATION);
    if (differs.length === 0) return;
    const containers = (sts.spec?.template?.spec?.containers ?? []).map((c, i) =>
      i === 0 ? { ...c, image } : c,
    );
    const next: V1StatefulSet = {
      ...sts,
      metadata: {
        ...sts.metadata,
        annotations: {
          ...sts.metadata?.annotations,
          [CRDB_VERSION_ANNOTATION]: wantVersion,
          [CRDB_IMAGE_ANNOTATION]: wantImage,
        },
      },
      spec: {
        ...sts.spec!,
        replicas: cr.spec.nodes,
        template: { ...sts.spec!.template, spec: { ...sts.spec!.template.spec!, containers } },
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: {} },
      },
    };
    await apps.replaceNamespacedStatefulSet({ namespace, name, body: next });
    op.deploys.push(differs.join(','));
  };

  const loop = async () => {
    while (!stopped) {
      try {
        await reconcile();
      } catch {
        // A conflict or the namespace going away: the next tick decides again.
      }
      await new Promise((r) => setTimeout(r, tickMs));
    }
  };
  void loop();
  t.after(() => op.stop());
  return op;
}
