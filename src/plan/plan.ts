/**
 * The plan preview: from a spec, an observed snapshot and the engine's rules, what Baton will do
 * and in which order (stages, components by prerequisites, members in safe order, batches),
 * through which versions, with which leadership moves, what blocks it already and how long it
 * should take. Pure: the same inputs always give the same plan.
 */
import { BadInputError } from '../core/errors.js';
import type { BatchPolicy, MemberView, Snapshot, StepKind, UpgradeSpec } from '../core/types.js';
import type { ComponentRule, EngineRules } from '../core/rules.js';
import { batchGate, planBatches, splitBatches, validateBatchPolicy } from './batches.js';
import type { PauseSchedule } from './batches.js';
import { estimateRemainingMs, stepEstimate } from './eta.js';
import {
  holdsLeadership,
  leadershipsHeld,
  orderMembers,
  pickLeadershipTarget,
  unreadyReason,
} from './order.js';
import { findVersionPath } from './path.js';
import { hostedQuorumTally } from './safety.js';
import { skewHops } from './skew.js';
import type { Plan, PlannedComponent, PlannedMember, PlannedStage, VersionHop } from '../core/types.js';
import { atVersion, compareVersions, parseVersion, withoutV } from '../core/version.js';

/** Everything a plan is computed from. */
export interface PlanInput {
  spec: UpgradeSpec;
  snapshot: Snapshot;
  rules: EngineRules;
  /** Observed step durations (newest last); the ETA uses their medians when present. */
  durations?: Partial<Record<StepKind, number[]>>;
  /** Accept a target older than the members (a rollback); the engine must allow it too. */
  allowDowngrade?: boolean;
}

/** A component of this cluster with everything the plan needs to place it. */
export interface ResolvedComponent {
  name: string;
  stage: string;
  /** Prerequisites that have members in this cluster. */
  prerequisites: string[];
  /** Target version. */
  version: string;
  /** The engine's rule, with `stage` and `prerequisites` as resolved here. */
  rule: ComponentRule;
}

/**
 * The rule for a component the engine does not define: a copy of the only rule when the engine has
 * one component (a renamed etcd is still etcd), otherwise a stateless component without quorum.
 */
function defaultRule(name: string, rules: EngineRules): ComponentRule {
  if (rules.defaultComponent) return { ...rules.defaultComponent, name };
  const only = rules.components.length === 1 ? rules.components[0] : undefined;
  if (only) return { ...only, name, stage: only.stage, prerequisites: [] };
  return { name, topology: 'stateless', stage: 'cluster', prerequisites: [], quorum: false };
}

/** The engine's rule for component `name`, or the default rule for a component it does not define. */
export function componentRule(rules: EngineRules, name: string): ComponentRule {
  return rules.components.find((c) => c.name === name) ?? defaultRule(name, rules);
}

/** The batch policy of a component: its rule's own (control-plane nodes: serial), else the spec's. */
export function componentBatchPolicy(rule: ComponentRule, spec: UpgradeSpec): BatchPolicy {
  return rule.batch ?? spec.strategy.batch;
}

/** A cycle among `remaining` (each of which waits on another of them), as "a -> b -> a". */
function describeCycle(remaining: Map<string, ResolvedComponent>): string {
  const first = remaining.keys().next().value as string;
  const seen: string[] = [];
  let at = first;
  while (!seen.includes(at)) {
    seen.push(at);
    const next = (remaining.get(at) as ResolvedComponent).prerequisites.find((p) => remaining.has(p));
    at = next as string;
  }
  return [...seen.slice(seen.indexOf(at)), at].join(' -> ');
}

/** Components by the platform's `componentRank` (lowest of their members; unranked last), then name. */
function byPlatformRank(snapshot: Snapshot): (a: string, b: string) => number {
  const rank = new Map<string, number>();
  for (const m of snapshot.members) {
    if (m.componentRank === undefined) continue;
    rank.set(m.component, Math.min(rank.get(m.component) ?? Infinity, m.componentRank));
  }
  return (a, b) => {
    const ra = rank.get(a) ?? Infinity;
    const rb = rank.get(b) ?? Infinity;
    if (ra !== rb) return ra < rb ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  };
}

