/**
 * What a Kubernetes test gets: its own namespace on the shared real control plane, its own fake
 * kubelet with its own nodes, and a fault proxy in front of the apiserver.
 *
 * One control plane serves a whole `npm test` run (scripts/run-tests.mjs starts it and passes
 * `BATON_CONTROLPLANE`, the path of its {@link ControlPlaneInfo}); a file run on its own starts a
 * private one on first use, killed when the process exits. Test files still run in parallel:
 *
 * - each test's namespace carries the annotations of the real PodNodeSelector and
 *   PodTolerationRestriction admission plugins, so every pod created in it gets the node selector
 *   and toleration of the test's node group;
 * - the test's nodes carry that label and a NoSchedule taint of that group, so no other pod lands
 *   there. DaemonSet templates must tolerate the taint ({@link TestCluster.toleration}): the
 *   DaemonSet controller reads tolerations from the template, not from admission.
 *
 * Baton's clients go through the proxy ({@link TestCluster.kubeConfig}); the kubelet and the
 * harness talk to the apiserver directly, so request counts are the code under test's alone.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { KubeConfig, type V1Pod, type V1StatefulSet } from '@kubernetes/client-node';
import type { TestContext } from 'node:test';
import { startControlPlane, writeKubeconfigFile, type ControlPlaneInfo } from './controlplane.js';
import { FakeKubelet, type FakeNodeSpec, type KubeletSettings } from './fake-kubelet.js';
import {
  startFaultProxy,
  type FaultProxy,
  type FaultSpec,
  type LatencyRule,
  type RequestStats,
} from './fault-proxy.js';
import { PATCH, Rest } from './rest.js';

/** Node label and taint key naming a test's node group (its namespace). */
export const NODE_GROUP_KEY = 'baton.dev/test-node-group';

/** Options of {@link startCluster}. */
export interface TestClusterOptions extends Partial<KubeletSettings> {
  /** Number of fake nodes (default 1), or their specs (names get the namespace as prefix). */
  nodes?: number | FakeNodeSpec[];
}

/** One event seen by {@link TestCluster.watchEvents}. */
export interface WatchedEvent {
  path: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: { metadata: { resourceVersion?: string } } & Record<string, unknown>;
}

/** A test's slice of the shared control plane (see the module comment). */
export interface TestCluster {
  /** The test's namespace. */
  readonly namespace: string;
  readonly controlPlane: ControlPlaneInfo;
  readonly kubelet: FakeKubelet;
  readonly proxy: FaultProxy;
  /** Admin calls straight to the apiserver (not counted by the proxy). */
  readonly rest: Rest;
  /**
   * A KubeConfig through the fault proxy, context namespace = the test's. `token` defaults to
   * the admin's; `direct` skips the proxy.
   */
  kubeConfig(opts?: { token?: string; direct?: boolean; namespace?: string }): KubeConfig;
  /** Write that kubeconfig as a file (for `--kubeconfig`, kubectl, helm). */
  writeKubeconfig(
    path: string,
    opts?: { token?: string; direct?: boolean; namespace?: string },
  ): Promise<void>;
  /** The current resourceVersion (of a consistent list). */
  resourceVersion(): Promise<string>;
  /**
   * Make every resourceVersion issued so far too old for watches and continued lists (410
   * Expired from the proxy, as after an etcd compaction); a relist works.
   */
  compact(): Promise<void>;
  /**
   * Watch `paths` (collections) from now until `t` ends; the returned function gives every event
   * so far, all paths merged in resourceVersion order (etcd's one global order of writes).
   */
  watchEvents(t: Pick<TestContext, 'after'>, paths: string[]): Promise<() => WatchedEvent[]>;
  /** Another namespace in this test's node group (deleted at the end). */
  createNamespace(prefix?: string): Promise<string>;
  /** The toleration of this test's node taint, for DaemonSet templates. */
  toleration(): { key: string; operator: 'Equal'; value: string; effect: 'NoSchedule' };
  /** Shorthands for the proxy's fault knobs and counters. */
  failNext(fault: FaultSpec): void;
  clearFaults(): void;
  setLatency(rule: LatencyRule): void;
  dropWatches(): number;
  requests(): RequestStats;
  resetRequests(): void;
  /**
   * What a stuck test needs to see: the namespace's StatefulSets and pods (phase, readiness,
   * deletion, node) and the kubelet's write errors, as text.
   */
  describe(): Promise<string>;
  /** Stop the kubelet (pods deleted, nodes removed), the proxy, and delete the namespaces. */
  close(): Promise<void>;
}

