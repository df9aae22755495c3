/**
 * Node upgrades on the real control plane: a test's fake nodes as a control plane and a worker
 * pool (selected by the test's node-group label, so other tests' nodes are never members), workloads
 * on them, an Upgrade resource with a nodes target, and the runner wired as the CLI wires it
 * (`wiring/nodes.ts`).
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  PolicyV1Api,
  type V1Deployment,
  type V1Node,
} from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import { Operator } from '../../src/operator/operator.js';
import { applyDeploy, OPERATOR_NAMESPACE, serviceAccountToken } from '../kube/deploy.js';
import type { UpgradeStatus } from '../../src/core/types.js';
import type { NodesTarget } from '../../src/api/nodes.js';
import {
  API_VERSION,
  GROUP,
  KIND,
  PLURAL,
  VERSION,
  type UpgradeResource,
  type UpgradeResourceSpec,
} from '../../src/api/upgrade.js';
import { UpgradeResourceJournal } from '../../src/platforms/kubernetes/journal.js';
import { KubeEventRecorder } from '../../src/platforms/kubernetes/events.js';
import { createUpgrade } from '../../src/runner/start.js';
import { Runner, type RunnerEvent } from '../../src/runner/runner.js';
import { nodesTarget } from '../../src/wiring/nodes.js';
import type { DatabaseDrains } from '../../src/engines/kubernetes/engine.js';
import { ensureUpgradeCrd } from '../kube/crds.js';
import { waitFor } from '../kube/helpers.js';
import { NODE_GROUP_KEY, startCluster, type TestCluster } from '../kube/test-cluster.js';
import { fastClock } from '../k8s/platform-fixture.js';
import { startNodeSide, type NodeSideOptions } from './fake-nodes.js';

export const CP_LABEL = 'node-role.kubernetes.io/control-plane';

/** A cluster of `cp` control-plane and `workers` worker nodes at `from`, and the node side. */
export async function nodeCluster(
  t: Pick<TestContext, 'after'>,
  o: { cp: number; workers: number; from: string; side?: Partial<NodeSideOptions> },
) {
  const nodes = [
    ...Array.from({ length: o.cp }, (_, i) => ({
      name: `cp-${i + 1}`,
      labels: { [CP_LABEL]: '' },
      kubeletVersion: o.from,
    })),
    ...Array.from({ length: o.workers }, (_, i) => ({
      name: `w-${String(i + 1).padStart(2, '0')}`,
      labels: { pool: 'workers' },
      kubeletVersion: o.from,
    })),
  ];
  const c = await startCluster(t, { nodes, readinessDelayMs: 40, podTerminationMs: 10 });
  await ensureUpgradeCrd(c.rest);
  const side = startNodeSide(c, { jobNamespace: c.namespace, ...o.side });
  t.after(() => side.stop());
  const kc = c.kubeConfig();
  return {
    c,
    side,
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    batch: kc.makeApiClient(BatchV1Api),
    policy: kc.makeApiClient(PolicyV1Api),
    node: (n: string) => `${c.namespace}-${n}`,
    /** Run `fn` when the test ends (engines' informers are closed this way). */
    cleanup: (fn: () => unknown) => t.after(fn),
  };
}

export type NodeCluster = Awaited<ReturnType<typeof nodeCluster>>;

/** The nodes target of a test: its own nodes only, the upgrade Jobs in its namespace. */
export function testTarget(c: TestCluster, extra: Partial<NodesTarget> = {}): NodesTarget {
  const group = `${NODE_GROUP_KEY}=${c.namespace}`;
  return {
    controlPlane: { selector: `${group},${CP_LABEL}` },
    pools: [{ name: 'workers', selector: `${group},pool=workers` }],
    actuator: {
      type: 'job',
      job: { image: 'registry.local:5000/kubeadm-upgrade:1', namespace: c.namespace },
    },
    ...extra,
  };
}

/** {@link testTarget} as `baton` node flags (engine, target version, selectors, the Job actuator). */
export function testTargetFlags(c: TestCluster, to: string): string[] {
  const group = `${NODE_GROUP_KEY}=${c.namespace}`;
  return [
    '--engine',
    'kubernetes-nodes',
    '--to',
    to,
    '--control-plane-selector',
    `${group},${CP_LABEL}`,
    '--pool',
    `workers=${group},pool=workers`,
    '--job-image',
    'registry.local:5000/kubeadm-upgrade:1',
    '--job-namespace',
    c.namespace,
  ];
}