/**
 * The components of this cluster in upgrade order: stages in order of first appearance in
 * `rules.components` (stages no rule names after them, in order of appearance), and within the
 * plan every component after its prerequisites; ties keep the engine's component order (components
 * the engine does not know after, in the platform's `componentRank` order, then by name). Only components with members in the snapshot appear.
 *
 * `spec.components` entries override stage, prerequisites and target version. Throws BadInputError
 * `unknown-component` for a spec component (or prerequisite) that is neither the engine's nor in the
 * snapshot, `duplicate-component` for a component listed twice, `prerequisite-cycle` when
 * prerequisites form a cycle, and `prerequisite-stage` when a component waits on one in a later stage.
 */
export function resolveComponents(
  spec: UpgradeSpec,
  snapshot: Snapshot,
  rules: EngineRules,
): ResolvedComponent[] {
  const present = new Set(snapshot.members.map((m) => m.component));
  const ruleByName = new Map(rules.components.map((r) => [r.name, r]));
  const known = (name: string) => ruleByName.has(name) || present.has(name);
  const knownList = () => [...new Set([...ruleByName.keys(), ...present])].join(', ');
  const overrides = new Map<string, NonNullable<UpgradeSpec['components']>[number]>();
  for (const c of spec.components ?? []) {
    if (!known(c.name)) {
      throw new BadInputError(
        'unknown-component',
        `component "${c.name}" is not a ${rules.title} component nor present in cluster "${spec.cluster}": use one of ${knownList()}`,
      );
    }
    if (overrides.has(c.name)) {
      throw new BadInputError(
        'duplicate-component',
        `component "${c.name}" is listed twice in the upgrade spec: merge the entries`,
      );
    }
    for (const p of c.prerequisites ?? []) {
      if (!known(p)) {
        throw new BadInputError(
          'unknown-component',
          `prerequisite "${p}" of component "${c.name}" is not a ${rules.title} component nor present in cluster "${spec.cluster}": use one of ${knownList()}`,
        );
      }
    }
    overrides.set(c.name, c);
  }

  // A component on its own release line is planned only when the spec gives its version.
  const keeps = (name: string) =>
    ruleByName.get(name)?.ownVersion !== undefined && overrides.get(name)?.version === undefined;
  const base = [
    ...rules.components.map((r) => r.name).filter((name) => present.has(name)),
    ...[...present].filter((name) => !ruleByName.has(name)).sort(byPlatformRank(snapshot)),
  ].filter((name) => !keeps(name));
  const resolved = base.map((name): ResolvedComponent => {
    const rule = ruleByName.get(name) ?? defaultRule(name, rules);
    const override = overrides.get(name);
    const stage = override?.stage ?? rule.stage;
    const prerequisites = [...new Set(override?.prerequisites ?? rule.prerequisites)].filter(
      (p) => present.has(p) && !keeps(p),
    );
    return {
      name,
      stage,
      prerequisites,
      version: override?.version ?? spec.version,
      rule: { ...rule, stage, prerequisites },
    };
  });

  const stages: string[] = [];
  for (const stage of [...rules.components.map((r) => r.stage), ...resolved.map((c) => c.stage)]) {
    if (!stages.includes(stage)) stages.push(stage);
  }
  const byName = new Map(resolved.map((c) => [c.name, c]));
  for (const c of resolved) {
    for (const p of c.prerequisites) {
      const other = byName.get(p) as ResolvedComponent;
      if (stages.indexOf(other.stage) > stages.indexOf(c.stage)) {
        throw new BadInputError(
          'prerequisite-stage',
          `component "${c.name}" (stage ${c.stage}) waits on "${p}", which is in the later stage ${other.stage}: move one of them or drop the prerequisite`,
        );
      }
    }
  }

  // Kahn's algorithm, always taking the earliest (stage, engine order) component that is ready.
  const remaining = new Map(resolved.map((c) => [c.name, c]));
  const ordered: ResolvedComponent[] = [];
  const rank = (c: ResolvedComponent) => stages.indexOf(c.stage) * resolved.length + base.indexOf(c.name);
  while (remaining.size > 0) {
    const ready = [...remaining.values()].filter((c) => c.prerequisites.every((p) => !remaining.has(p)));
    if (ready.length === 0) {
      throw new BadInputError(
        'prerequisite-cycle',
        `component prerequisites form a cycle: ${describeCycle(remaining)}; remove one of these prerequisites`,
      );
    }
    const next = ready.reduce((a, b) => (rank(b) < rank(a) ? b : a));
    ordered.push(next);
    remaining.delete(next.name);
  }
  return ordered;
}

