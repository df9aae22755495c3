/**
 * Install manifests of the operator: the Upgrade CRD, a namespace, least-privilege RBAC (only the
 * verbs and resources Baton uses), the ServiceAccount, a two-replica Deployment and its metrics
 * Service. `baton manifests` prints them; the same files are committed under `deploy/` (a golden
 * test keeps them equal) with a `kustomization.yaml` so `kubectl apply -k deploy/` installs Baton.
 * The Helm chart `deploy/helm/baton` renders the same objects with its default values (a test
 * compares them).
 */
import { stringify } from 'yaml';
import { DEFAULT_IMAGE, DEFAULT_NAMESPACE } from './defaults.js';
import { upgradeCrd, GROUP, PLURAL } from '../api/upgrade.js';
import { CRDB_CLUSTER, REDIS_ENTERPRISE_CLUSTER, TIDB_CLUSTER } from '../platforms/kubernetes/cluster-ref.js';
import { REDIS_ENTERPRISE_DATABASE } from '../platforms/kubernetes/redis-enterprise.js';

/** Name shared by the ServiceAccount, the Deployment, the ClusterRole and the Lease. */
export const OPERATOR_NAME = 'baton-operator';
/** Port of /healthz, /readyz and /metrics in the pod. */
/**
 * Node and V8 flags of the operator process, on its command line (`--optimize-for-size` is not
 * accepted in NODE_OPTIONS): V8 favouring size over speed, one V8 worker thread, a small young
 * generation and a bounded old generation. Loading @kubernetes/client-node alone costs about
 * 72 MB resident with V8's defaults; with these flags the operator peaks around 110 MB under
 * `npm run bench:k8s` (was 118-125 MB with the two heap limits alone) at the same speed, well inside
 * its 256Mi limit.
 */
export const OPERATOR_NODE_FLAGS: readonly string[] = [
  '--optimize-for-size',
  '--v8-pool-size=1',
  '--max-semi-space-size=2',
  '--max-old-space-size=96',
];

/**
 * The operator's program inside the image (Dockerfile's WORKDIR is /app): the compiled entry point
 * `dist/operator/entrypoint.js` bundled into one file by `npm run build` (src/operator/bundle.ts).
 */
export const OPERATOR_ENTRYPOINT = 'dist/baton-operator.js';

/**
 * The environment the image gives the operator (Dockerfile `ENV`): jemalloc (Debian's libjemalloc2,
 * linked to this path whatever the architecture) instead of glibc's malloc. Node's memory outside
 * the V8 heap (sockets, TLS, parsers, the collector's own bookkeeping) grew to about 100 MB at the
 * peak of a 1,000-node upgrade under glibc, fragmented across its arenas; under jemalloc about
 * 15 MB less (`npm run bench:nodes` runs the operator with this environment).
 */
export const OPERATOR_IMAGE_ENV: Readonly<Record<string, string>> = {
  LD_PRELOAD: '/usr/local/lib/libjemalloc.so.2',
};

export const OPERATOR_PORT = 8080;

/** Options of {@link renderManifests}. */
export interface ManifestOptions {
  namespace?: string;
  image?: string;
}

/** One file under `deploy/` and the documents it holds. */
export interface ManifestFile {
  file: string;
  docs: Record<string, unknown>[];
}

const appLabels = { 'app.kubernetes.io/name': 'baton', 'app.kubernetes.io/component': 'operator' };

