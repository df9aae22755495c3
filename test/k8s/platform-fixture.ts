/**
 * Shared setup of the Kubernetes platform suites: a test namespace and fake nodes on the real
 * control plane with the Upgrade CRD, a StatefulSet that has settled, and the journal, platform,
 * engine and runner wired as the operator and the CLI wire them. Pods are watched so tests can
 * assert that at most one is down at a time.
 */
import type { TestContext } from 'node:test';
import {
  AppsV1Api,
  CoreV1Api,
  Watch,
  type CoreV1Event,
  type V1Pod,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { systemClock, type Clock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import { API_VERSION, KIND, type UpgradeResource, type UpgradeResourceSpec } from '../../src/api/upgrade.js';
import { GenericEngine } from '../../src/engines/generic/engine.js';
import { UpgradeResourceJournal } from '../../src/platforms/kubernetes/journal.js';
import { KubeEventRecorder } from '../../src/platforms/kubernetes/events.js';
import { KubernetesPlatform } from '../../src/platforms/kubernetes/statefulset.js';
import { createUpgrade } from '../../src/runner/start.js';
import { Runner, type RunnerEvent } from '../../src/runner/runner.js';
import type { UpgradeStatus } from '../../src/core/types.js';
import { isPodReady } from '../kube/fake-kubelet.js';
import { ensureUpgradeCrd } from '../kube/crds.js';
import { waitFor } from '../kube/helpers.js';
import {
  startCluster as startTestCluster,
  type TestCluster,
  type TestClusterOptions,
} from '../kube/test-cluster.js';
import { engineRegistry } from '../../src/engines/registry.js';

/**
 * Real time, but requeues shortened to at most 20 ms: the runner's 500 ms polls would only make
 * the suites slower, while timeouts (measured with `now`) keep their meaning.
 */
export const fastClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => systemClock.sleep(Math.min(ms, 20), signal),
};

/** A StatefulSet manifest (namespace: the one it is created in). */
export function statefulSet(
  name: string,
  replicas: number,
  opts: { onDelete?: boolean; image?: string; partition?: number; labels?: Record<string, string> } = {},
): V1StatefulSet {
  return {
    metadata: { name, labels: opts.labels },
    spec: {
      replicas,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      updateStrategy: opts.onDelete
        ? { type: 'OnDelete' }
        : { type: 'RollingUpdate', rollingUpdate: { partition: opts.partition ?? 0 } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'db', image: opts.image ?? 'registry.local:5000/db:1.0.0' }] },
      },
    },
  };
}

/**
 * A test namespace with fake nodes and the Upgrade CRD; `server` is the test's cluster (its
 * `kubeConfig()` goes through the fault proxy), `ns` its namespace.
 */
export async function startCluster(t: Pick<TestContext, 'after'>, opts: TestClusterOptions = {}) {
  const server = await startTestCluster(t, { readinessDelayMs: 15, podTerminationMs: 5, ...opts });
  await ensureUpgradeCrd(server.rest);
  const kc = server.kubeConfig();
  return {
    server,
    ns: server.namespace,
    kc,
    apps: kc.makeApiClient(AppsV1Api),
    core: kc.makeApiClient(CoreV1Api),
  };
}

/** Create a StatefulSet and wait until every replica is Ready. */
export async function createSettled(server: TestCluster, sts: V1StatefulSet): Promise<void> {
  const apps = server.kubeConfig().makeApiClient(AppsV1Api);
  await apps.createNamespacedStatefulSet({ namespace: server.namespace, body: sts });
  await waitSettled(server, sts.metadata!.name!);
}

/**
 * Wait until the real StatefulSet controller has acted on the current spec and every replica is
 * Ready: what a test waits for before it asserts that nothing else happens.
 */
export async function waitSettled(server: TestCluster, name: string): Promise<V1StatefulSet> {
  const apps = server.kubeConfig({ direct: true }).makeApiClient(AppsV1Api);
  return waitFor(
    `statefulset ${name} to settle`,
    async () => {
      const s = await apps.readNamespacedStatefulSet({ namespace: server.namespace, name });
      const want = s.spec!.replicas!;
      return s.status?.observedGeneration === s.metadata?.generation &&
        s.status?.readyReplicas === want &&
        s.status?.replicas === want
        ? s
        : undefined;
    },
    60_000,
    20,
  );
}