function checkVersion(raw: string, what: string): void {
  try {
    parseVersion(raw);
  } catch (err) {
    throw new BadInputError('bad-version', `${what}: ${(err as Error).message}`);
  }
}

/** `member` as at the start of a batch: every database member it hosts up and healthy. */
function healthyHosted(member: MemberView): MemberView {
  const hosts = member.engine?.hosts;
  if (!hosts || !member.engine) return member;
  return {
    ...member,
    engine: { ...member.engine, hosts: hosts.map((h) => ({ ...h, healthy: true, groupDown: 0 })) },
  };
}

function byVersion(a: MemberView, b: MemberView): number {
  return compareVersions(a.version, b.version);
}

/**
 * This component's rolling passes: from the lowest version among members not at `target` (from the
 * highest when every such member is above it, a downgrade). A member above the target while others
 * are below still needs the downgrade allowed.
 */
function componentPath(
  rules: EngineRules,
  pending: MemberView[],
  target: string,
  allowDowngrade: boolean,
): VersionHop[] {
  if (pending.length === 0) return [];
  // Scans, not a sort: a pool may hold 65,000 nodes.
  const lowest = pending.reduce((a, b) => (byVersion(b, a) < 0 ? b : a));
  const highest = pending.reduce((a, b) => (byVersion(b, a) > 0 ? b : a));
  const above = compareVersions(highest.version, target) > 0;
  if (above) {
    const down = findVersionPath(rules, highest.version, target, { allowDowngrade });
    if (compareVersions(lowest.version, target) > 0) return down;
  }
  return findVersionPath(rules, lowest.version, target, { allowDowngrade });
}

/** Members that still need `hop` (the last hop: every member not at the component target). */
function needing(members: MemberView[], hop: VersionHop, last: boolean, target: string): MemberView[] {
  if (last) return members.filter((m) => !atVersion(m.version, target));
  const direction = Math.sign(compareVersions(hop.to, hop.from)) || 1;
  return members.filter((m) => compareVersions(m.version, hop.to) * direction < 0);
}

function leadershipMove(
  member: MemberView,
  members: MemberView[],
  target: string,
): { move: string; warning?: string } {
  const role = member.engine?.role;
  const held = leadershipsHeld(member);
  if (role === 'leader' || role === 'primary') {
    const pick = pickLeadershipTarget(member, members, { targetVersion: target });
    const extra = held > 1 ? ` with ${held} leaderships` : '';
    if (pick.target) {
      return {
        move: `${member.name} (${role}${extra}) -> most caught-up healthy member when its turn comes (now: ${pick.target.name}, lag ${pick.target.engine?.lag ?? 0})`,
      };
    }
    const others = members.filter((m) => m.name !== member.name && m.component === member.component);
    if (others.length === 0) {
      return { move: `${member.name} (${role}) -> none: single member, nothing to hand over` };
    }
    return {
      move: `${member.name} (${role}${extra}) -> most caught-up healthy member when its turn comes (none now)`,
      warning: `${pick.reason}; the upgrade waits when it reaches ${member.name}`,
    };
  }
  return {
    move: `${member.name} (${held} leadership${held === 1 ? '' : 's'}) -> moved to other members before it stops`,
  };
}

function versionMix(members: MemberView[]): string | undefined {
  const groups = new Map<string, MemberView[]>();
  for (const m of members) {
    const key = withoutV(m.version);
    const group = groups.get(key);
    if (group) group.push(m);
    else groups.set(key, [m]);
  }
  if (groups.size <= 1) return undefined;
  return [...groups]
    .sort(([, a], [, b]) => byVersion(a[0]!, b[0]!))
    .map(
      ([version, ms]) =>
        `${version} (${ms
          .sort((a, b) => a.ordinal - b.ordinal)
          .map((m) => m.name)
          .join(', ')})`,
    )
    .join(', ');
}

