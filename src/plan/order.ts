/**
 * The safety order of members, written down in one place: unready members first (they serve
 * nothing, so replacing them costs nothing and may fix them), then followers/replicas from the most
 * lagging to the most caught up, the leader/primary last. Components whose leadership is spread
 * over many members (`multi-raft`, `sharded`) go by how much each member leads, fewest first.
 *
 * Also the choice of where leadership goes before a member stops. Pure: no I/O, no clock.
 */
import { isLeaderRole } from '../core/types.js';
import type { MemberView } from '../core/types.js';
import type { Topology } from '../core/rules.js';
import { atVersion } from '../core/version.js';

/** A member in its safe position, with why it is there (shown verbatim in plans). */
export interface OrderedMember {
  member: MemberView;
  reason: string;
}

/**
 * Why a member counts as unavailable before anything moves, or undefined when it is fine: not
 * running, not Ready, or reported unhealthy by its engine. A member the engine could not reach is
 * not unready by this test (it counts as a follower with lag 0).
 */
export function unreadyReason(member: MemberView): string | undefined {
  if (!member.running) return 'not running';
  if (!member.ready) return 'not Ready';
  if (member.engine && !member.engine.healthy) return 'unhealthy';
  return undefined;
}

/** Leaderships a member holds: its `leaderCount`, or 1 for a leader/primary that reports none. */
export function leadershipsHeld(member: MemberView): number {
  const count = member.engine?.leaderCount;
  if (count !== undefined && count > 0) return count;
  return isLeaderRole(member.engine?.role) ? 1 : 0;
}

/** True when the member holds leadership or primaries that must move before it stops. */
export function holdsLeadership(member: MemberView): boolean {
  return leadershipsHeld(member) > 0;
}

function lagOf(member: MemberView): number {
  return member.engine?.lag ?? 0;
}

/** Highest ordinal first (as a StatefulSet rolls), then name, so the order is total. */
function byOrdinalDesc(a: MemberView, b: MemberView): number {
  return b.ordinal - a.ordinal || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

function withDetail(text: string, member: MemberView): string {
  const detail = member.detail ?? member.engine?.detail;
  return detail ? `${text} (${detail})` : text;
}

function followerReason(member: MemberView): string {
  if (!member.engine) return 'no engine state: counted as a follower with lag 0';
  const role = member.engine.role === 'none' ? 'member' : member.engine.role;
  return `${role}, lag ${member.engine.lag}`;
}

function leadershipReason(held: number): string {
  if (held === 0) return 'holds no leaderships';
  return `holds ${held} leadership${held === 1 ? '' : 's'} (fewest first)`;
}

/**
 * Members of one component in the order they may be replaced, each with its reason.
 *
 * - Unready members first (not running, not Ready, or engine-unhealthy), highest ordinal first.
 * - `multi-raft`/`sharded`: the rest by leaderships held ascending, then lag descending, then
 *   highest ordinal first.
 * - Any other topology: non-leaders by lag descending (highest ordinal first on ties), then the
 *   leader/primary last (several leaders, e.g. during a split, among themselves by the same rule).
 *
 * When any member carries a platform `rollRank`, members go in ascending rank instead.
 *
 * Members without engine state count as followers with lag 0. The result is a permutation of
 * the input and depends only on member data, not on input order.
 */
export function orderMembers(members: MemberView[], topology: Topology): OrderedMember[] {
  // A platform that can only replace in a fixed order (StatefulSet partition stepping) wins;
  // leadership is still handed over before each member stops.
  if (members.some((m) => m.rollRank !== undefined)) {
    return [...members]
      .sort((a, b) => (a.rollRank ?? Infinity) - (b.rollRank ?? Infinity) || byOrdinalDesc(a, b))
      .map((member) => ({
        member,
        reason: `platform order (rank ${member.rollRank ?? 'none'}): partition steps highest ordinal first`,
      }));
  }
  const unready: OrderedMember[] = [];
  const rest: MemberView[] = [];
  for (const member of members) {
    const why = unreadyReason(member);
    if (why) unready.push({ member, reason: withDetail(`unready first: ${why}`, member) });
    else rest.push(member);
  }
  unready.sort((a, b) => byOrdinalDesc(a.member, b.member));

  if (topology === 'multi-raft' || topology === 'sharded') {
    const ordered = sortedBy(rest, leadershipsHeld);
    return [
      ...unready,
      ...ordered.map((member) => ({ member, reason: leadershipReason(leadershipsHeld(member)) })),
    ];
  }

  const followers = sortedBy(
    rest.filter((m) => !isLeaderRole(m.engine?.role)),
    () => 0,
  );
  const leaders = sortedBy(
    rest.filter((m) => isLeaderRole(m.engine?.role)),
    () => 0,
  );
  return [
    ...unready,
    ...followers.map((member) => ({ member, reason: followerReason(member) })),
    ...leaders.map((member) => ({ member, reason: `${member.engine?.role ?? 'leader'} last` })),
  ];
}

/**
 * `members` by `first` ascending, then lag descending, then highest ordinal first (then name). The
 * keys are read once per member, not once per comparison: a pool may hold 65,000 nodes.
 */
function sortedBy(members: MemberView[], first: (m: MemberView) => number): MemberView[] {
  const n = members.length;
  const firsts = new Float64Array(n);
  const lags = new Float64Array(n);
  const ordinals = new Float64Array(n);
  const index = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const m = members[i]!;
    firsts[i] = first(m);
    lags[i] = lagOf(m);
    ordinals[i] = m.ordinal;
    index[i] = i;
  }
  index.sort(
    (a, b) =>
      firsts[a]! - firsts[b]! ||
      lags[b]! - lags[a]! ||
      ordinals[b]! - ordinals[a]! ||
      byOrdinalDesc(members[a]!, members[b]!),
  );
  return index.map((i) => members[i]!);
}