/** Pod readiness over time, from a real watch: the most pods of a StatefulSet ever unready at once. */
export async function watchUnready(
  t: Pick<TestContext, 'after'>,
  server: TestCluster,
  sts: string,
  replicas: number,
): Promise<{ maxUnready: () => number; deletions: () => string[] }> {
  const state = new Map<string, boolean>();
  const deleted: string[] = [];
  let max = 0;
  const ctl = await new Watch(server.kubeConfig({ direct: true })).watch(
    `/api/v1/namespaces/${server.namespace}/pods`,
    { resourceVersion: await server.resourceVersion() },
    (type, pod: V1Pod) => {
      const name = pod.metadata!.name!;
      if (!name.startsWith(`${sts}-`)) return;
      if (type === 'DELETED') state.set(name, false);
      else state.set(name, isPodReady(pod));
      if (pod.metadata?.deletionTimestamp && !deleted.includes(`${name}@${pod.metadata.uid}`))
        deleted.push(`${name}@${pod.metadata.uid}`);
      let unready = 0;
      for (let i = 0; i < replicas; i++) if (state.get(`${sts}-${i}`) === false) unready++;
      max = Math.max(max, unready);
    },
    () => {},
  );
  t.after(() => ctl.abort());
  return { maxUnready: () => max, deletions: () => deleted.map((d) => d.split('@')[0]!) };
}

/** An Upgrade resource (namespace: set by {@link wire}). */
export function upgradeResource(
  name: string,
  spec: Partial<UpgradeResourceSpec> & { version: string },
): UpgradeResource {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name },
    spec: { engine: 'generic', target: { statefulSet: 'db' }, ...spec } as UpgradeResourceSpec,
  };
}

/** Journal, platform, engine and a runner for an Upgrade resource created on the server. */
export async function wire(server: TestCluster, resource: UpgradeResource, opts: { clock?: Clock } = {}) {
  const kc = server.kubeConfig();
  const NS = server.namespace;
  const clock = opts.clock ?? fastClock;
  const journal = new UpgradeResourceJournal({ kc, namespace: NS, clock });
  const created = await journal.createResource({
    ...resource,
    metadata: { ...resource.metadata, namespace: NS },
  });
  const recorder = new KubeEventRecorder({ kc, clock, logger: nullLogger });
  const platform = new KubernetesPlatform({
    kc,
    engines: engineRegistry,
    namespace: NS,
    upgrade: created,
    journal,
    clock,
    logger: nullLogger,
    events: recorder,
  });
  const engine = new GenericEngine();
  const spec = (await journal.get(resource.metadata.name))!.spec;
  await createUpgrade(platform, engine, spec, { clock, logger: nullLogger });
  const events: RunnerEvent[] = [];
  const statuses: UpgradeStatus[] = [];
  const pending: Promise<void>[] = [];
  const runner = new Runner({
    platform,
    engine,
    clock,
    logger: nullLogger,
    name: resource.metadata.name,
    onEvent: (e) => {
      events.push(e);
      pending.push(recorder.emit(e, { upgrade: created }));
    },
    onStatus: (s) => statuses.push(structuredClone(s)),
  });
  return {
    kc,
    journal,
    platform,
    engine,
    runner,
    events,
    statuses,
    clock,
    /** Wait for every Event write started so far. */
    flushEvents: () => Promise.all(pending),
  };
}

/** Events recorded on an object. */
export async function eventsOf(server: TestCluster, kind: string, name: string): Promise<CoreV1Event[]> {
  const core = server.kubeConfig({ direct: true }).makeApiClient(CoreV1Api);
  const list = await core.listNamespacedEvent({ namespace: server.namespace });
  return list.items.filter((e) => e.involvedObject.kind === kind && e.involvedObject.name === name);
}