/** Components with members that keep their own version (left out of the plan), with why. */
function keptComponents(
  resolved: ResolvedComponent[],
  snapshot: Snapshot,
  rules: EngineRules,
): { name: string; versions: string[]; why: string }[] {
  const planned = new Set(resolved.map((c) => c.name));
  return rules.components.flatMap((r) => {
    const members = snapshot.members.filter((m) => m.component === r.name);
    if (r.ownVersion === undefined || planned.has(r.name) || members.length === 0) return [];
    return [{ name: r.name, versions: [...new Set(members.map((m) => m.version))], why: r.ownVersion }];
  });
}

/**
 * Refuse a plan whose highest target reaches the version that removed a component the cluster
 * still has members of (TiDB Binlog's Pump, removed in TiDB v8.4.0).
 */
function refuseRemoved(
  resolved: ResolvedComponent[],
  snapshot: Snapshot,
  rules: EngineRules,
  cluster: string,
): void {
  const targets = resolved.filter((c) => c.rule.ownVersion === undefined).map((c) => c.version);
  const highest = targets.reduce<string | undefined>(
    (a, b) => (a === undefined || compareVersions(b, a) > 0 ? b : a),
    undefined,
  );
  if (highest === undefined) return;
  for (const r of rules.components) {
    if (!r.removedIn || compareVersions(highest, r.removedIn.version) < 0) continue;
    const names = snapshot.members
      .filter((m) => m.component === r.name)
      .sort((a, b) => a.ordinal - b.ordinal)
      .map((m) => m.name);
    if (names.length === 0) continue;
    throw new BadInputError(
      'component-removed',
      `cluster "${cluster}" has ${r.name} members (${names.join(', ')}), which ${rules.title} removed in ${r.removedIn.version}, so it cannot go to ${highest}: ${r.removedIn.reason}`,
    );
  }
}

/**
 * The plan for `input`: version path, stages, components with members in safe order and batches,
 * leadership moves, prechecks, an estimate and the warnings visible now.
 *
 * - Each component's path runs from its lowest member version not at its target; `Plan.path` is
 *   the widest component's (most hops, first in order on ties), `from`/`to` are its ends.
 * - Members already at their target are listed in `upToDate` and not batched.
 * - Batches restart their exponential count with each component and after each pause the strategy
 *   schedules (after the plan's first batch, after every batch).
 * - The estimate covers every hop of every component plus prechecks, hooks and finalizations.
 *
 * Throws BadInputError for an invalid batch policy or budget, an unparsable target or member
 * version, an unknown component, a refused downgrade, no version path, a target that reaches the
 * version removing a component the cluster still has (`component-removed`), a cluster whose every
 * component keeps its own version (`nothing-to-plan`), or a snapshot without members.
 */