/** Why a candidate cannot take leadership, or undefined when it can. */
function disqualification(candidate: MemberView, excluded: ReadonlySet<string>): string | undefined {
  if (excluded.has(candidate.name)) return 'in the same batch';
  if (!candidate.running) return 'not running';
  if (!candidate.ready) return 'not ready';
  const engine = candidate.engine;
  if (!engine) return 'not reachable by the engine';
  if (!engine.healthy) return 'unhealthy';
  if (engine.role === 'learner') return 'a learner';
  if (!engine.caughtUp) return `lag ${engine.lag}`;
  return undefined;
}

/**
 * The member of the same component to hand `member`'s leadership to: running, ready,
 * engine-healthy, caught up, not a learner, not `member`, not in `exclude` (members of the
 * current batch). Members already at `targetVersion` are preferred, then the lowest lag, then the
 * lowest ordinal. The reason names the target and its lag ("transferring to etcd-0 (lag 0)"), or
 * lists why each candidate was refused when there is none.
 */
export function pickLeadershipTarget(
  member: MemberView,
  members: MemberView[],
  opts: { exclude?: Iterable<string>; targetVersion?: string },
): { target?: MemberView; reason: string } {
  const excluded = new Set(opts.exclude ?? []);
  const others = members
    .filter((m) => m.component === member.component && m.name !== member.name)
    .sort((a, b) => a.ordinal - b.ordinal || (a.name < b.name ? -1 : 1));
  if (others.length === 0) {
    return { reason: `no other member of ${member.component} to take leadership of ${member.name}` };
  }
  const refused: string[] = [];
  const eligible: MemberView[] = [];
  for (const candidate of others) {
    const why = disqualification(candidate, excluded);
    if (why) refused.push(`${candidate.name} ${why}`);
    else eligible.push(candidate);
  }
  if (eligible.length === 0) {
    return {
      reason: `no healthy caught-up member to take leadership of ${member.name}: ${refused.join(', ')}`,
    };
  }
  const target = opts.targetVersion;
  const atTarget = (m: MemberView) => (target !== undefined && atVersion(m.version, target) ? 0 : 1);
  eligible.sort((a, b) => atTarget(a) - atTarget(b) || lagOf(a) - lagOf(b) || a.ordinal - b.ordinal);
  const chosen = eligible[0] as MemberView;
  const already = target !== undefined && atTarget(chosen) === 0 ? `, already at ${target}` : '';
  return { target: chosen, reason: `transferring to ${chosen.name} (lag ${lagOf(chosen)}${already})` };
}