let privatePlane: Promise<ControlPlaneInfo> | undefined;

/**
 * The run's control plane: the one named by `BATON_CONTROLPLANE`, or a private one started once
 * per process (its processes are killed and its directory removed when the process exits).
 */
export function sharedControlPlane(): Promise<ControlPlaneInfo> {
  const file = process.env.BATON_CONTROLPLANE;
  if (file) return Promise.resolve(JSON.parse(readFileSync(file, 'utf8')) as ControlPlaneInfo);
  privatePlane ??= startControlPlane().then((cp) => {
    // The components must not keep the process alive once its tests are done, or it never exits.
    cp.unref();
    process.once('exit', () => cp.kill());
    return cp.info;
  });
  return privatePlane;
}

/** A KubeConfig for `server` with a bearer token. */
export function kubeConfigFor(c: {
  server: string;
  caFile: string;
  token: string;
  namespace?: string;
}): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'baton-test', server: c.server, caFile: c.caFile, skipTLSVerify: false }],
    users: [{ name: 'user', token: c.token }],
    contexts: [
      { name: 'baton-test', cluster: 'baton-test', user: 'user', namespace: c.namespace ?? 'default' },
    ],
    currentContext: 'baton-test',
  });
  return kc;
}

/** Start a test cluster that is closed when `t` ends. */
export async function startCluster(
  t: Pick<TestContext, 'after'>,
  opts: TestClusterOptions = {},
): Promise<TestCluster> {
  const cluster = await createTestCluster(opts);
  t.after(() => cluster.close());
  return cluster;
}

