/**
 * What a Redis Cluster looks like from its members: one observation per member (its own
 * `CLUSTER NODES`, `CLUSTER INFO`, `INFO replication`), read by {@link readTopology}, and pure
 * functions that turn it into member states, cluster health, precheck results and the choice of a
 * failover target. Only `readTopology` does I/O; everything else is table-tested.
 */
import { describeError } from '../../core/errors.js';
import type { ClusterHealth, EngineMemberState, PlatformMember, PrecheckResult } from '../../core/types.js';
import type { RedisClientPool } from './client.js';
import {
  CLUSTER_SLOTS,
  formatSlots,
  isFailing,
  isSlotOwner,
  parseReplicaLinks,
  slotCount,
  type ClusterNodeEntry,
  type SlotRange,
} from './parse.js';

/** The member facts topology code needs (a subset of PlatformMember). */
export type MemberRef = Pick<PlatformMember, 'name' | 'endpoint'> &
  Partial<Pick<PlatformMember, 'ready' | 'running'>>;

/** What one member's Redis node reported, or why it could not be read. */
export interface NodeObservation {
  member: string;
  endpoint?: string;
  /** The node answered all three commands. */
  reachable: boolean;
  error?: string;
  /** The node's own entry (flag `myself`) of its `CLUSTER NODES`. */
  myself?: ClusterNodeEntry;
  /** The node's whole `CLUSTER NODES` view. */
  nodes: ClusterNodeEntry[];
  clusterInfo: Record<string, string>;
  replication: Record<string, string>;
}

/** One observation of every member, in the order the members were given. */
export interface ClusterTopology {
  nodes: NodeObservation[];
}

/** Thresholds for deciding whether a replica is caught up. */
export interface SyncPolicy {
  /** Most replication-offset bytes a replica may trail its primary and still count as caught up. */
  maxLagBytes: number;
}

/** Default: 1 MiB, a few milliseconds of replication on loopback. */
export const DEFAULT_SYNC_POLICY: SyncPolicy = { maxLagBytes: 1024 * 1024 };

/** Read every member's node concurrently. Never throws: a failing member is `reachable: false`. */
export async function readTopology(
  members: readonly MemberRef[],
  pool: RedisClientPool,
): Promise<ClusterTopology> {
  const nodes = await Promise.all(
    members.map(async (m): Promise<NodeObservation> => {
      const base = { member: m.name, endpoint: m.endpoint, nodes: [], clusterInfo: {}, replication: {} };
      if (m.endpoint === undefined) return { ...base, reachable: false, error: 'no endpoint' };
      try {
        const client = pool.node(m.endpoint);
        const [nodes, clusterInfo, replication] = await Promise.all([
          client.clusterNodes(),
          client.clusterInfo(),
          client.replicationInfo(),
        ]);
        const myself = nodes.find((n) => n.flags.includes('myself'));
        return { ...base, reachable: true, myself, nodes, clusterInfo, replication };
      } catch (err) {
        return { ...base, reachable: false, error: describeError(err) };
      }
    }),
  );
  return { nodes };
}

/** Reachable observations that carry a `myself` entry. */
function answered(topo: ClusterTopology): (NodeObservation & { myself: ClusterNodeEntry })[] {
  return topo.nodes.filter(
    (n): n is NodeObservation & { myself: ClusterNodeEntry } => n.reachable && !!n.myself,
  );
}

function currentEpoch(n: NodeObservation): number {
  return Number(n.clusterInfo.cluster_current_epoch ?? 0) || 0;
}

/**
 * The view to trust for cluster-wide facts: that of a reachable node reporting `cluster_state:ok`
 * if there is one, and among those the highest current epoch (a node restarted from an old
 * `nodes.conf` has a stale, lower epoch until it converges; a partitioned node reports `fail`).
 * Ties go to the first member in order. Undefined when no node answered.
 */
export function authoritativeView(topo: ClusterTopology): NodeObservation | undefined {
  const rank = (n: NodeObservation): [number, number] => [
    n.clusterInfo.cluster_state === 'ok' ? 1 : 0,
    currentEpoch(n),
  ];
  let best: NodeObservation | undefined;
  for (const n of answered(topo)) {
    if (best === undefined) {
      best = n;
      continue;
    }
    const [a, b] = [rank(n), rank(best)];
    if (a[0] > b[0] || (a[0] === b[0] && a[1] > b[1])) best = n;
  }
  return best;
}

