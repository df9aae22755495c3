/**
 * Fixtures shared by the operator tests and the Kubernetes benchmark: a test namespace and fake
 * nodes on the real control plane with deploy/ applied (`kubectl apply -k deploy/`: the CRD, the
 * operator's ServiceAccount and RBAC), StatefulSet bodies, Operator instances that run with that
 * ServiceAccount's token -- never as admin -- and are killed when the test ends, Upgrade helpers
 * and a pod watch that records how many pods were unready at once.
 */
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  Watch,
  type KubeConfig,
  type V1Pod,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { GROUP, PLURAL, VERSION, type UpgradeResource } from '../../src/api/upgrade.js';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import { Operator, type OperatorOptions } from '../../src/operator/operator.js';
import { applyDeploy, OPERATOR_NAMESPACE, serviceAccountToken } from '../kube/deploy.js';
import { isPodReady } from '../kube/fake-kubelet.js';
import { waitFor } from '../kube/helpers.js';
import { createTestCluster, type TestCluster, type TestClusterOptions } from '../kube/test-cluster.js';

/** Something that runs cleanups at the end (a test context, or a list for the benchmark). */
export interface Cleanup {
  after(fn: () => unknown): void;
}

/** A test's cluster with deploy/ applied, admin clients, and the operator's own KubeConfig. */
export interface Env {
  server: TestCluster;
  /** The test's namespace (what the operator watches). */
  ns: string;
  /** Admin, through the fault proxy. */
  kc: KubeConfig;
  apps: AppsV1Api;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  /** The operator's ServiceAccount token (deploy/rbac.yaml decides what it may do), through the proxy. */
  operatorKc: KubeConfig;
  /** Where this test's operators keep their leader-election Lease. */
  lease: { name: string; namespace: string };
}

/**
 * A test namespace with fake nodes (closed at the end), deploy/ applied, and a token of the
 * operator's ServiceAccount.
 */
export async function setup(t: Cleanup, opts: TestClusterOptions = {}): Promise<Env> {
  const server = await createTestCluster({ readinessDelayMs: 20, podTerminationMs: 5, ...opts });
  t.after(() => server.close());
  await applyDeploy(server.controlPlane);
  const kc = server.kubeConfig();
  const operatorKc = server.kubeConfig({ token: await serviceAccountToken(server.rest) });
  return {
    server,
    ns: server.namespace,
    kc,
    apps: kc.makeApiClient(AppsV1Api),
    core: kc.makeApiClient(CoreV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    operatorKc,
    // Tests run in parallel: each test's operators elect their leader with a Lease of their own.
    lease: { name: `baton-operator-${server.namespace}`, namespace: OPERATOR_NAMESPACE },
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
  const NS = env.ns;
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

/**
 * An Operator watching the test's namespace with the operator ServiceAccount's token (killed, not
 * released, when the test ends).
 */
export function makeOperator(t: Cleanup, env: Env, extra: Partial<OperatorOptions> = {}): Operator {
  const op = new Operator({
    kc: env.operatorKc,
    namespace: env.ns,
    leaseName: env.lease.name,
    leaseNamespace: env.lease.namespace,
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
    namespace: env.ns,
    plural: PLURAL,
    name,
  })) as UpgradeResource;
}

/** Create an Upgrade with `spec`. */
export async function createUpgrade(env: Env, name: string, spec: Record<string, unknown>): Promise<void> {
  await env.custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: env.ns,
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
  let last: UpgradeResource | undefined;
  try {
    return await waitFor(
      `upgrade ${name}: ${what}`,
      async () => {
        const u = await getUpgrade(env, name).catch(() => undefined);
        last = u ?? last;
        return u && check(u) ? u : undefined;
      },
      timeoutMs,
      10,
    );
  } catch (err) {
    // Say where it stood: a stuck upgrade's status names what it waits for.
    const s = last?.status;
    throw new Error(
      `${(err as Error).message}; last seen: ${s?.phase ?? 'no status'} (${s?.reason ?? ''}) step ${s?.currentStep ?? '-'}\n${await env.server.describe()}`,
      { cause: err },
    );
  }
}

/** Wait for one of the phases. */
export function waitPhase(env: Env, name: string, phases: string[]): Promise<UpgradeResource> {
  return waitUpgrade(env, name, `phase ${phases.join('/')}`, (u) => phases.includes(u.status?.phase ?? ''));
}

/** Watches the pods of `app` and records the most pods unready (or missing) at any one time. */
export async function unreadyTracker(t: Cleanup, env: Env, app: string, replicas: number) {
  const pods = new Map<string, boolean>();
  let worst = 0;
  const list = await env.core.listNamespacedPod({ namespace: env.ns, labelSelector: `app=${app}` });
  for (const p of list.items) pods.set(p.metadata!.name!, isPodReady(p) && !p.metadata?.deletionTimestamp);
  const ctl = await new Watch(env.server.kubeConfig({ direct: true })).watch(
    `/api/v1/namespaces/${env.ns}/pods`,
    { resourceVersion: list.metadata!.resourceVersion!, labelSelector: `app=${app}` },
    (type: string, p: V1Pod) => {
      const name = p.metadata!.name!;
      if (type === 'DELETED') pods.set(name, false);
      else pods.set(name, isPodReady(p) && !p.metadata?.deletionTimestamp);
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
  const list = await env.core.listNamespacedPod({ namespace: env.ns, labelSelector: `app=${app}` });
  return Object.fromEntries(list.items.map((p) => [p.metadata!.name!, p.spec!.containers[0]!.image!]));
}

/** The value of a metric line in Prometheus text (0 when absent). */
export async function metricValue(registry: Registry, line: string): Promise<number> {
  const text = await registry.metrics();
  const row = text.split('\n').find((l) => l.startsWith(line + ' '));
  return row ? Number(row.slice(line.length + 1)) : 0;
}
