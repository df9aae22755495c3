/**
 * One look at a CockroachDB cluster through its admin surfaces: each member's `/health?ready=1`,
 * `/_status/vars` and `/_status/details/local`, then, from the first node that answers, the node
 * list with liveness (`/api/v2/nodes/`) and the cluster version and
 * `cluster.preserve_downgrade_option` (SQL). Shared by the engine's observe, prechecks, hooks and
 * finalization; never throws for a member that does not answer.
 */
import { describeError } from '../../core/errors.js';
import type { PlatformMember } from '../../core/types.js';
import type {
  CockroachAddresses,
  CockroachAdminApi,
  CockroachNodeStatus,
  CockroachNodeVars,
  CockroachReadiness,
} from './client.js';
import { type ClusterVersion, parseClusterVersion } from './cluster-version.js';

/** A member that answered. */
export interface ReachedNode {
  member: PlatformMember;
  addresses: CockroachAddresses;
  nodeId: number;
  buildTag: string;
  readiness: CockroachReadiness;
  vars: CockroachNodeVars;
}

/** What one look learned. */
export interface CockroachView {
  reached: ReachedNode[];
  unreachable: { member: PlatformMember; reason: string }[];
  /** Every node the cluster lists; empty when no node answered the list. */
  nodes: CockroachNodeStatus[];
  /** Undefined when no node answered SQL. */
  clusterVersion?: ClusterVersion;
  preserveDowngrade?: string;
  /** Sums over the reached nodes' stores. */
  underReplicated: number;
  unavailable: number;
  /** Why the cluster-wide reads failed, when they did. */
  clusterError?: string;
}

/** Observe `members` (those running with an endpoint) through `client`. */
export async function lookAt(
  client: CockroachAdminApi,
  members: PlatformMember[],
  addressesOf: (endpoint: string) => CockroachAddresses,
): Promise<CockroachView> {
  const candidates = members.filter((m) => m.endpoint && m.running);
  const unreachable: CockroachView['unreachable'] = members
    .filter((m) => !candidates.includes(m))
    .map((member) => ({ member, reason: member.detail ?? (member.running ? 'no endpoint' : 'not running') }));
  const results = await Promise.all(
    candidates.map(async (member) => {
      const addresses = addressesOf(member.endpoint!);
      try {
        const [readiness, vars, details] = await Promise.all([
          client.readiness(addresses),
          client.vars(addresses),
          client.details(addresses),
        ]);
        return { member, addresses, readiness, vars, nodeId: details.nodeId, buildTag: details.buildTag };
      } catch (err) {
        return { member, error: describeError(err) };
      }
    }),
  );
  const reached: ReachedNode[] = [];
  for (const r of results) {
    if ('error' in r) unreachable.push({ member: r.member, reason: r.error ?? 'no answer' });
    else reached.push(r);
  }
  const view: CockroachView = {
    reached,
    unreachable,
    nodes: [],
    underReplicated: reached.reduce((s, r) => s + r.vars.underReplicated, 0),
    unavailable: reached.reduce((s, r) => s + r.vars.unavailable, 0),
  };
  // A draining node refuses SQL: ask ready nodes first.
  const order = [...reached].sort((a, b) => Number(b.readiness.ready) - Number(a.readiness.ready));
  const errors: string[] = [];
  for (const r of order) {
    try {
      const [nodes, version, preserve] = await Promise.all([
        client.nodes(r.addresses),
        client.clusterVersion(r.addresses),
        client.preserveDowngrade(r.addresses),
      ]);
      view.nodes = nodes;
      view.clusterVersion = parseClusterVersion(version);
      view.preserveDowngrade = preserve;
      return view;
    } catch (err) {
      errors.push(`${r.member.name}: ${describeError(err)}`);
    }
  }
  view.clusterError = errors.length > 0 ? errors.join('; ') : 'no node answered';
  return view;
}

/** The cluster's liveness of a reached node (`UNKNOWN` when the list did not name it). */
export function livenessOf(view: CockroachView, nodeId: number): string {
  return view.nodes.find((n) => n.nodeId === nodeId)?.liveness ?? 'UNKNOWN';
}