/**
 * Member name of each node id: from each member's own `myself` entry, and for members that did not
 * answer, by matching their endpoint to a node address in the authoritative view.
 */
export function memberByNodeId(topo: ClusterTopology): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of answered(topo)) out.set(n.myself.id, n.member);
  const view = authoritativeView(topo);
  for (const n of topo.nodes) {
    if (n.myself || n.endpoint === undefined || !view) continue;
    const entry = view.nodes.find((e) => e.address === n.endpoint);
    if (entry && !out.has(entry.id)) out.set(entry.id, n.member);
  }
  return out;
}

/** The node id of a member, from its own answer or its address in the authoritative view. */
export function nodeIdOf(topo: ClusterTopology, member: string): string | undefined {
  for (const [id, name] of memberByNodeId(topo)) if (name === member) return id;
  return undefined;
}

function offsetOf(n: NodeObservation): number | undefined {
  const raw =
    n.replication.role === 'slave' ? n.replication.slave_repl_offset : n.replication.master_repl_offset;
  const v = Number(raw);
  return raw === undefined || !Number.isFinite(v) ? undefined : v;
}

/** Replication facts of a replica node, relative to the primary it follows. */
interface ReplicaSync {
  primaryMember?: string;
  linkUp: boolean;
  syncing: boolean;
  /** Bytes behind the primary; undefined when the primary's offset is unknown. */
  lag?: number;
}

function replicaSync(topo: ClusterTopology, n: NodeObservation & { myself: ClusterNodeEntry }): ReplicaSync {
  const ids = memberByNodeId(topo);
  const primaryMember = n.myself.masterId ? ids.get(n.myself.masterId) : undefined;
  const primary = topo.nodes.find((p) => p.member === primaryMember && p.reachable);
  const own = offsetOf(n);
  const theirs = primary && primary.replication.role === 'master' ? offsetOf(primary) : undefined;
  return {
    primaryMember,
    linkUp: n.replication.master_link_status === 'up',
    syncing: n.replication.master_sync_in_progress === '1',
    lag: own !== undefined && theirs !== undefined ? Math.max(0, theirs - own) : undefined,
  };
}

/** Ids the authoritative view flags `fail` or `fail?`. */
function failingIds(topo: ClusterTopology): Set<string> {
  const view = authoritativeView(topo);
  return new Set((view?.nodes ?? []).filter(isFailing).map((e) => e.id));
}

function sameRole(a: ClusterNodeEntry, b: ClusterNodeEntry): boolean {
  return (
    a.flags.includes('slave') === b.flags.includes('slave') &&
    a.masterId === b.masterId &&
    isSlotOwner(a) === isSlotOwner(b)
  );
}

/**
 * Members whose view of the node `own` (its own `myself` entry) does not yet match it: they do not
 * know the node, or see it in another role or following another primary. Gossip settles this
 * within about a second of a role change; a primary that does not yet know a replica is its own
 * ignores that replica's `CLUSTER FAILOVER`, so drain and verify wait for an empty list.
 */
export function viewsBehind(topo: ClusterTopology, own: ClusterNodeEntry): string[] {
  return answered(topo)
    .filter((n) => n.myself.id !== own.id)
    .filter((n) => {
      const seen = n.nodes.find((e) => e.id === own.id);
      return seen === undefined || !sameRole(seen, own);
    })
    .map((n) => n.member);
}

/**
 * Engine state of every member that answered. Role: `primary` for a master serving slots,
 * `replica` for a replica, `none` for a master without slots. A member whose own view of its role
 * disagrees with the authoritative view (a restarted former primary that has not yet learnt it
 * was failed over) is reported unhealthy and not caught up until the views agree; a member
 * other nodes do not yet see in its current role ({@link viewsBehind}) is not caught up.
 */
