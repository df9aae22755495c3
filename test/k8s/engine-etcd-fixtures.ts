/**
 * Fixtures of the etcd-on-pods tests: a test namespace with the Upgrade CRD whose StatefulSet
 * pods run real etcd processes, and readers of what happened (history lines, stop order).
 */
import type { UpgradeResource } from '../../src/api/upgrade.js';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import { Probe, createProbeClient, type ProbeReport } from '../../src/probe/index.js';
import { startEtcdPods } from '../kube/etcd-pods.js';
import { waitFor } from '../kube/helpers.js';
import type { ProcessPods } from '../kube/process-pods.js';
import {
  createSettled,
  createUpgrade,
  makeOperator,
  setup,
  statefulSet,
  waitUpgrade,
  type Cleanup,
  type Env,
} from './operator-fixtures.js';

/** Image tag the pods start at; the tests upgrade to 3.4.23 (any tag runs the installed etcd). */
export const FROM_TAG = '3.4.22';

/**
 * A test namespace (deploy/ applied) and a settled 3-pod StatefulSet `name` whose pods run
 * etcd from image `quay.io/coreos/etcd:3.4.22`; processes and directories go when `t` ends.
 */
export async function etcdPodsFixture(t: Cleanup, name: string): Promise<{ env: Env; pods: ProcessPods }> {
  const env = await setup(t);
  const pods = await startEtcdPods(t, env.server, { statefulSet: name, replicas: 3 });
  await createSettled(env, statefulSet(name, 3, { image: `quay.io/coreos/etcd:${FROM_TAG}` }));
  return { env, pods };
}

/** `[member] message` of every history entry of an Upgrade. */
export function historyOf(u: UpgradeResource): string[] {
  return (u.status?.history ?? []).map((h) => (h.member ? `[${h.member}] ${h.message}` : h.message));
}

/**
 * While a writer (the probe, through the engine's own client) writes to `pods`, the operator
 * upgrades StatefulSet `statefulSet` (engine `engine`, endpoints from `pods`) to `version` as
 * Upgrade `name`. Returns the Upgrade once it ends (Completed, Failed or Paused) and the
 * writer's report.
 */
export async function operatorUpgradeUnderWrites(
  t: Cleanup,
  env: Env,
  pods: ProcessPods,
  o: { engine: 'etcd' | 'redis'; statefulSet: string; name: string; version: string; timeoutMs: number },
): Promise<{ done: UpgradeResource; report: ProbeReport }> {
  const probe = new Probe({
    client: createProbeClient(o.engine, {
      endpoints: () => Promise.resolve(Object.values(pods.endpoints())),
      logger: nullLogger,
    }),
    clock: systemClock,
    logger: nullLogger,
  });
  await probe.start();
  t.after(() => probe.stop().catch(() => undefined));
  const op = makeOperator(t, env);
  await op.start();
  await waitFor('leadership', () => op.isLeader());
  await createUpgrade(env, o.name, {
    target: { statefulSet: o.statefulSet, endpoints: pods.endpoints() },
    engine: o.engine,
    version: o.version,
  });
  const done = await waitUpgrade(
    env,
    o.name,
    'ended',
    (u) => ['Completed', 'Failed', 'Paused'].includes(u.status?.phase ?? ''),
    o.timeoutMs,
  );
  return { done, report: await probe.stop() };
}
