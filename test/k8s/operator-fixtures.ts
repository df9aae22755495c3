/**
 * Fixtures shared by the operator tests and the Kubernetes benchmark: a fake API server with the
 * Upgrade CRD installed, StatefulSet bodies, Operator instances that are killed when the test ends,
 * Upgrade helpers and a pod watch that records how many pods were unready at once.
 */
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  Watch,
  type KubeConfig,
  type V1Pod,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { GROUP, PLURAL, VERSION, upgradeCrd, type UpgradeResource } from '../../src/api/upgrade.js';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import { Operator, type OperatorOptions } from '../../src/operator/operator.js';
import {
  startFakeApiServer,
  isPodReady,
  type FakeApiServer,
  type FakeApiServerOptions,
} from '../kube/fake-apiserver.js';
import { waitFor } from '../kube/helpers.js';
import type { KubeObject } from '../kube/types.js';

/** Namespace every fixture uses. */
export const NS = 'default';

/** Something that runs cleanups at the end (a test context, or a list for the benchmark). */
export interface Cleanup {
  after(fn: () => unknown): void;
}

/** Clients of a fake API server with the Upgrade CRD installed. */
export interface Env {
  server: FakeApiServer;
  kc: KubeConfig;
  apps: AppsV1Api;
  core: CoreV1Api;
  custom: CustomObjectsApi;
}

/** Start a fake API server (closed at the end) and install the Upgrade CRD. */
export async function setup(t: Cleanup, opts: FakeApiServerOptions = {}): Promise<Env> {
  const server = await startFakeApiServer({ readinessDelayMs: 20, podTerminationMs: 5, ...opts });
  t.after(() => server.close());
  const kc = server.kubeConfig();
  await kc.makeApiClient(ApiextensionsV1Api).createCustomResourceDefinition({ body: upgradeCrd() as never });
  return {
    server,
    kc,
    apps: kc.makeApiClient(AppsV1Api),
    core: kc.makeApiClient(CoreV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
  };
}

/** A StatefulSet body: Parallel pod management, container `db` running `image`. */
export function statefulSet(
  name: string,
  replicas: number,
  opts: { onDelete?: boolean; image?: string; labels?: Record<string, string>; partition?: number } = {},
): V1StatefulSet {
  return {
    metadata: { name, labels: opts.labels },
    spec: {
      replicas,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      podManagementPolicy: 'Parallel',
      updateStrategy: opts.onDelete
        ? { type: 'OnDelete' }
        : { type: 'RollingUpdate', rollingUpdate: { partition: opts.partition ?? 0 } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'db', image: opts.image ?? 'example/db:1.0.0' }] },
      },
    },
  };
}

/** Create a StatefulSet and wait until every replica is Ready at the update revision. */
export async function createSettled(env: Env, body: V1StatefulSet): Promise<void> {
  await env.apps.createNamespacedStatefulSet({ namespace: NS, body });
  const name = body.metadata!.name!;
  const want = body.spec!.replicas!;
  await waitFor(
    `statefulset ${name} ready`,
    async () => {
      const s = await env.apps.readNamespacedStatefulSet({ namespace: NS, name });
      return s.status?.readyReplicas === want && s.status.updatedReplicas === want;
    },
    30_000,
    10,
  );
}

/** An Operator on the fake server (killed, not released, when the test ends). */
export function makeOperator(t: Cleanup, env: Env, extra: Partial<OperatorOptions> = {}): Operator {
  const op = new Operator({
    kc: env.server.kubeConfig(),
    namespace: NS,
    identity: 'op-a',
    clock: systemClock,
    logger: nullLogger,
    registry: new Registry(),
    leaseDurationMs: 1500,
    retryPeriodMs: 100,
    ...extra,
  });
  t.after(() => op.kill());
  return op;
}

/** Read an Upgrade. */
export async function getUpgrade(env: Env, name: string): Promise<UpgradeResource> {
  return (await env.custom.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: NS,
    plural: PLURAL,
    name,
  })) as UpgradeResource;
}

/** Create an Upgrade with `spec`. */
export async function createUpgrade(env: Env, name: string, spec: Record<string, unknown>): Promise<void> {
  await env.custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: NS,
    plural: PLURAL,
    body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'Upgrade', metadata: { name }, spec },
  });
}

/** Wait until the Upgrade satisfies `check` (default bound 30 s). */
export async function waitUpgrade(
  env: Env,
  name: string,
  what: string,
  check: (u: UpgradeResource) => boolean,
  timeoutMs = 30_000,
): Promise<UpgradeResource> {
  return waitFor(
    `upgrade ${name}: ${what}`,
    async () => {
      const u = await getUpgrade(env, name).catch(() => undefined);
      return u && check(u) ? u : undefined;
    },
    timeoutMs,
    10,
  );
}

/** Wait for one of the phases. */
export function waitPhase(env: Env, name: string, phases: string[]): Promise<UpgradeResource> {
  return waitUpgrade(env, name, `phase ${phases.join('/')}`, (u) => phases.includes(u.status?.phase ?? ''));
}

/** Watches the pods of `app` and records the most pods unready (or missing) at any one time. */
export async function unreadyTracker(t: Cleanup, env: Env, app: string, replicas: number) {
  const pods = new Map<string, boolean>();
  let worst = 0;
  const list = await env.core.listNamespacedPod({ namespace: NS, labelSelector: `app=${app}` });
  for (const p of list.items)
    pods.set(p.metadata!.name!, isPodReady(p as unknown as KubeObject) && !p.metadata?.deletionTimestamp);
  const ctl = await new Watch(env.kc).watch(
    `/api/v1/namespaces/${NS}/pods`,
    { resourceVersion: list.metadata!.resourceVersion!, labelSelector: `app=${app}` },
    (type: string, p: V1Pod) => {
      const name = p.metadata!.name!;
      if (type === 'DELETED') pods.set(name, false);
      else pods.set(name, isPodReady(p as unknown as KubeObject) && !p.metadata?.deletionTimestamp);
      const ready = [...pods.values()].filter(Boolean).length;
      worst = Math.max(worst, replicas - ready);
    },
    () => {},
  );
  t.after(() => ctl.abort());
  return { maxUnready: () => worst };
}

/** Image of container `db` of every pod of `app`, by pod name. */
export async function podImages(env: Env, app: string): Promise<Record<string, string>> {
  const list = await env.core.listNamespacedPod({ namespace: NS, labelSelector: `app=${app}` });
  return Object.fromEntries(list.items.map((p) => [p.metadata!.name!, p.spec!.containers[0]!.image!]));
}

/** The value of a metric line in Prometheus text (0 when absent). */
export async function metricValue(registry: Registry, line: string): Promise<number> {
  const text = await registry.metrics();
  const row = text.split('\n').find((l) => l.startsWith(line + ' '));
  return row ? Number(row.slice(line.length + 1)) : 0;
}
