/**
 * The engines Baton drives on Kubernetes, shared by the operator and `baton --platform
 * kubernetes`: `generic` (pod readiness is the health gate) and the engines whose adapters talk to
 * each member's admin endpoint ({@link PlatformMember.endpoint}: the pod's DNS name through the
 * headless Service, `spec.target.endpointTemplate`, or a per-pod `spec.target.endpoints` entry).
 * Credentials come from the Secret `spec.credentialsSecret` names and go straight into the
 * engine's client; they are never logged, put in status, or put in Events. An Upgrade that targets
 * a cluster object Baton knows (`spec.target.cluster`: TidbCluster, CrdbCluster) gives its engine a
 * reader of that object's annotations (TiDB's `tidb.pingcap.com/force-upgrade`).
 */
import { CustomObjectsApi, VersionApi, type KubeConfig } from '@kubernetes/client-node';
import type { UpgradeResource } from '../api/upgrade.js';
import { BadInputError } from '../core/errors.js';
import type { Engine, Platform } from '../core/ports.js';
import { RedisEnterpriseStages } from '../platforms/kubernetes/redis-enterprise.js';
import { knownClusterKind, type ClusterObject } from '../platforms/kubernetes/cluster-ref.js';
import { readCredentials, type Credentials } from '../platforms/kubernetes/journal.js';
import { drivenOn, engineKit, enginesOn } from './engines.js';
import type { EngineContext, TargetCluster } from './kit.js';

/** Engines that can be driven on pods, in the order error messages list them. */
export const POD_ENGINES: readonly string[] = enginesOn('kubernetes');

/** How to name the engine setting in an error: `spec.engine` (operator) or `--engine` (CLI). */
export type EngineField = 'spec.engine' | '--engine';

/**
 * The engine `name` with `credentials` handed to its client (see each kit in `wiring/engines/`:
 * etcd3 `auth`, Redis `AUTH`, PostgreSQL user/password; `generic` takes none). Any other name is a
 * BadInputError `engine-unavailable` naming `field` and the engines that can be used.
 */
export async function createPodEngine(
  name: string,
  credentials: Credentials | undefined,
  field: EngineField,
  context: EngineContext = {},
): Promise<Engine> {
  if (!drivenOn(name, 'kubernetes')) {
    const subject = field === 'spec.engine' ? `${field}: engine "${name}"` : `${field} ${name}`;
    throw new BadInputError(
      'engine-unavailable',
      `${subject} cannot be driven on Kubernetes (its admin API has no adapter here); use one of ${POD_ENGINES.join(', ')}`,
    );
  }
  return (await engineKit(name)).create(credentials, context);
}

/**
 * The cluster object an Upgrade targets, when it is of a kind Baton knows (TidbCluster,
 * CrdbCluster, RedisEnterpriseCluster): each {@link TargetCluster.annotations} call is one GET of
 * the object through `kc` (the operator's RBAC grants `get` on each of those kinds).
 */
export function targetCluster(kc: KubeConfig, upgrade: UpgradeResource): TargetCluster | undefined {
  const ref = upgrade.spec.target.cluster;
  const kind = ref ? knownClusterKind(ref) : undefined;
  if (!ref || !kind || upgrade.spec.target.statefulSet || upgrade.spec.target.statefulSets) return undefined;
  const namespace = upgrade.metadata.namespace ?? 'default';
  const custom = kc.makeApiClient(CustomObjectsApi);
  return {
    kind: kind.kind,
    name: ref.name,
    namespace,
    annotations: async () => {
      const object = (await custom.getNamespacedCustomObject({
        group: kind.group,
        version: kind.version,
        plural: kind.plural,
        namespace,
        name: ref.name,
      })) as ClusterObject;
      return object.metadata.annotations ?? {};
    },
  };
}

/**
 * The engine an Upgrade resource names (`name` overrides `spec.engine`), with the credentials of
 * `spec.credentialsSecret` read from the Upgrade's namespace when the engine uses any. The Secret
 * is read once, here; a missing Secret or key is a BadInputError naming the field.
 */
export async function engineForUpgrade(
  kc: KubeConfig,
  upgrade: UpgradeResource,
  field: EngineField,
  name: string = upgrade.spec.engine ?? 'generic',
): Promise<Engine> {
  const secret = upgrade.spec.credentialsSecret;
  const cluster = targetCluster(kc, upgrade);
  const context: EngineContext = {
    ...(cluster ? { cluster } : {}),
    kubernetesVersion: () => kubernetesVersion(kc),
  };
  // Validate the name before touching the Secret: an unusable engine needs no credentials.
  const usable = drivenOn(name, 'kubernetes');
  if (!usable || name === 'generic' || !secret) return createPodEngine(name, undefined, field, context);
  const kit = await engineKit(name);
  const credentials = await readCredentials(kc, upgrade.metadata.namespace ?? 'default', secret, {
    clientCertificate: kit.clientCertificate ?? false,
    field: field === '--engine' ? '--credentials-secret' : 'spec.credentialsSecret',
  });
  return createPodEngine(name, credentials, field, context);
}

/** The API server's version (`/version` gitVersion), undefined when it cannot be read. */
async function kubernetesVersion(kc: KubeConfig): Promise<string | undefined> {
  try {
    return (await kc.makeApiClient(VersionApi).getCode()).gitVersion;
  } catch {
    return undefined;
  }
}

/**
 * The platform an Upgrade of engine `engine` runs on: `platform` (its StatefulSets' pods), plus,
 * for Redis Enterprise, the operator Deployment and the RedisEnterpriseDatabases of `namespace` as
 * members of their own stages (platforms/kubernetes/redis-enterprise.ts), so that the operator,
 * the cluster and the databases are upgraded in that order; `upgrade` gives the Upgrade as it
 * stands (a REC targeted through `spec.target.cluster` passes the `rec-owner` check).
 */
export function withEngineStages(
  engine: string,
  platform: Platform,
  kc: KubeConfig,
  namespace: string,
  upgrade?: () => UpgradeResource,
): Platform {
  if (engine !== 'redis-enterprise') return platform;
  const t = () => upgrade?.().spec.target;
  return new RedisEnterpriseStages(platform, {
    kc,
    namespace,
    clusterRef: () => (t()?.statefulSet || t()?.statefulSets ? undefined : t()?.cluster),
  });
}