export function memberStates(
  topo: ClusterTopology,
  policy: SyncPolicy = DEFAULT_SYNC_POLICY,
): Record<string, EngineMemberState> {
  const out: Record<string, EngineMemberState> = {};
  const view = authoritativeView(topo);
  const failing = failingIds(topo);
  for (const n of answered(topo)) {
    const me = n.myself;
    const stateOk = n.clusterInfo.cluster_state === 'ok';
    const seen = view?.nodes.find((e) => e.id === me.id);
    const agrees =
      seen === undefined ||
      (isSlotOwner(seen) === isSlotOwner(me) && seen.flags.includes('slave') === me.flags.includes('slave'));
    const notes: string[] = [];
    if (!stateOk) notes.push(`cluster_state:${n.clusterInfo.cluster_state ?? 'unknown'}`);
    if (failing.has(me.id)) notes.push('flagged failing by the cluster');
    if (!agrees) notes.push(`own view disagrees with ${view?.member} (still converging)`);
    const behind = agrees ? viewsBehind(topo, me) : [];
    if (behind.length > 0) notes.push(`not yet seen in this role by ${behind.join(', ')}`);
    const sane = stateOk && !failing.has(me.id) && agrees;
    const converged = sane && behind.length === 0;
    if (me.flags.includes('slave')) {
      const sync = replicaSync(topo, n);
      const lag = sync.lag ?? Number.MAX_SAFE_INTEGER;
      const caughtUp = converged && sync.linkUp && !sync.syncing && lag <= policy.maxLagBytes;
      const of = sync.primaryMember ?? (me.masterId ? `node ${me.masterId.slice(0, 8)}` : 'unknown primary');
      const lagText =
        sync.lag === undefined ? 'lag unknown (primary offset not read)' : `lag ${sync.lag} bytes`;
      out[n.member] = {
        role: 'replica',
        healthy: sane && sync.linkUp,
        caughtUp,
        lag,
        leaderCount: 0,
        detail: [
          `replica of ${of}, link ${n.replication.master_link_status ?? 'unknown'}${sync.syncing ? ' (full sync)' : ''}, offset ${offsetOf(n) ?? '?'}, ${lagText}`,
          ...notes,
        ].join('; '),
      };
    } else if (isSlotOwner(me)) {
      const online = parseReplicaLinks(n.replication).filter((r) => r.state === 'online').length;
      out[n.member] = {
        role: 'primary',
        healthy: sane,
        caughtUp: converged,
        lag: 0,
        leaderCount: 1,
        detail: [
          `primary of slots ${formatSlots(me.slots)} (${slotCount(me.slots)}), ${online} replica(s) online, offset ${offsetOf(n) ?? '?'}`,
          ...notes,
        ].join('; '),
      };
    } else {
      out[n.member] = {
        role: 'none',
        healthy: sane,
        caughtUp: converged,
        lag: 0,
        leaderCount: 0,
        detail: ['master without slots', ...notes].join('; '),
      };
    }
  }
  return out;
}

/** Slot ranges not served by a non-failing primary in `entries`. */
export function uncoveredSlots(entries: readonly ClusterNodeEntry[]): SlotRange[] {
  const served = new Uint8Array(CLUSTER_SLOTS);
  for (const e of entries) {
    if (!isSlotOwner(e) || isFailing(e)) continue;
    for (const r of e.slots) served.fill(1, r.start, r.end + 1);
  }
  const out: SlotRange[] = [];
  for (let s = 0; s < CLUSTER_SLOTS; s++) {
    if (served[s]) continue;
    const start = s;
    while (s + 1 < CLUSTER_SLOTS && !served[s + 1]) s++;
    out.push({ start, end: s });
  }
  return out;
}

/**
 * Cluster health: every node that answered reports `cluster_state:ok`, and the authoritative view
 * has all 16384 slots served by non-failing primaries. Members that did not answer are named in
 * the detail but do not by themselves make the cluster unhealthy (it still serves every slot).
 */
export function clusterHealth(topo: ClusterTopology): ClusterHealth {
  const up = answered(topo);
  const down = topo.nodes.filter((n) => !n.reachable || !n.myself).map((n) => n.member);
  const view = authoritativeView(topo);
  if (!view)
    return {
      healthy: false,
      detail: 'no redis node answered',
      facts: { reachable: 0, unreachable: down.length },
    };
  const notOk = up.filter((n) => n.clusterInfo.cluster_state !== 'ok');
  const missing = uncoveredSlots(view.nodes);
  const served = CLUSTER_SLOTS - slotCount(missing);
  const primaries = view.nodes.filter((e) => isSlotOwner(e) && !isFailing(e)).length;
  const replicas = view.nodes.filter((e) => e.flags.includes('slave') && !isFailing(e)).length;
  const healthy = notOk.length === 0 && missing.length === 0;
  const parts: string[] = [];
  if (notOk.length === 0) parts.push(`cluster_state:ok on ${up.length}/${up.length} answering nodes`);
  else
    parts.push(
      `cluster_state not ok on ${notOk.map((n) => `${n.member} (${n.clusterInfo.cluster_state ?? 'unknown'})`).join(', ')}`,
    );
  parts.push(`${served}/${CLUSTER_SLOTS} slots served by ${primaries} primaries with ${replicas} replicas`);
  if (missing.length > 0)
    parts.push(`unserved slots ${formatSlots(missing.slice(0, 4))}${missing.length > 4 ? ' ...' : ''}`);
  if (down.length > 0) parts.push(`not answering: ${down.join(', ')}`);
  return {
    healthy,
    detail: parts.join('; '),
    facts: {
      reachable: up.length,
      unreachable: down.length,
      primaries,
      replicas,
      slotsServed: served,
      knownNodes: view.nodes.length,
      currentEpoch: currentEpoch(view),
    },
  };
}