/** Create a test cluster; the caller closes it. */
export async function createTestCluster(opts: TestClusterOptions = {}): Promise<TestCluster> {
  const cp = await sharedControlPlane();
  const admin = kubeConfigFor({ server: cp.server, caFile: cp.caFile, token: cp.adminToken });
  const rest = new Rest(admin);
  const group = `t-${randomBytes(4).toString('hex')}`;
  const namespaces: string[] = [];
  const toleration = {
    key: NODE_GROUP_KEY,
    operator: 'Equal' as const,
    value: group,
    effect: 'NoSchedule' as const,
  };

  const createNamespace = async (name: string) => {
    await rest.post('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name,
        labels: { 'baton.dev/test': 'true' },
        annotations: {
          'scheduler.alpha.kubernetes.io/node-selector': `${NODE_GROUP_KEY}=${group}`,
          'scheduler.alpha.kubernetes.io/defaultTolerations': JSON.stringify([toleration]),
        },
      },
    });
    namespaces.push(name);
    // Pods are refused until the serviceaccount controller has made the namespace's `default`.
    const deadline = Date.now() + 60_000;
    while (!(await rest.find(`/api/v1/namespaces/${name}/serviceaccounts/default`))) {
      if (Date.now() > deadline) throw new Error(`namespace ${name}: no default ServiceAccount after 60 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return name;
  };

  await createNamespace(group);
  const kubelet = new FakeKubelet(
    kubeConfigFor({ server: cp.server, caFile: cp.caFile, token: cp.kubeletToken }),
    opts,
  );
  const proxy = await startFaultProxy(cp);
  const specs: FakeNodeSpec[] =
    typeof opts.nodes === 'object'
      ? opts.nodes
      : Array.from({ length: opts.nodes ?? 1 }, (_, i) => ({ name: `node-${i + 1}` }));
  try {
    await Promise.all(
      specs.map((s) =>
        kubelet.addNode({
          ...s,
          name: `${group}-${s.name}`,
          labels: { ...s.labels, [NODE_GROUP_KEY]: group },
          taints: [...(s.taints ?? []), { key: NODE_GROUP_KEY, value: group, effect: 'NoSchedule' }],
        }),
      ),
    );
  } catch (err) {
    await kubelet.close();
    await proxy.close();
    throw err;
  }

  const kubeConfig = (o: { token?: string; direct?: boolean; namespace?: string } = {}) =>
    kubeConfigFor({
      server: o.direct ? cp.server : proxy.url,
      caFile: cp.caFile,
      token: o.token ?? cp.adminToken,
      namespace: o.namespace ?? group,
    });
  const resourceVersion = async () =>
    (
      await rest.get<{ metadata: { resourceVersion: string } }>(
        `/api/v1/namespaces/${group}/configmaps?limit=1`,
      )
    ).metadata.resourceVersion;

  return {
    namespace: group,
    controlPlane: cp,
    kubelet,
    proxy,
    rest,
    kubeConfig,
    async writeKubeconfig(path, o = {}) {
      await writeKubeconfigFile(path, {
        server: o.direct ? cp.server : proxy.url,
        caFile: cp.caFile,
        token: o.token ?? cp.adminToken,
        namespace: o.namespace ?? group,
      });
    },
    resourceVersion,
    async compact() {
      // A write first, so that every resourceVersion handed out so far is older than the
      // compaction point while a relist (at this write or later) is not.
      const marker = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'baton-compaction' },
        data: { at: String(Date.now()) },
      };
      const written = await rest.call<{ metadata: { resourceVersion: string } }>(
        'PATCH',
        `/api/v1/namespaces/${group}/configmaps/baton-compaction?fieldManager=baton-test&force=true`,
        marker,
        PATCH.apply,
      );
      proxy.compact(written.metadata.resourceVersion);
    },
    async watchEvents(t, paths) {
      const from = await resourceVersion();
      const seen: WatchedEvent[] = [];
      const watches = paths.map((path) =>
        rest.listWatch<WatchedEvent['object']>(
          path,
          {},
          (type, object) => seen.push({ path, type, object }),
          { from },
        ),
      );
      t.after(() => watches.forEach((w) => w.stop()));
      const rv = (e: WatchedEvent) => BigInt(e.object.metadata.resourceVersion ?? '0');
      return () => [...seen].sort((a, b) => (rv(a) < rv(b) ? -1 : rv(a) > rv(b) ? 1 : 0));
    },
    createNamespace: (prefix = 'ns') => createNamespace(`${group}-${prefix}`),
    toleration: () => toleration,
    failNext: (f) => proxy.failNext(f),
    clearFaults: () => proxy.clearFaults(),
    setLatency: (r) => proxy.setLatency(r),
    dropWatches: () => proxy.dropWatches(),
    requests: () => proxy.requests(),
    resetRequests: () => proxy.resetRequests(),
    async describe() {
      const lines: string[] = [];
      try {
        const sets = await rest.get<{ items: V1StatefulSet[] }>(
          `/apis/apps/v1/namespaces/${group}/statefulsets`,
        );
        for (const x of sets.items) {
          const st = x.status;
          lines.push(
            `statefulset ${x.metadata?.name}: gen ${x.metadata?.generation}/${st?.observedGeneration} replicas ${st?.replicas} ready ${st?.readyReplicas} updated ${st?.updatedReplicas} current ${st?.currentRevision} update ${st?.updateRevision} strategy ${JSON.stringify(x.spec?.updateStrategy)}`,
          );
        }
        const pods = await rest.get<{ items: V1Pod[] }>(`/api/v1/namespaces/${group}/pods`);
        for (const p of pods.items) {
          const ready = p.status?.conditions?.find((c) => c.type === 'Ready')?.status;
          lines.push(
            `pod ${p.metadata?.name} uid ${p.metadata?.uid?.slice(0, 8)} rev ${p.metadata?.labels?.['controller-revision-hash']} ${p.status?.phase} ready=${ready} node=${p.spec?.nodeName ?? '-'}${p.metadata?.deletionTimestamp ? ' deleting' : ''} image=${p.spec?.containers[0]?.image}`,
          );
        }
      } catch (err) {
        lines.push(`(could not read the namespace: ${String(err)})`);
      }
      if (kubelet.errors.length) lines.push(`kubelet errors: ${kubelet.errors.slice(-10).join('; ')}`);
      return lines.join('\n');
    },
    async close() {
      // Deleting the namespaces first stops their controllers from recreating pods the kubelet
      // then removes; the namespace controller finishes in the background.
      await Promise.all(
        namespaces.map((ns) => rest.delete(`/api/v1/namespaces/${ns}`, { propagationPolicy: 'Background' })),
      );
      await kubelet.close();
      await proxy.close();
    },
  };
}
