/**
 * etcd behind StatefulSet pods on the test control plane: one `/usr/bin/etcd` per pod through
 * {@link ProcessPods} and etcd's local adapter (member name = pod name, client and peer ports on
 * 127.0.0.1, a data directory per ordinal that outlives its pods; the first start bootstraps the
 * cluster, later ones rejoin). A pod is Ready when its member's `/health` says `true` (a leader is
 * known and no alarm is raised); before a pod's process is stopped the runtime asks the member
 * whether it leads, so tests can check no leader was ever stopped.
 */
import { createEtcdLocalAdapter } from '../../src/wiring/local/etcd.js';
import type { LocalMemberLayout } from '../../src/platforms/local/adapter.js';
import type { TestCluster } from './test-cluster.js';
import { startProcessPods, type ProcessPods } from './process-pods.js';

/** Options of {@link startEtcdPods}. */
export interface EtcdPodsOptions {
  statefulSet: string;
  replicas: number;
  namespace?: string;
}

function clientUrl(member: LocalMemberLayout): string {
  return `http://127.0.0.1:${member.ports.client}`;
}

/** The member's `/health` is `{"health":"true"}`. */
export async function etcdHealthy(member: LocalMemberLayout): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl(member)}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: string };
    return res.ok && body.health === 'true';
  } catch {
    return false;
  }
}

/** The member says it is the leader (its status' leader is its own ID); false when it does not answer. */
export async function etcdLeads(member: LocalMemberLayout): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl(member)}/v3/maintenance/status`, {
      method: 'POST',
      body: '{}',
      signal: AbortSignal.timeout(1000),
    });
    const s = (await res.json()) as { leader?: string; header?: { member_id?: string } };
    return !!s.leader && s.leader === s.header?.member_id;
  } catch {
    return false;
  }
}

/** etcd pods installed as the test cluster's kubelet runtime; processes and files go when `t` ends. */
export function startEtcdPods(
  t: { after(fn: () => unknown): void },
  server: TestCluster,
  opts: EtcdPodsOptions,
): Promise<ProcessPods> {
  return startProcessPods(t, server, {
    ...opts,
    adapter: createEtcdLocalAdapter(),
    ready: etcdHealthy,
    leads: etcdLeads,
  });
}