/** Cluster-wide rules: the operator watches Upgrades and StatefulSets in every namespace. */
function clusterRules(): Record<string, unknown>[] {
  return [
    {
      apiGroups: [GROUP],
      resources: [PLURAL],
      verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'],
    },
    { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ['get', 'update', 'patch'] },
    {
      apiGroups: ['apps'],
      resources: ['statefulsets'],
      verbs: ['get', 'list', 'watch', 'patch', 'update'],
    },
    { apiGroups: ['apps'], resources: ['controllerrevisions'], verbs: ['get', 'list'] },
    { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'delete'] },
    { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
    // Events: recorded (create, patch), and an expired upgrade's deleted (list, delete).
    { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch', 'list', 'delete'] },
    { apiGroups: [''], resources: ['services'], verbs: ['get'] },
    // Admin credentials named by spec.credentialsSecret; `get` only, never list or watch.
    { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
    // spec.target.cluster: a TidbCluster is read, paused for the roll and handed back (patch); a
    // CrdbCluster is read, held and pointed at each version (patch); a RedisEnterpriseCluster is
    // read, marked and given each version's versionTag (patch). Other kinds need a grant of `get`
    // added by the user.
    { apiGroups: [TIDB_CLUSTER.group], resources: [TIDB_CLUSTER.plural], verbs: ['get', 'patch'] },
    { apiGroups: [CRDB_CLUSTER.group], resources: [CRDB_CLUSTER.plural], verbs: ['get', 'patch'] },
    {
      apiGroups: [REDIS_ENTERPRISE_CLUSTER.group],
      resources: [REDIS_ENTERPRISE_CLUSTER.plural],
      verbs: ['get', 'patch'],
    },
    // Redis Enterprise's stages: the operator Deployment's image and each REDB's redisVersion.
    { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'patch'] },
    {
      apiGroups: [REDIS_ENTERPRISE_DATABASE.group],
      resources: [REDIS_ENTERPRISE_DATABASE.plural],
      verbs: ['list', 'patch'],
    },
    // spec.target.nodes: Nodes are cordoned and uncordoned (patch) and, by the replace actuator,
    // deleted; budgets, ReplicaSets and Jobs are watched (api/node-informers.ts); the job actuator
    // creates upgrade Jobs; the replace actuator records its replacements in a ConfigMap.
    { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch', 'patch', 'delete'] },
    { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['list', 'watch'] },
    { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['list', 'watch'] },
    { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch', 'create'] },
    { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'create', 'patch'] },
  ];
}

/** The documents, grouped by the file each belongs to under `deploy/`. */
export function renderManifests(opts: ManifestOptions = {}): ManifestFile[] {
  const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
  const image = opts.image ?? DEFAULT_IMAGE;
  const meta = (name: string, namespaced = true) => ({
    name,
    ...(namespaced ? { namespace } : {}),
    labels: appLabels,
  });
  const subject = { kind: 'ServiceAccount', name: OPERATOR_NAME, namespace };
  const probe = (path: string, period: number) => ({
    httpGet: { path, port: 'http' },
    periodSeconds: period,
    timeoutSeconds: 2,
    failureThreshold: 3,
  });
  return [
    { file: 'crd.yaml', docs: [upgradeCrd()] },
    {
      file: 'namespace.yaml',
      docs: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: appLabels } }],
    },
    {
      file: 'rbac.yaml',
      docs: [
        { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(OPERATOR_NAME) },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRole',
          metadata: meta(OPERATOR_NAME, false),
          rules: clusterRules(),
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: meta(OPERATOR_NAME, false),
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: OPERATOR_NAME },
          subjects: [subject],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: meta(`${OPERATOR_NAME}-leader-election`),
          rules: [
            { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
          ],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: meta(`${OPERATOR_NAME}-leader-election`),
          roleRef: {
            apiGroup: 'rbac.authorization.k8s.io',
            kind: 'Role',
            name: `${OPERATOR_NAME}-leader-election`,
          },
          subjects: [subject],
        },
      ],
    },
    {
      file: 'operator.yaml',
      docs: [
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: meta(OPERATOR_NAME),
          spec: {
            replicas: 2,
            selector: { matchLabels: appLabels },
            template: {
              metadata: { labels: appLabels },
              spec: {
                serviceAccountName: OPERATOR_NAME,
                securityContext: {
                  runAsNonRoot: true,
                  runAsUser: 10001,
                  runAsGroup: 10001,
                  seccompProfile: { type: 'RuntimeDefault' },
                },
                terminationGracePeriodSeconds: 60,
                containers: [
                  {
                    name: 'operator',
                    image,
                    command: ['node', ...OPERATOR_NODE_FLAGS, OPERATOR_ENTRYPOINT],
                    args: [
                      'operator',
                      '--port',
                      String(OPERATOR_PORT),
                      '--lease-name',
                      OPERATOR_NAME,
                      '--lease-namespace',
                      '$(POD_NAMESPACE)',
                      '--identity',
                      '$(POD_NAME)',
                    ],
                    env: [
                      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                      {
                        name: 'POD_NAMESPACE',
                        valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } },
                      },
                    ],
                    ports: [{ name: 'http', containerPort: OPERATOR_PORT }],
                    livenessProbe: probe('/healthz', 10),
                    readinessProbe: probe('/readyz', 5),
                    resources: {
                      requests: { cpu: '100m', memory: '128Mi' },
                      limits: { memory: '256Mi' },
                    },
                    securityContext: {
                      allowPrivilegeEscalation: false,
                      readOnlyRootFilesystem: true,
                      capabilities: { drop: ['ALL'] },
                    },
                  },
                ],
              },
            },
          },
        },
        {
          // /metrics (and /healthz, /readyz) of the operator's pods, for a Prometheus scrape.
          apiVersion: 'v1',
          kind: 'Service',
          metadata: meta(`${OPERATOR_NAME}-metrics`),
          spec: {
            type: 'ClusterIP',
            selector: appLabels,
            ports: [{ name: 'http', port: OPERATOR_PORT, targetPort: 'http', protocol: 'TCP' }],
          },
        },
      ],
    },
  ];
}

/** One file's text: its documents as YAML separated by `---`. */
export function fileText(f: ManifestFile): string {
  return f.docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
}

/** Every document as one multi-document YAML stream (what `baton manifests` prints). */
export function manifestsYaml(opts: ManifestOptions = {}): string {
  return renderManifests(opts).map(fileText).join('---\n');
}

/** `deploy/kustomization.yaml`: the files in install order. */
export function kustomizationYaml(): string {
  return stringify(
    {
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: renderManifests().map((f) => f.file),
    },
    { lineWidth: 0 },
  );
}

export { DEFAULT_IMAGE, DEFAULT_NAMESPACE };