/** A Deployment of `replicas` pods spread by the scheduler over the test's schedulable nodes. */
export function deployment(name: string, replicas: number): V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'registry.local:5000/web:1' }] },
      },
    },
  };
}

/** Wait until Deployment `name` has all its replicas available. */
export async function waitAvailable(n: NodeCluster, name: string): Promise<void> {
  await waitFor(
    `deployment ${name} available`,
    async () => {
      const d = await n.apps.readNamespacedDeployment({ name, namespace: n.c.namespace });
      return (d.status?.availableReplicas ?? 0) >= (d.spec?.replicas ?? 1);
    },
    60_000,
    20,
  );
}

/** Wait until PodDisruptionBudget `name` has been computed by the disruption controller. */
export async function waitBudget(n: NodeCluster, name: string, allowed: number): Promise<void> {
  await waitFor(
    `PodDisruptionBudget ${name} allows ${allowed}`,
    async () => {
      const b = await n.policy.readNamespacedPodDisruptionBudget({ name, namespace: n.c.namespace });
      return (
        b.status?.observedGeneration === b.metadata?.generation && b.status?.disruptionsAllowed === allowed
      );
    },
    60_000,
    20,
  );
}

/**
 * Create the Upgrade, plan it, and give a runner for it (wired as the CLI wires a nodes target;
 * `databases`: the databases' drains instead of the engines on pods).
 */
export async function wireNodes(
  n: NodeCluster,
  name: string,
  spec: Partial<UpgradeResourceSpec> & { version: string; target: { nodes: NodesTarget } },
  databases?: DatabaseDrains,
) {
  const { kc, c } = n;
  const journal = new UpgradeResourceJournal({ kc, namespace: c.namespace, clock: fastClock });
  const resource: UpgradeResource = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace: c.namespace },
    spec: { engine: 'kubernetes-nodes', ...spec } as UpgradeResourceSpec,
  };
  const created = await journal.createResource(resource);
  const { platform, engine } = nodesTarget({
    kc,
    upgrade: created,
    journal,
    clock: fastClock,
    logger: nullLogger,
    ...(databases ? { databases } : {}),
  });
  n.cleanup(() => engine.close());
  const rec = (await journal.get(name))!;
  await createUpgrade(platform, engine, rec.spec, { clock: fastClock, logger: nullLogger });
  const recorder = new KubeEventRecorder({ kc, clock: fastClock, logger: nullLogger });
  const events: RunnerEvent[] = [];
  const statuses: UpgradeStatus[] = [];
  const runner = () =>
    new Runner({
      platform,
      engine,
      clock: fastClock,
      logger: nullLogger,
      name,
      onEvent: (e) => {
        events.push(e);
        void recorder.emit(e, { upgrade: created });
      },
      onStatus: (s) => statuses.push(structuredClone(s)),
    });
  return { journal, platform, engine, runner, events, statuses };
}

/**
 * Run a runner of `w` until the upgrade ends or pauses (`timeoutMs`, default 6 minutes); a timeout
 * names the last steps. The status, and its history's messages one per line.
 */
export async function runToRest(
  w: Awaited<ReturnType<typeof wireNodes>>,
  timeoutMs = 360_000,
): Promise<{ status: UpgradeStatus; history: string }> {
  const r = await w
    .runner()
    .run({ stopWhen: (x) => x.status.phase === 'Paused', signal: AbortSignal.timeout(timeoutMs) })
    .catch((err: unknown) => {
      const last = w.statuses.at(-1);
      throw new Error(`${String(err)}; last: ${JSON.stringify(last?.history.slice(-5))}`);
    });
  return { status: r.status, history: r.status.history.map((h) => h.message).join('\n') };
}

/**
 * The node upgrade `nodes` of every test node to `version`, in fixed batches of `size` (the ready
 * timeout `ready` when given), run to its end: it must be Completed with every node at `version`.
 */
export async function upgradeAllNodes(
  n: NodeCluster,
  o: { version: string; size: number; ready?: string },
): Promise<{ status: UpgradeStatus; history: string }> {
  const w = await wireNodes(n, 'nodes', {
    version: o.version,
    target: { nodes: testTarget(n.c) },
    strategy: {
      batch: { type: 'fixed', size: o.size },
      ...(o.ready ? { timeouts: { ready: o.ready } } : {}),
    },
  });
  const r = await runToRest(w);
  assert.equal(r.status.phase, 'Completed', `${r.status.pauseCause}\n${r.history}`);
  for (const [name, node] of await testNodes(n))
    assert.equal(node.status?.nodeInfo?.kubeletVersion, o.version, `${name} upgraded`);
  return r;
}

