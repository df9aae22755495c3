/**
 * Named safety predicates (as ECK names its upgrade predicates): each answers whether a step may
 * happen now and why, and the runner reports the first one that denies as the blocking check.
 * Pure functions of an observed snapshot.
 */
import type { MemberView } from '../core/types.js';
import type { ComponentRule } from '../core/rules.js';
import { holdsLeadership, pickLeadershipTarget } from './order.js';
import { atVersion } from '../core/version.js';

/** The answer of one named check: whether the step may go ahead, and why, in one line. */
export interface Verdict {
  allow: boolean;
  /** Stable name of the check, e.g. `quorum`; status shows it as the blocking check. */
  check: string;
  reason: string;
}

function componentOf(members: MemberView[]): string {
  return members[0]?.component ?? 'component';
}

function list(names: Iterable<string>): string {
  const all = [...names];
  return all.length === 0 ? 'none' : all.join(', ');
}

/**
 * A check kept as counts over a batch being built, so that trying one more member costs O(1) (the
 * hosted-quorum check: O(database members it hosts)) instead of a scan of every member: choosing a
 * batch of k among n members is O(n + k), not O(n * k). Each check's rule is written once, here; its
 * `...Verdict` function is the tally of a whole list of candidates.
 */
export interface StopTally {
  /** Counts `name` among the members stopping (nothing when it already is). */
  add(name: string): void;
  /** Counts `name` out again (nothing when it is not counted). */
  remove(name: string): void;
  /** Whether the check allows stopping every member counted. */
  allows(): boolean;
  /** The verdict with its reason, for the members counted (a scan: for the reason shown). */
  verdict(): Verdict;
}

function tallied(tally: StopTally, candidates: Iterable<string>): Verdict {
  for (const name of candidates) tally.add(name);
  return tally.verdict();
}

/** Count of members by name among `members` that satisfy `ok` (names may repeat across members). */
function countByName(members: MemberView[], ok: (m: MemberView) => boolean): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of members) if (ok(m)) counts.set(m.name, (counts.get(m.name) ?? 0) + 1);
  return counts;
}

/** Members counted by name and how many of them satisfy the predicate given to {@link countByName}. */
function stopCounter(counts: Map<string, number>) {
  const stop = new Set<string>();
  let hit = 0;
  return {
    stop,
    hit: () => hit,
    add(name: string): void {
      if (stop.has(name)) return;
      stop.add(name);
      hit += counts.get(name) ?? 0;
    },
    remove(name: string): void {
      if (stop.delete(name)) hit -= counts.get(name) ?? 0;
    },
  };
}

/**
 * Check `unavailability-budget` as a {@link StopTally}: members already unavailable (not running or
 * not ready) plus the members stopping that are not among them must not exceed `maxUnavailable`.
 * Stopping only members that are already down is allowed even over budget (it adds no
 * unavailability, and may bring them back); stopping nothing while over budget is not.
 */
export function budgetTally(componentMembers: MemberView[], maxUnavailable: number): StopTally {
  const check = 'unavailability-budget';
  const down = new Set(componentMembers.filter((m) => !m.running || !m.ready).map((m) => m.name));
  const stopping = new Set<string>();
  const added = new Set<string>();
  const allows = () => down.size + added.size <= maxUnavailable || (stopping.size > 0 && added.size === 0);
  return {
    add(name) {
      stopping.add(name);
      if (!down.has(name)) added.add(name);
    },
    remove(name) {
      stopping.delete(name);
      added.delete(name);
    },
    allows,
    verdict() {
      const total = down.size + added.size;
      const component = componentOf(componentMembers);
      const of = `${total} of ${componentMembers.length} ${component} members unavailable`;
      const detail = `(down: ${list(down)}; stopping: ${list(added)})`;
      if (total <= maxUnavailable) {
        return { allow: true, check, reason: `${of} ${detail}, within budget ${maxUnavailable}` };
      }
      if (allows()) {
        // Replacing members that are already down takes nothing more down; it may bring them back.
        return { allow: true, check, reason: `${of} ${detail}: only members already down are replaced` };
      }
      return { allow: false, check, reason: `${of} ${detail} would exceed maxUnavailable ${maxUnavailable}` };
    },
  };
}

/**
 * Check `unavailability-budget` for stopping `candidates` (see {@link budgetTally}). Never takes a
 * member down beyond the budget.
 */
export function budgetVerdict(
  componentMembers: MemberView[],
  candidates: string[],
  maxUnavailable: number,
): Verdict {
  return tallied(budgetTally(componentMembers, maxUnavailable), candidates);
}

const isUp = (m: MemberView) => m.running && m.ready && m.engine?.healthy === true;

/**
 * Check `quorum` as a {@link StopTally}: when `rule.quorum`, the members left running, ready and
 * engine-healthy once the members counted stop must be a strict majority of all the component's
 * members. Members the engine could not reach do not count as healthy. Stopping only members that
 * are already down is allowed (it takes no vote away), and so is a single-member component (its
 * restart is its downtime).
 */