/** Healthy replicas of the primary with node id `primaryId` on members other than `primaryMember`. */
function linkedReplicas(
  topo: ClusterTopology,
  primaryId: string,
  primaryMember: string | undefined,
): (NodeObservation & { myself: ClusterNodeEntry })[] {
  const failing = failingIds(topo);
  return answered(topo).filter(
    (n) =>
      n.myself.flags.includes('slave') &&
      n.myself.masterId === primaryId &&
      n.member !== primaryMember &&
      !failing.has(n.myself.id) &&
      n.replication.master_link_status === 'up',
  );
}

/**
 * Evaluate the precheck names of `redisRules` against a topology and the platform's members.
 * Every result carries a one-line reason, passing or not.
 */
export function evaluatePrechecks(
  topo: ClusterTopology,
  members: readonly MemberRef[],
  policy: SyncPolicy = DEFAULT_SYNC_POLICY,
): PrecheckResult[] {
  const up = answered(topo);
  const view = authoritativeView(topo);
  const ids = memberByNodeId(topo);
  const states = memberStates(topo, policy);
  const results: PrecheckResult[] = [];

  const notOk = up.filter((n) => n.clusterInfo.cluster_state !== 'ok');
  results.push(
    up.length === 0
      ? { name: 'cluster-state-ok', ok: false, reason: 'no redis node answered CLUSTER INFO' }
      : notOk.length > 0
        ? {
            name: 'cluster-state-ok',
            ok: false,
            reason: `cluster_state is not ok on ${notOk.map((n) => `${n.member} (${n.clusterInfo.cluster_state ?? 'unknown'})`).join(', ')}`,
          }
        : {
            name: 'cluster-state-ok',
            ok: true,
            reason: `cluster_state:ok on all ${up.length} answering nodes`,
          },
  );

  if (!view) {
    results.push({ name: 'all-slots-covered', ok: false, reason: 'no redis node answered CLUSTER NODES' });
  } else {
    const missing = uncoveredSlots(view.nodes);
    results.push(
      missing.length === 0
        ? {
            name: 'all-slots-covered',
            ok: true,
            reason: `all ${CLUSTER_SLOTS} slots are served by healthy primaries`,
          }
        : {
            name: 'all-slots-covered',
            ok: false,
            reason: `${slotCount(missing)} of ${CLUSTER_SLOTS} slots have no healthy primary (${formatSlots(missing.slice(0, 4))}${missing.length > 4 ? ' ...' : ''}) as ${view.member} sees it`,
          },
    );
  }

  const orphans: string[] = [];
  const owners = (view?.nodes ?? []).filter(isSlotOwner);
  for (const p of owners) {
    const pm = ids.get(p.id);
    if (linkedReplicas(topo, p.id, pm).length === 0) {
      orphans.push(`${pm ?? `node ${p.id.slice(0, 8)} (${p.address})`} (slots ${formatSlots(p.slots)})`);
    }
  }
  results.push(
    !view
      ? { name: 'every-primary-has-replica', ok: false, reason: 'no redis node answered CLUSTER NODES' }
      : orphans.length > 0
        ? {
            name: 'every-primary-has-replica',
            ok: false,
            reason: `no linked replica on another member for primary ${orphans.join(', ')}: its slots would be unavailable while it restarts`,
          }
        : {
            name: 'every-primary-has-replica',
            ok: true,
            reason: `each of the ${owners.length} primaries has a linked replica on another member`,
          },
  );

  const lagging = Object.entries(states)
    .filter(([, s]) => s.role === 'replica' && !s.caughtUp)
    .map(([name, s]) => `${name} (${s.detail ?? 'not caught up'})`);
  const replicaCount = Object.values(states).filter((s) => s.role === 'replica').length;
  results.push(
    lagging.length > 0
      ? { name: 'replicas-in-sync', ok: false, reason: `replicas not in sync: ${lagging.join('; ')}` }
      : {
          name: 'replicas-in-sync',
          ok: true,
          reason: `all ${replicaCount} answering replicas have their link up and lag at most ${policy.maxLagBytes} bytes`,
        },
  );

  const problems: string[] = [];
  const failing = failingIds(topo);
  for (const m of members) {
    const obs = topo.nodes.find((n) => n.member === m.name);
    if (m.running === false) problems.push(`${m.name} is not running`);
    else if (m.ready === false) problems.push(`${m.name} is not ready`);
    else if (!obs?.reachable) problems.push(`${m.name} does not answer (${obs?.error ?? 'not observed'})`);
    else if (obs.myself && failing.has(obs.myself.id))
      problems.push(`${m.name} is flagged failing by the cluster`);
  }
  for (const e of view?.nodes ?? []) {
    if (!ids.has(e.id))
      problems.push(`node ${e.id.slice(0, 8)} at ${e.address} is in the cluster but is no member`);
  }
  results.push(
    problems.length > 0
      ? { name: 'all-members-up', ok: false, reason: problems.join('; ') }
      : { name: 'all-members-up', ok: true, reason: `all ${members.length} members are running and answer` },
  );
  return results;
}