/** The test's Nodes by short name (`cp-1`, `w-01`, or a replacement's). */
export async function testNodes(n: NodeCluster): Promise<Map<string, V1Node>> {
  const all = await n.core.listNode({ labelSelector: `${NODE_GROUP_KEY}=${n.c.namespace}` });
  return new Map(all.items.map((x) => [x.metadata!.name!.slice(n.c.namespace.length + 1), x]));
}

/**
 * An operator watching the test's namespace with the token of the ServiceAccount deploy/ creates
 * (so with exactly the RBAC Baton ships, never as admin); killed, not stopped, when the test ends.
 * Not started: the caller starts it. `withoutPrune`: its Events are recorded but an expired
 * upgrade's never deleted, as by an operator killed between the Expired status write and the
 * deletion.
 */
export async function nodesOperator(
  t: Pick<TestContext, 'after'>,
  n: NodeCluster,
  identity = 'op-a',
  o: { withoutPrune?: boolean } = {},
): Promise<Operator> {
  await applyDeploy(n.c.controlPlane);
  const kc = n.c.kubeConfig({ token: await serviceAccountToken(n.c.rest) });
  const recorder = new KubeEventRecorder({ kc, clock: systemClock, logger: nullLogger, instance: identity });
  const op = new Operator({
    ...(o.withoutPrune ? { events: { emit: (e, involved) => recorder.emit(e, involved) } } : {}),
    kc,
    namespace: n.c.namespace,
    leaseName: `baton-operator-${n.c.namespace}`,
    leaseNamespace: OPERATOR_NAMESPACE,
    identity,
    clock: systemClock,
    logger: nullLogger,
    registry: new Registry(),
    leaseDurationMs: 1500,
    retryPeriodMs: 100,
    manageStatefulSets: false,
  });
  t.after(() => op.kill());
  return op;
}

/** Read Upgrade `name` of the test's namespace. */
export async function readUpgrade(n: NodeCluster, name: string): Promise<UpgradeResource> {
  return (await n.c.rest.get(
    `/apis/${GROUP}/${VERSION}/namespaces/${n.c.namespace}/${PLURAL}/${name}`,
  )) as UpgradeResource;
}

/** Wait until Upgrade `name` satisfies `check`, saying where it stood when it does not. */
export async function waitUpgradeWhere(
  n: NodeCluster,
  name: string,
  what: string,
  check: (u: UpgradeResource) => boolean,
  timeoutMs = 120_000,
): Promise<UpgradeResource> {
  let last: UpgradeResource | undefined;
  try {
    return await waitFor(
      `upgrade ${name}: ${what}`,
      async () => {
        last = (await readUpgrade(n, name).catch(() => undefined)) ?? last;
        return last && check(last) ? last : undefined;
      },
      timeoutMs,
      50,
    );
  } catch (err) {
    const s = last?.status;
    throw new Error(
      `${(err as Error).message}; last seen: ${s?.phase ?? 'no status'} (${s?.reason ?? ''}) ${JSON.stringify(s?.history?.slice(-4))}`,
      { cause: err },
    );
  }
}

/**
 * Watch the test's Nodes from now on; `cordons()` gives, per short node name, how many times the
 * node went from schedulable to cordoned (a node drained twice would show 2).
 */
export async function cordonCounter(t: Pick<TestContext, 'after'>, n: NodeCluster) {
  const state = new Map<string, boolean>();
  const counts = new Map<string, number>();
  const w = n.c.rest.listWatch<V1Node>(
    '/api/v1/nodes',
    { labelSelector: `${NODE_GROUP_KEY}=${n.c.namespace}` },
    (type, node) => {
      const name = node.metadata!.name!.slice(n.c.namespace.length + 1);
      const now = type !== 'DELETED' && node.spec?.unschedulable === true;
      if (now && state.get(name) === false) counts.set(name, (counts.get(name) ?? 0) + 1);
      state.set(name, now);
    },
  );
  t.after(() => w.stop());
  await w.synced;
  return { cordons: () => counts };
}

/**
 * Merge `change` into `spec.strategy` of Upgrade `name` (as `kubectl patch --type merge` would): a
 * new generation, which also resumes an automatic pause. (The journal's `updateSpec` changes only
 * the control fields: paused, cancel, force, ...)
 */
export async function patchStrategy(
  n: NodeCluster,
  name: string,
  change: Record<string, unknown>,
): Promise<void> {
  await n.c.rest.patch(`/apis/${GROUP}/${VERSION}/namespaces/${n.c.namespace}/${PLURAL}/${name}`, {
    spec: { strategy: change },
  });
}