export function quorumTally(componentMembers: MemberView[], rule: ComponentRule): StopTally {
  const check = 'quorum';
  const stopped = stopCounter(countByName(componentMembers, isUp));
  const upTotal = componentMembers.filter(isUp).length;
  const total = componentMembers.length;
  const needed = Math.floor(total / 2) + 1;
  const single = () => total === 1 && stopped.stop.size === 1;
  const onlyDown = () => stopped.stop.size > 0 && stopped.hit() === 0;
  return {
    add: stopped.add,
    remove: stopped.remove,
    allows: () => !rule.quorum || single() || onlyDown() || upTotal - stopped.hit() >= needed,
    verdict() {
      const stop = stopped.stop;
      if (!rule.quorum) return { allow: true, check, reason: `${rule.name} has no quorum to keep` };
      if (single()) {
        return {
          allow: true,
          check,
          reason: `${rule.name} has a single member: it is unavailable while it restarts`,
        };
      }
      if (onlyDown()) {
        return {
          allow: true,
          check,
          reason: `stopping ${list(stop)} takes no healthy ${rule.name} member away (already down)`,
        };
      }
      const up = upTotal - stopped.hit();
      const what = `stopping ${list(stop)} leaves ${up} of ${total} ${rule.name} members ready and healthy`;
      if (up >= needed) return { allow: true, check, reason: `${what} (majority ${needed})` };
      return { allow: false, check, reason: `${what}; quorum needs ${needed}` };
    },
  };
}

/** Check `quorum` for stopping `stopping` (see {@link quorumTally}). */
export function quorumVerdict(
  componentMembers: MemberView[],
  stopping: string[],
  rule: ComponentRule,
): Verdict {
  return tallied(quorumTally(componentMembers, rule), stopping);
}

/**
 * Check `leadership-target`: a member may stop when it holds nothing (not leader/primary and no
 * leaderCount), when it is the only member of its component, or when
 * {@link pickLeadershipTarget} finds a member to hand over to (returned as `target`). Denies with
 * the reason no member qualifies.
 */
export function leadershipVerdict(
  member: MemberView,
  componentMembers: MemberView[],
  opts: { exclude?: Iterable<string>; targetVersion?: string },
): Verdict & { target?: MemberView } {
  const check = 'leadership-target';
  const others = componentMembers.filter((m) => m.component === member.component && m.name !== member.name);
  if (others.length === 0) return { allow: true, check, reason: 'single member: nothing to hand over' };
  if (!holdsLeadership(member)) {
    return { allow: true, check, reason: `${member.name} holds no leadership: nothing to hand over` };
  }
  const pick = pickLeadershipTarget(member, componentMembers, opts);
  if (pick.target) return { allow: true, check, reason: pick.reason, target: pick.target };
  return { allow: false, check, reason: pick.reason };
}

const COPY_TOPOLOGIES = new Set(['replication', 'sharded', 'multi-raft']);

const isInSync = (m: MemberView) => isUp(m) && !!m.engine?.caughtUp;

/**
 * Check `last-in-sync-copy` as a {@link StopTally}: for `replication`, `sharded` and `multi-raft`
 * components with more than one member, at least one member not counted must stay running, ready,
 * engine-healthy and caught up, so stopping never takes the last in-sync copy of the data.
 */
export function inSyncCopyTally(componentMembers: MemberView[], rule: ComponentRule): StopTally {
  const check = 'last-in-sync-copy';
  const applies = COPY_TOPOLOGIES.has(rule.topology) && componentMembers.length > 1;
  const stopped = stopCounter(countByName(componentMembers, isInSync));
  const inSyncTotal = componentMembers.filter(isInSync).length;
  const allows = () => !applies || inSyncTotal - stopped.hit() > 0;
  return {
    add: stopped.add,
    remove: stopped.remove,
    allows,
    verdict() {
      if (!applies) {
        return {
          allow: true,
          check,
          reason: `not applicable to ${rule.name} (${rule.topology}, ${componentMembers.length} members)`,
        };
      }
      if (allows()) {
        const left = componentMembers.filter((m) => !stopped.stop.has(m.name) && isInSync(m));
        return { allow: true, check, reason: `in-sync copies remain on ${list(left.map((m) => m.name))}` };
      }
      return {
        allow: false,
        check,
        reason: `stopping ${list(stopped.stop)} would leave no healthy caught-up ${rule.name} member outside it`,
      };
    },
  };
}

/** Check `last-in-sync-copy` for stopping `stopping` (see {@link inSyncCopyTally}). */
export function inSyncCopyVerdict(
  componentMembers: MemberView[],
  stopping: string[],
  rule: ComponentRule,
): Verdict {
  return tallied(inSyncCopyTally(componentMembers, rule), stopping);
}

/**
 * Check `prerequisites`: every member of every prerequisite component runs that component's
 * target in `targets` (by {@link atVersion}), is ready, and is engine-healthy (engine state present
 * and healthy). A prerequisite with no members is satisfied; one with members and no target is not.
 */