export function buildPlan(input: PlanInput): Plan {
  const { spec, snapshot, rules, durations } = input;
  const strategy = spec.strategy;
  validateBatchPolicy(strategy.batch);
  if (!Number.isInteger(strategy.maxUnavailable) || strategy.maxUnavailable < 1) {
    throw new BadInputError(
      'bad-budget',
      `maxUnavailable must be a whole number of at least 1 (got ${strategy.maxUnavailable})`,
    );
  }
  checkVersion(spec.version, 'target version');
  if (snapshot.members.length === 0) {
    throw new BadInputError(
      'empty-cluster',
      `cluster "${spec.cluster}" has no members: check its name and that it runs`,
    );
  }
  for (const m of snapshot.members)
    checkVersion(m.version, `member ${m.name} reports version "${m.version}"`);
  const resolved = resolveComponents(spec, snapshot, rules);
  for (const c of resolved) checkVersion(c.version, `target version of component ${c.name}`);
  const kept = keptComponents(resolved, snapshot, rules);
  if (resolved.length === 0) {
    throw new BadInputError(
      'nothing-to-plan',
      `every component of cluster "${spec.cluster}" keeps its own version (${kept.map((k) => k.name).join(', ')}): give the version of the one to upgrade (per-component version)`,
    );
  }
  refuseRemoved(resolved, snapshot, rules, spec.cluster);
  const allowDowngrade = input.allowDowngrade === true;
  const warnings: string[] = [];
  if (!snapshot.health.healthy) warnings.push(`cluster unhealthy: ${snapshot.health.detail}`);
  warnings.push(...(snapshot.health.warnings ?? []));
  for (const k of kept) {
    warnings.push(
      `${k.name} keeps ${k.versions.join(', ')}, not ${spec.version}: ${k.why}; give ${k.name} its own version (per-component version) to upgrade it`,
    );
  }
  if (rules.uniformVersion !== undefined) {
    const shared = resolved.filter((c) => c.rule.ownVersion === undefined);
    const distinct = [...new Set(shared.map((c) => withoutV(c.version)))];
    if (distinct.length > 1) {
      warnings.push(
        `components target different versions (${shared.map((c) => `${c.name} ${c.version}`).join(', ')}): ${rules.uniformVersion}; a per-component override is allowed, and the cluster runs mixed versions until every component is on one`,
      );
    }
  }
  const leadershipMoves: string[] = [];
  const components: PlannedComponent[] = [];
  let firstBatchPlanned = false;

  for (const c of resolved) {
    const members = snapshot.members.filter((m) => m.component === c.name);
    const pending = members.filter((m) => !atVersion(m.version, c.version));
    let path = componentPath(rules, pending, c.version, allowDowngrade);
    let hopTargets: (string | null)[] | undefined;
    const skew = c.rule.versionSkew;
    const leader = skew && components.find((p) => p.name === skew.follows);
    if (skew && leader && pending.length > 0 && (leader.path?.length ?? 0) > 0) {
      const leaderPath = leader.path ?? [];
      const leaderTargets = leaderPath.map((h, i) => (i === leaderPath.length - 1 ? leader.version : h.to));
      const lowest = pending.reduce((a, b) => (byVersion(b, a) < 0 ? b : a));
      const hops = skewHops(rules, { ...skew, component: c.name }, lowest.version, c.version, leaderTargets);
      path = hops.path;
      hopTargets = hops.hopTargets;
    }
    const policy = componentBatchPolicy(c.rule, spec);
    const ordered = orderMembers(pending, c.rule.topology);
    const stateless = c.rule.topology === 'stateless';
    const planned = ordered.map(({ member, reason }) => {
      const p: PlannedMember = {
        name: member.name,
        ordinal: member.ordinal,
        version: member.version,
        ready: member.ready,
        reason,
        leadershipMove: !stateless && holdsLeadership(member),
      };
      if (member.engine) p.role = member.engine.role;
      return p;
    });
    const pauses: PauseSchedule = {
      afterEach: strategy.pauseAfterEachBatch,
      afterFirst: strategy.pauseAfterFirstBatch && !firstBatchPlanned,
    };
    // The batches the runner will choose if every batch starts with all members up: database
    // members hosted on the same members (pods on nodes) keep their quorum.
    // Only members hosting something can be refused: the verdict looks at them alone, so a pool
    // of thousands of nodes without database pods is not scanned once per node.
    const healthyHosts = ordered
      .filter(({ member }) => member.engine?.hosts?.length)
      .map(({ member }) => healthyHosted(member));
    const batches = planBatches(
      policy,
      planned.map((m) => m.name),
      pauses,
      batchGate(healthyHosts.length === 0 ? [] : [hostedQuorumTally(healthyHosts)]),
      c.rule.topology === 'stateless',
    );
    if (batches.length > 0) firstBatchPlanned = true;
    components.push({
      name: c.name,
      stage: c.stage,
      prerequisites: c.prerequisites,
      version: c.version,
      members: planned,
      batches: batches.map((names, i) => ({ index: i + 1, members: names })),
      upToDate: members
        .filter((m) => atVersion(m.version, c.version))
        .sort((a, b) => a.ordinal - b.ordinal)
        .map((m) => m.name),
      path,
      ...(hopTargets ? { hopTargets } : {}),
      ...(c.rule.batch ? { batchPolicy: c.rule.batch } : {}),
    });

    for (const { member } of ordered) {
      if (c.rule.topology === 'stateless' || !holdsLeadership(member)) continue;
      const { move, warning } = leadershipMove(member, members, c.version);
      leadershipMoves.push(move);
      if (warning) warnings.push(warning);
    }
    const flagged = members.filter((m) => !m.engine || unreadyReason(m) !== undefined);
    for (const m of flagged.sort((a, b) => a.ordinal - b.ordinal)) {
      const why = unreadyReason(m);
      const detail = m.detail ? ` (${m.detail})` : '';
      if (why)
        warnings.push(
          `${m.name} is ${why}${detail}: it goes first and counts against the unavailability budget`,
        );
      else
        warnings.push(
          `${m.name} is not reachable by the ${rules.title} engine: its role and lag are unknown`,
        );
    }
    const mix = versionMix(members);
    if (mix) warnings.push(`${c.name} members run mixed versions: ${mix}`);
    const largest = Math.max(0, ...batches.map((b) => b.length));
    if (largest > strategy.maxUnavailable) {
      warnings.push(
        `${c.name}: batches of up to ${largest} exceed maxUnavailable ${strategy.maxUnavailable}; members beyond the budget wait for earlier ones`,
      );
    }
    const safeForQuorum = Math.floor((members.length - 1) / 2);
    if (c.rule.quorum && largest > safeForQuorum && largest > 1) {
      warnings.push(
        `${c.name}: batches of ${largest} of ${members.length} members would break quorum; at most ${safeForQuorum} go at once`,
      );
    }
  }

  const widest = components.reduce<PlannedComponent | undefined>(
    (best, c) => (best === undefined || (c.path?.length ?? 0) > (best.path?.length ?? 0) ? c : best),
    undefined,
  ) as PlannedComponent;
  const planPath = widest.path ?? [];
  const lowest = snapshot.members.reduce((a, b) => (byVersion(b, a) < 0 ? b : a));
  const from = planPath[0]?.from ?? lowest.version;
  const to = planPath[planPath.length - 1]?.to ?? spec.version;

  const soakMs = Math.max(0, strategy.soakSeconds) * 1000;
  let estimatedMs = rules.prechecks.length > 0 ? stepEstimate('precheck', durations, rules) : 0;
  for (const c of components) {
    const members = snapshot.members.filter((m) => m.component === c.name);
    const hops = c.path ?? [];
    hops.forEach((h, i) => {
      const need = needing(members, h, i === hops.length - 1, c.version);
      const rule = componentRule(rules, c.name);
      // How many batches, not which: their sizes depend on the count alone, so no ordering.
      const batches = splitBatches(
        componentBatchPolicy(rule, spec),
        need.map((m) => m.name),
        {
          afterEach: strategy.pauseAfterEachBatch,
        },
      ).length;
      const leaders = need.filter((m) => holdsLeadership(m)).length;
      estimatedMs += estimateRemainingMs(
        { members: need.length, leaders, batches },
        soakMs,
        durations,
        rules,
      );
    });
  }
  const passes = planPath.length;
  estimatedMs += passes * rules.hooks.length * stepEstimate('hook', durations, rules);
  estimatedMs += planPath.filter((h) => h.finalize).length * stepEstimate('finalize', durations, rules);

  const stages: PlannedStage[] = [];
  for (const c of components) {
    const stage = stages.find((s) => s.name === c.stage);
    if (stage) stage.components.push(c.name);
    else stages.push({ name: c.stage, components: [c.name] });
  }

  return {
    engine: rules.name,
    cluster: spec.cluster,
    from,
    to,
    path: planPath,
    stages,
    components,
    prechecks: rules.prechecks.map((p) => ({ name: p.name, description: p.description })),
    leadershipMoves,
    batchPolicy: strategy.batch,
    maxUnavailable: strategy.maxUnavailable,
    estimatedMs: Math.round(estimatedMs),
    warnings,
    finalization: planPath[planPath.length - 1]?.finalize ?? false,
  };
}
