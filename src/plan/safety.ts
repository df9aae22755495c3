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
 * Check `unavailability-budget`: members already unavailable (not running or not ready) plus the
 * `candidates` not already among them must not exceed `maxUnavailable`. Never takes a member down
 * beyond the budget; replacing members that are already down is allowed even when the component is
 * over budget (it adds no unavailability), stopping nothing while over budget is not.
 */
export function budgetVerdict(
  componentMembers: MemberView[],
  candidates: string[],
  maxUnavailable: number,
): Verdict {
  const check = 'unavailability-budget';
  const down = new Set(componentMembers.filter((m) => !m.running || !m.ready).map((m) => m.name));
  const added = [...new Set(candidates)].filter((name) => !down.has(name));
  const total = down.size + added.length;
  const component = componentOf(componentMembers);
  const of = `${total} of ${componentMembers.length} ${component} members unavailable`;
  const detail = `(down: ${list(down)}; stopping: ${list(added)})`;
  if (total <= maxUnavailable) {
    return { allow: true, check, reason: `${of} ${detail}, within budget ${maxUnavailable}` };
  }
  if (candidates.length > 0 && added.length === 0) {
    // Replacing members that are already down takes nothing more down; it may bring them back.
    return { allow: true, check, reason: `${of} ${detail}: only members already down are replaced` };
  }
  return { allow: false, check, reason: `${of} ${detail} would exceed maxUnavailable ${maxUnavailable}` };
}

/**
 * Check `quorum`: when `rule.quorum`, the members left running, ready and engine-healthy after
 * `stopping` stop must be a strict majority of all the component's members. Members the engine
 * could not reach do not count as healthy. Stopping only members that are already down is allowed
 * (it takes no vote away), and so is a single-member component (its restart is its downtime).
 */
export function quorumVerdict(
  componentMembers: MemberView[],
  stopping: string[],
  rule: ComponentRule,
): Verdict {
  const check = 'quorum';
  if (!rule.quorum) return { allow: true, check, reason: `${rule.name} has no quorum to keep` };
  const stop = new Set(stopping);
  const isUp = (m: MemberView) => m.running && m.ready && m.engine?.healthy === true;
  if (componentMembers.length === 1 && stop.size === 1) {
    return {
      allow: true,
      check,
      reason: `${rule.name} has a single member: it is unavailable while it restarts`,
    };
  }
  if (stop.size > 0 && componentMembers.every((m) => !stop.has(m.name) || !isUp(m))) {
    return {
      allow: true,
      check,
      reason: `stopping ${list(stop)} takes no healthy ${rule.name} member away (already down)`,
    };
  }
  const up = componentMembers.filter(
    (m) => !stop.has(m.name) && m.running && m.ready && m.engine?.healthy === true,
  );
  const total = componentMembers.length;
  const needed = Math.floor(total / 2) + 1;
  const what = `stopping ${list(stop)} leaves ${up.length} of ${total} ${rule.name} members ready and healthy`;
  if (up.length >= needed) return { allow: true, check, reason: `${what} (majority ${needed})` };
  return { allow: false, check, reason: `${what}; quorum needs ${needed}` };
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

/**
 * Check `last-in-sync-copy`: for `replication`, `sharded` and `multi-raft` components with more
 * than one member, at least one member outside `stopping` must stay running, ready,
 * engine-healthy and caught up, so stopping never takes the last in-sync copy of the data.
 */
export function inSyncCopyVerdict(
  componentMembers: MemberView[],
  stopping: string[],
  rule: ComponentRule,
): Verdict {
  const check = 'last-in-sync-copy';
  if (!COPY_TOPOLOGIES.has(rule.topology) || componentMembers.length <= 1) {
    return {
      allow: true,
      check,
      reason: `not applicable to ${rule.name} (${rule.topology}, ${componentMembers.length} members)`,
    };
  }
  const stop = new Set(stopping);
  const inSync = componentMembers.filter(
    (m) => !stop.has(m.name) && m.running && m.ready && m.engine?.healthy === true && m.engine.caughtUp,
  );
  if (inSync.length > 0) {
    return { allow: true, check, reason: `in-sync copies remain on ${list(inSync.map((m) => m.name))}` };
  }
  return {
    allow: false,
    check,
    reason: `stopping ${list(stop)} would leave no healthy caught-up ${rule.name} member outside it`,
  };
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
 * Check `hosted-quorum`: members of other databases hosted by the members in `stopping` (database
 * pods on nodes) stop with them. For every database touched, the members already down plus the
 * healthy ones `stopping` takes must not exceed what it tolerates, so two nodes hosting members of
 * one etcd never go in the same batch when that would break its quorum. A single member is always
 * allowed (its drain takes its database members down one at a time).
 */
export function hostedQuorumVerdict(members: MemberView[], stopping: string[]): Verdict {
  const check = 'hosted-quorum';
  const stop = new Set(stopping);
  const groups = new Map<string, { tolerates: number; down: number; taken: string[] }>();
  for (const m of members) {
    for (const h of m.engine?.hosts ?? []) {
      const g = groups.get(h.group) ?? { tolerates: h.tolerates, down: 0, taken: [] };
      g.tolerates = Math.min(g.tolerates, h.tolerates);
      g.down = Math.max(g.down, h.groupDown);
      if (stop.has(m.name) && h.healthy) g.taken.push(`${h.member} on ${m.name}`);
      groups.set(h.group, g);
    }
  }
  const touched = [...groups].filter(([, g]) => g.taken.length > 0);
  if (touched.length === 0) {
    return { allow: true, check, reason: `${list(stop)} host no healthy database member` };
  }
  if (stop.size === 1) {
    // One member alone is always allowed: its drain takes its database members down one at a time,
    // each only while its database tolerates it.
    return {
      allow: true,
      check,
      reason: `${list(stop)} alone: its database members (${touched.flatMap(([, g]) => g.taken).join(', ')}) are drained one at a time`,
    };
  }
  for (const [group, g] of touched) {
    if (g.down + g.taken.length > g.tolerates) {
      return {
        allow: false,
        check,
        reason: `stopping ${list(stop)} would take ${g.taken.join(', ')} of database ${group} down with ${g.down} already down; it tolerates ${g.tolerates}`,
      };
    }
  }
  return {
    allow: true,
    check,
    reason: touched
      .map(([group, g]) => `${group}: ${g.down + g.taken.length} down of ${g.tolerates} tolerated`)
      .join('; '),
  };
}

/** The first verdict that denies, or undefined when every one allows. */
export function firstDenial(verdicts: Verdict[]): Verdict | undefined {
  return verdicts.find((v) => !v.allow);
}
