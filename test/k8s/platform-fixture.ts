/**
 * Shared setup of the Kubernetes platform suites: a fake API server with the Upgrade CRD, a
 * StatefulSet that has settled, and the journal, platform, engine and runner wired as the operator
 * and the CLI wire them. Pods are watched so tests can assert that at most one is down at a time.
 */
import type { TestContext } from 'node:test';
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  Watch,
  type CoreV1Event,
  type V1CustomResourceDefinition,
  type V1Pod,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { systemClock, type Clock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import {
  API_VERSION,
  KIND,
  upgradeCrd,
  type UpgradeResource,
  type UpgradeResourceSpec,
} from '../../src/api/upgrade.js';
import { GenericEngine } from '../../src/engines/generic/engine.js';
import { UpgradeResourceJournal } from '../../src/platforms/kubernetes/journal.js';
import { KubeEventRecorder } from '../../src/platforms/kubernetes/events.js';
import { KubernetesPlatform } from '../../src/platforms/kubernetes/statefulset.js';
import { createUpgrade } from '../../src/runner/start.js';
import { Runner, type RunnerEvent } from '../../src/runner/runner.js';
import type { UpgradeStatus } from '../../src/core/types.js';
import { isPodReady, type FakeApiServer, type FakeApiServerOptions } from '../kube/fake-apiserver.js';
import type { KubeObject } from '../kube/types.js';
import { waitFor, withFakeApiServer } from '../kube/helpers.js';
import { engineRegistry } from '../../src/engines/registry.js';

export const NS = 'default';

/**
 * Real time, but requeues shortened to at most 20 ms: the runner's 500 ms polls would only make
 * the suites slower, while timeouts (measured with `now`) keep their meaning.
 */
export const fastClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => systemClock.sleep(Math.min(ms, 20), signal),
};

/**
 * The fake server's clock: real time, with timers that never fire before `now()` has moved on by
 * their delay. Node may run a timer up to a millisecond before `Date.now()` says it is due, and the
 * fake kubelet schedules exactly one readiness re-check, so an early timer would leave a pod
 * unready for good.
 */
const serverClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => systemClock.sleep(ms + 2, signal),
};

/** A StatefulSet manifest. */
export function statefulSet(
  name: string,
  replicas: number,
  opts: { onDelete?: boolean; image?: string; partition?: number; labels?: Record<string, string> } = {},
): V1StatefulSet {
  return {
    metadata: { name, namespace: NS, labels: opts.labels },
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

/** Start a server with the CRD installed. */
export async function startCluster(t: Pick<TestContext, 'after'>, opts: FakeApiServerOptions = {}) {
  const server = await withFakeApiServer(t, {
    readinessDelayMs: 15,
    podTerminationMs: 5,
    clock: serverClock,
    ...opts,
  });
  const kc = server.kubeConfig();
  await kc
    .makeApiClient(ApiextensionsV1Api)
    .createCustomResourceDefinition({ body: upgradeCrd() as unknown as V1CustomResourceDefinition });
  return { server, kc, apps: kc.makeApiClient(AppsV1Api), core: kc.makeApiClient(CoreV1Api) };
}

/** Create a StatefulSet and wait until every replica is Ready. */
export async function createSettled(server: FakeApiServer, sts: V1StatefulSet): Promise<void> {
  const kc = server.kubeConfig();
  const apps = kc.makeApiClient(AppsV1Api);
  await apps.createNamespacedStatefulSet({ namespace: NS, body: sts });
  const want = sts.spec!.replicas!;
  await waitFor(
    `statefulset ${sts.metadata!.name} to settle`,
    async () => {
      const s = await apps.readNamespacedStatefulSet({ namespace: NS, name: sts.metadata!.name! });
      return s.status?.readyReplicas === want && s.status.observedGeneration === s.metadata?.generation;
    },
    60_000,
    20,
  );
}

/** Pod readiness over time, from a real watch: the most pods of a StatefulSet ever unready at once. */
export async function watchUnready(
  t: Pick<TestContext, 'after'>,
  server: FakeApiServer,
  sts: string,
  replicas: number,
): Promise<{ maxUnready: () => number; deletions: () => string[] }> {
  const state = new Map<string, boolean>();
  const deleted: string[] = [];
  let max = 0;
  const ctl = await new Watch(server.kubeConfig()).watch(
    `/api/v1/namespaces/${NS}/pods`,
    { resourceVersion: server.resourceVersion() },
    (type, pod: V1Pod) => {
      const name = pod.metadata!.name!;
      if (!name.startsWith(`${sts}-`)) return;
      if (type === 'DELETED') state.set(name, false);
      else state.set(name, isPodReady(pod as unknown as KubeObject));
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

/** An Upgrade resource. */
export function upgradeResource(
  name: string,
  spec: Partial<UpgradeResourceSpec> & { version: string },
): UpgradeResource {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace: NS },
    spec: { engine: 'generic', target: { statefulSet: 'db' }, ...spec } as UpgradeResourceSpec,
  };
}

/** Journal, platform, engine and a runner for an Upgrade resource created on the server. */
export async function wire(server: FakeApiServer, resource: UpgradeResource, opts: { clock?: Clock } = {}) {
  const kc = server.kubeConfig();
  const clock = opts.clock ?? fastClock;
  const journal = new UpgradeResourceJournal({ kc, namespace: NS, clock });
  const created = await journal.createResource(resource);
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
export async function eventsOf(server: FakeApiServer, kind: string, name: string): Promise<CoreV1Event[]> {
  const core = server.kubeConfig().makeApiClient(CoreV1Api);
  const list = await core.listNamespacedEvent({ namespace: NS });
  return list.items.filter((e) => e.involvedObject.kind === kind && e.involvedObject.name === name);
}
