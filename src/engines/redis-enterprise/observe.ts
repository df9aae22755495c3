/**
 * One look at a Redis Enterprise cluster through its REST API (`/v1/nodes`, `/v1/nodes/status`,
 * `/v1/shards`, `/v1/bdbs`), and the states the engine derives from it for each kind of member:
 * the operator (no REST state: its Deployment's availability), a cluster pod (the REC node with
 * the same hostname, or address), a database (the bdb with the same name as the REDB).
 */
import type { EngineMemberState, PlatformMember } from '../../core/types.js';
import type { RecBdb, RecNode, RecNodeStatus, RecShard, RedisEnterpriseApi } from './client.js';

/** What one look learned. */
export interface RecView {
  nodes: RecNode[];
  status: Record<string, RecNodeStatus>;
  shards: RecShard[];
  bdbs: RecBdb[];
}

export async function lookAt(api: RedisEnterpriseApi): Promise<RecView> {
  const [nodes, status, shards, bdbs] = await Promise.all([
    api.nodes(),
    api.nodesStatus(),
    api.shards(),
    api.bdbs(),
  ]);
  return { nodes, status, shards, bdbs };
}

function hostOf(endpoint: string | undefined): string | undefined {
  if (!endpoint) return undefined;
  return endpoint.replace(/^\w+:\/\//, '').replace(/:\d+$/, '');
}

/** The REC node a cluster pod runs: same hostname as the pod, else the pod's address. */
export function nodeOf(member: PlatformMember, view: RecView): RecNode | undefined {
  const byHost = Object.entries(view.status).find(([, s]) => s.hostname === member.name)?.[0];
  if (byHost) return view.nodes.find((n) => String(n.uid) === byHost);
  const host = hostOf(member.endpoint);
  return view.nodes.find((n) => n.addr === host);
}

/** A shard is in service: its node active, the shard `ok`, a replica's sync `idle`. */
export function shardInService(s: RecShard): boolean {
  return (
    s.status === 'active' && (s.detailed_status ?? 'ok') === 'ok' && (s.sync?.status ?? 'idle') === 'idle'
  );
}

/** Whether the REC node's software is the release the platform says the pod runs. */
export function sameSoftware(platformVersion: string, software: string): boolean {
  return (
    platformVersion.replace(/^v/, '') === software ||
    software.startsWith(`${platformVersion.replace(/^v/, '')}-`)
  );
}

/** The state of a cluster pod from its REC node. */
export function recNodeState(member: PlatformMember, node: RecNode, view: RecView): EngineMemberState {
  const st = view.status[String(node.uid)];
  const primaries = view.shards.filter((s) => s.node_uid === String(node.uid) && s.role === 'master');
  const mine = view.shards.filter((s) => s.node_uid === String(node.uid));
  const behind = mine.filter((s) => !shardInService(s));
  const clusterMaster = st?.role === 'master';
  const active = node.status === 'active' && (st?.node_status ?? 'active') === 'active';
  const versionOk = sameSoftware(member.version, node.software_version);
  const healthy = active && versionOk;
  const problems = [
    ...(active ? [] : [`node ${node.status}`]),
    ...(versionOk ? [] : [`runs ${node.software_version}, not ${member.version}`]),
    ...(behind.length > 0 ? [`${behind.length} shard(s) not in sync`] : []),
    ...(st?.maintenance_snapshot ? ['in maintenance mode'] : []),
  ];
  return {
    role: clusterMaster ? 'primary' : 'replica',
    healthy,
    // Out of maintenance mode too: a pod is done only once its node took its shards back.
    caughtUp: healthy && behind.length === 0 && !st?.maintenance_snapshot,
    lag: behind.length,
    // The cluster's master role counts as one more thing to hand over before the pod goes.
    leaderCount: primaries.length + (clusterMaster ? 1 : 0),
    detail:
      `node ${node.uid} ${node.software_version}${clusterMaster ? ', cluster master' : ''}, ${primaries.length} primary and ${mine.length - primaries.length} replica shard(s)` +
      (problems.length > 0 ? `; ${problems.join(', ')}` : ''),
  };
}

/** The state of a database member from its bdb. */
export function bdbState(member: PlatformMember, bdb: RecBdb, view: RecView): EngineMemberState {
  const shards = view.shards.filter((s) => s.bdb_uid === bdb.uid);
  const behind = shards.filter((s) => !shardInService(s));
  const versionOk =
    bdb.redis_version === member.version || bdb.redis_version.startsWith(`${member.version}.`);
  const healthy = bdb.status === 'active' && versionOk;
  return {
    role: 'none',
    healthy,
    caughtUp: healthy && behind.length === 0,
    lag: behind.length,
    leaderCount: 0,
    detail:
      `bdb ${bdb.uid} ${bdb.status}, Redis ${bdb.redis_version}, ${shards.length} shard(s)` +
      (behind.length > 0 ? `, ${behind.length} not in sync` : '') +
      (versionOk ? '' : `; runs Redis ${bdb.redis_version}, not ${member.version}`),
  };
}
