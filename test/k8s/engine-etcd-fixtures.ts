/**
 * Fixtures of the etcd-on-pods tests: a fake API server with the Upgrade CRD whose StatefulSet
 * pods run real etcd processes, and readers of what happened (history lines, stop order).
 */
import type { UpgradeResource } from '../../src/api/upgrade.js';
import { startEtcdPods } from '../kube/etcd-pods.js';
import type { ProcessPods } from '../kube/process-pods.js';
import { createSettled, setup, statefulSet, type Cleanup, type Env } from './operator-fixtures.js';

/** Image tag the pods start at; the tests upgrade to 3.4.23 (any tag runs the installed etcd). */
export const FROM_TAG = '3.4.22';

/**
 * A fake API server (Upgrade CRD installed) and a settled 3-pod StatefulSet `name` whose pods run
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