export function prerequisitesVerdict(
  component: string,
  prerequisites: string[],
  members: MemberView[],
  targets: Record<string, string>,
): Verdict {
  const check = 'prerequisites';
  if (prerequisites.length === 0) return { allow: true, check, reason: `${component} has no prerequisites` };
  const problems: string[] = [];
  for (const prerequisite of prerequisites) {
    const target = targets[prerequisite];
    const of = members.filter((m) => m.component === prerequisite);
    if (of.length > 0 && target === undefined) {
      problems.push(`${prerequisite} has no target version`);
      continue;
    }
    for (const m of [...of].sort((a, b) => a.ordinal - b.ordinal)) {
      if (target !== undefined && !atVersion(m.version, target))
        problems.push(`${m.name} at ${m.version} (target ${target})`);
      else if (!m.ready) problems.push(`${m.name} not ready`);
      else if (!m.engine) problems.push(`${m.name} not reachable by the engine`);
      else if (!m.engine.healthy) problems.push(`${m.name} unhealthy`);
    }
  }
  if (problems.length === 0) {
    return { allow: true, check, reason: `prerequisites ${prerequisites.join(', ')} upgraded and healthy` };
  }
  return {
    allow: false,
    check,
    reason: `${component} waits for ${prerequisites.join(', ')}: ${problems.join(', ')}`,
  };
}

/**
 * Check `hosted-quorum` as a {@link StopTally}: members of other databases hosted by the members
 * counted (database pods on nodes) stop with them. For every database touched, the members already
 * down plus the healthy ones the counted members take must not exceed what it tolerates, so two
 * nodes hosting members of one etcd never go in the same batch when that would break its quorum. A
 * single member is always allowed (its drain takes its database members down one at a time).
 */
export function hostedQuorumTally(members: MemberView[]): StopTally {
  const check = 'hosted-quorum';
  const groups = new Map<string, { tolerates: number; down: number; taken: number }>();
  /** Group of each healthy database member a member hosts, by the hosting member's name. */
  const hosted = new Map<string, string[]>();
  for (const m of members) {
    for (const h of m.engine?.hosts ?? []) {
      const g = groups.get(h.group) ?? { tolerates: h.tolerates, down: 0, taken: 0 };
      g.tolerates = Math.min(g.tolerates, h.tolerates);
      g.down = Math.max(g.down, h.groupDown);
      groups.set(h.group, g);
      if (!h.healthy) continue;
      const own = hosted.get(m.name);
      if (own) own.push(h.group);
      else hosted.set(m.name, [h.group]);
    }
  }
  const stop = new Set<string>();
  let touched = 0;
  let over = 0;
  const take = (name: string, by: 1 | -1) => {
    for (const group of hosted.get(name) ?? []) {
      const g = groups.get(group)!;
      const before = { touched: g.taken > 0, over: g.taken > 0 && g.down + g.taken > g.tolerates };
      g.taken += by;
      touched += Number(g.taken > 0) - Number(before.touched);
      over += Number(g.taken > 0 && g.down + g.taken > g.tolerates) - Number(before.over);
    }
  };
  return {
    add(name) {
      if (stop.has(name)) return;
      stop.add(name);
      take(name, 1);
    },
    remove(name) {
      if (stop.delete(name)) take(name, -1);
    },
    allows: () => touched === 0 || stop.size === 1 || over === 0,
    verdict() {
      // The database members taken, named, in the order of the members hosting them.
      const taken = new Map<string, string[]>();
      for (const m of members) {
        if (!stop.has(m.name)) continue;
        for (const h of m.engine?.hosts ?? []) {
          if (!h.healthy) continue;
          const named = `${h.member} on ${m.name}`;
          const names = taken.get(h.group);
          if (names) names.push(named);
          else taken.set(h.group, [named]);
        }
      }
      const hit = [...groups].filter(([group]) => taken.has(group));
      if (hit.length === 0) {
        return { allow: true, check, reason: `${list(stop)} host no healthy database member` };
      }
      if (stop.size === 1) {
        // One member alone is always allowed: its drain takes its database members down one at a
        // time, each only while its database tolerates it.
        return {
          allow: true,
          check,
          reason: `${list(stop)} alone: its database members (${hit.flatMap(([group]) => taken.get(group)!).join(', ')}) are drained one at a time`,
        };
      }
      for (const [group, g] of hit) {
        if (g.down + g.taken > g.tolerates) {
          return {
            allow: false,
            check,
            reason: `stopping ${list(stop)} would take ${taken.get(group)!.join(', ')} of database ${group} down with ${g.down} already down; it tolerates ${g.tolerates}`,
          };
        }
      }
      return {
        allow: true,
        check,
        reason: hit
          .map(([group, g]) => `${group}: ${g.down + g.taken} down of ${g.tolerates} tolerated`)
          .join('; '),
      };
    },
  };
}

/** Check `hosted-quorum` for stopping `stopping` (see {@link hostedQuorumTally}). */
export function hostedQuorumVerdict(members: MemberView[], stopping: string[]): Verdict {
  return tallied(hostedQuorumTally(members), stopping);
}

/** The first verdict that denies, or undefined when every one allows. */
export function firstDenial(verdicts: Verdict[]): Verdict | undefined {
  return verdicts.find((v) => !v.allow);
}