/** The outcome of choosing where a member's primary should fail over to. */
export type FailoverChoice =
  | { kind: 'not-primary'; reason: string }
  | { kind: 'unreachable'; reason: string }
  | { kind: 'no-replica'; reason: string; slots: SlotRange[] }
  | {
      kind: 'failover';
      primaryId: string;
      slots: SlotRange[];
      replica: string;
      replicaEndpoint: string;
      /** Why this replica: the planner's target, or the most caught-up. */
      why: string;
      reason: string;
    };

/**
 * Where the primary on `member` should go: to `preferred` when it is a linked replica of it on
 * another member, otherwise to the linked replica with the highest replication offset (ties by
 * member name). Pure.
 */
export function chooseFailover(topo: ClusterTopology, member: string, preferred?: string): FailoverChoice {
  const obs = topo.nodes.find((n) => n.member === member);
  const view = authoritativeView(topo);
  if (!obs?.reachable || !obs.myself) {
    const id = nodeIdOf(topo, member);
    const entry = view?.nodes.find((e) => e.id === id);
    if (entry && isSlotOwner(entry)) {
      return {
        kind: 'unreachable',
        reason: `${member} does not answer (${obs?.error ?? 'not observed'}) and still serves slots ${formatSlots(entry.slots)}; a coordinated failover needs it up, so its replica takes over by automatic failover after cluster-node-timeout`,
      };
    }
    return { kind: 'not-primary', reason: `${member} does not answer and serves no slots; nothing to move` };
  }
  if (!isSlotOwner(obs.myself)) {
    return {
      kind: 'not-primary',
      reason: `${member} serves no slots (${obs.myself.flags.includes('slave') ? 'replica' : 'empty master'}); nothing to move`,
    };
  }
  const slots = obs.myself.slots;
  const candidates = linkedReplicas(topo, obs.myself.id, member).sort((a, b) => {
    if (a.member === preferred) return -1;
    if (b.member === preferred) return 1;
    return (offsetOf(b) ?? -1) - (offsetOf(a) ?? -1) || a.member.localeCompare(b.member);
  });
  const best = candidates[0];
  if (!best || best.endpoint === undefined) {
    return {
      kind: 'no-replica',
      slots,
      reason: `${member} serves slots ${formatSlots(slots)} but none of its replicas on other members answers with its link up`,
    };
  }
  const why =
    best.member === preferred
      ? "the planner's target"
      : `most caught-up of ${candidates.length} linked replica(s), offset ${offsetOf(best) ?? '?'}`;
  return {
    kind: 'failover',
    primaryId: obs.myself.id,
    slots,
    replica: best.member,
    replicaEndpoint: best.endpoint,
    why,
    reason: `fail over slots ${formatSlots(slots)} from ${member} to ${best.member} (${why})`,
  };
}
