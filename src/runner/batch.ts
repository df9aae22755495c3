/**
 * Batches: choosing the next batch of a component (in safe order, each member only while every
 * safety check still allows the batch with it), starting its members (each re-checked against
 * the budget and quorum, since others may have gone down meanwhile), and ending it (soak, then the
 * configured pause or the next batch).
 */
import type { BatchPolicy, PlannedComponent } from '../core/types.js';
import { isLeaderRole } from '../core/types.js';
import { batchGate, batchSize, chooseBatch, largestBatch } from '../plan/batches.js';
import { holdsLeadership, orderMembers } from '../plan/order.js';
import { componentBatchPolicy, componentRule } from '../plan/plan.js';
import {
  budgetTally,
  budgetVerdict,
  firstDenial,
  hostedQuorumTally,
  inSyncCopyTally,
  leadershipVerdict,
  quorumTally,
  quorumVerdict,
  type StopTally,
} from '../plan/safety.js';
import {
  type ActStep,
  act,
  block,
  converged,
  pause,
  replacedAlready,
  type Step,
  stepReason,
  together,
  type Turn,
  unfinished,
  wait,
} from './decision.js';
import { formatDuration } from './describe.js';
import { record, setMemberState } from './status.js';

/**
 * The batch in flight (`status.currentBatch`): start its members still pending, wait for the others
 * (`inFlight`: the wait the members in flight gave, if any), or end it once every one is through.
 */
export function batchInFlight(t: Turn, inFlight: Step | undefined): Step {
  const { status } = t;
  const pending = status.currentBatch.filter((n) => status.members[n]?.state === 'pending');
  const active = status.currentBatch.filter((n) => {
    const s = status.members[n]?.state;
    return s !== 'pending' && s !== 'done' && s !== 'failed';
  });
  if (pending.length > 0) return startMembers(t, pending);
  if (active.length > 0) return inFlight ?? wait(t, `waiting for ${active.join(', ')}`);
  return batchFinished(t);
}

/**
 * Start the next batch of `comp` (going to `target`) among `pendingNames`: the same choice the plan
 * made, in safe order, each member only if every check still allows the batch with it; in a node
 * pool a member refused (database members hosted together) waits for a later batch instead of
 * ending this one. Members already at the target are marked done without a restart. O(n log n) in
 * the component's members.
 */
export function startBatch(t: Turn, comp: PlannedComponent, target: string, pendingNames: string[]): Step {
  const { status, spec, snapshot, rules, now } = t;
  const rule = componentRule(rules, comp.name);
  const compMembers = t.membersOf(comp.name);
  const pendingSet = new Set(pendingNames);
  const candidates = orderMembers(
    compMembers.filter((m) => pendingSet.has(m.name)),
    rule.topology,
  ).map((o) => o.member.name);
  for (const name of candidates) {
    const p = status.members[name]!;
    if (p.state === 'pending' && converged(t.views.get(name), p.to)) {
      setMemberState(status, name, 'done', now, `${name} already runs ${p.to}`);
    }
  }
  const remaining = candidates.filter((n) => status.members[n]!.state !== 'done');
  if (remaining.length === 0) return wait(t, `${comp.name}: every member already at ${target}`, 0);

  // Each component is its own pool: exponential sizing starts again at 1 (a canary of one).
  const previous = Object.values(status.members).find((m) => m.batch === status.batchesStarted);
  if (previous && previous.component !== comp.name) status.batchesSincePause = 0;
  const policy = componentBatchPolicy(rule, spec);
  const size = batchSize(policy, compMembers.length, status.batchesSincePause);
  const gate = batchGate([
    budgetTally(compMembers, componentBudget(t, policy, compMembers.length)),
    quorumTally(compMembers, rule),
    inSyncCopyTally(compMembers, rule),
    hostedQuorumTally(snapshot.members),
  ]);
  const { batch, denial } = chooseBatch(remaining, size, gate, rule.topology === 'stateless');
  if (batch.length === 0) {
    const d = denial ?? { check: 'unavailability-budget', reason: 'no member can be stopped now' };
    return block(t, d.check, d.reason);
  }

  // Supervised: wait for a human before the leader/primary goes.
  if (spec.supervised) {
    const leader = batch
      .map((n) => t.views.get(n))
      .find((v) => v !== undefined && holdsLeadership(v) && isLeaderRole(v.engine?.role));
    if (leader && !(status.supervisedPassed ?? []).includes(leader.name)) {
      status.supervisedGate = leader.name;
      return pause(
        t,
        `supervised: approve the ${leader.engine?.role} step for ${leader.name} with \`baton resume\``,
      );
    }
  }

  status.batchesStarted += 1;
  status.batchesSincePause += 1;
  status.currentBatch = batch;
  status.batchReadyAt = undefined;
  for (const n of batch) status.members[n]!.batch = status.batchesStarted;
  const phrase = progressPhrase(t, comp.name, batch.length);
  // A rollback takes each member back to its own original version, not to the hop's target.
  const versions = [...new Set(batch.map((n) => status.members[n]!.to))].join(', ');
  record(status, {
    at: now,
    type: 'step',
    message: `batch ${status.batchesStarted} of ${comp.name}: ${batch.join(', ')} (to ${versions})${phrase ? `: ${phrase}` : ''}`,
  });
  return startMembers(t, batch);
}

/**
 * The engine's words for the batch about to start (`rules.describeProgress`): "control plane node 2
 * of 3" for its first member, undefined when the engine has none.
 */
function progressPhrase(t: Turn, component: string, starting: number): string | undefined {
  const describe = t.rules.describeProgress;
  if (!describe) return undefined;
  const own = Object.values(t.status.members).filter((m) => m.component === component);
  const done = own.filter((m) => m.state === 'done').length;
  return describe(component, Math.min(own.length, done + Math.max(1, starting)), done, own.length);
}

/**
 * The unavailability budget of a component: the spec's maxUnavailable, and for engines whose budget
 * is the batch cap (node pools: 10%) no more than the largest batch its policy makes.
 */
function componentBudget(t: Turn, policy: BatchPolicy, memberCount: number): number {
  const max = t.spec.strategy.maxUnavailable;
  return t.rules.steps?.budgetFromBatch ? Math.min(max, largestBatch(policy, memberCount)) : max;
}

const STOPPING = new Set(['draining', 'replacing', 'verifying']);

/** Members of the batch in flight other than `name` (draining, replacing or verifying). */
function othersStopping(t: Turn, name?: string): string[] {
  const { status } = t;
  return status.currentBatch.filter((n) => n !== name && STOPPING.has(status.members[n]?.state ?? ''));
}

/** The budget and quorum checks of `component`, counting the members of the batch in flight. */
function startChecks(t: Turn, component: string): StopTally[] {
  const compMembers = t.membersOf(component);
  const rule = componentRule(t.rules, component);
  const limit = componentBudget(t, componentBatchPolicy(rule, t.spec), compMembers.length);
  const tallies = [budgetTally(compMembers, limit), quorumTally(compMembers, rule)];
  for (const n of othersStopping(t)) for (const tally of tallies) tally.add(n);
  return tallies;
}

/**
 * Start `names` (pending members of the batch): all of them for batchTogether engines, else the
 * first. A member that may not start now (blocked) waits for the next decision, as do those after it.
 */
function startMembers(t: Turn, names: string[]): Step {
  if (!together(t)) return startMember(t, names[0]!, startChecks(t, t.status.members[names[0]!]!.component));
  const checks = new Map<string, StopTally[]>();
  const started: ActStep[] = [];
  let blocked: Exclude<Step, ActStep> | undefined;
  for (const name of names) {
    const component = t.status.members[name]!.component;
    if (!checks.has(component)) checks.set(component, startChecks(t, component));
    const s = startMember(t, name, checks.get(component)!);
    if (s.kind !== 'act') {
      blocked = s;
      break;
    }
    started.push(s);
  }
  const [first, ...rest] = started.flatMap((s) => s.actions);
  if (!first) return blocked!;
  t.status.blockedBy = undefined;
  if (rest.length > 0) return { kind: 'act', actions: [first, ...rest] };
  // One member started and the next blocked: the block is what the decision says.
  return blocked ? { ...started[0]!, reason: stepReason(blocked) } : started[0]!;
}

/**
 * Start member `name` of the batch: re-check the budget and quorum (`checks` count the members
 * already stopping), then drain it (an evacuating engine's member, or one holding leadership) or
 * replace it.
 */
function startMember(t: Turn, name: string, checks: StopTally[]): Step {
  const { status, rules, now } = t;
  const p = status.members[name]!;
  const view = t.views.get(name);
  const compMembers = t.membersOf(p.component);
  // Nothing of Baton's stops it: it counts as unavailable already, wherever it is.
  const replaced = replacedAlready(t, name);
  if (replaced) return replaced;

  // Re-check the budget: others may have become unavailable since the batch was chosen.
  if (!batchGate(checks).admit(name)) {
    // Said as the checks say it for the batch in flight, in its order.
    const rule = componentRule(rules, p.component);
    const stopping = [...othersStopping(t, name), name];
    const limit = componentBudget(t, componentBatchPolicy(rule, t.spec), compMembers.length);
    const d =
      firstDenial([
        budgetVerdict(compMembers, stopping, limit),
        quorumVerdict(compMembers, stopping, rule),
      ]) ?? batchGate(checks).denial(name);
    return block(t, d.check, d.reason);
  }

  if (rules.steps?.evacuate) {
    // Every member is emptied first (a node cordoned and its pods evicted), leader or not.
    setMemberState(status, name, 'draining', now, `${name}: draining`);
    p.drainIssued = false;
    return act(t, { kind: 'drain', member: name, evacuate: true });
  }
  if (view && holdsLeadership(view) && compMembers.length > 1) {
    const lv = leadershipVerdict(view, compMembers, { exclude: status.currentBatch, targetVersion: p.to });
    if (!lv.allow) return block(t, lv.check, lv.reason);
    setMemberState(status, name, 'draining', now, `${name}: ${lv.reason}`);
    p.drainIssued = false;
    if (view.engine?.leaderCount !== undefined) p.leadersBefore = view.engine.leaderCount;
    p.drainTarget = lv.target?.name;
    return act(
      t,
      { kind: 'drain', member: name, target: lv.target?.name },
      `move leadership away from ${name}: ${lv.reason}`,
    );
  }
  setMemberState(status, name, 'replacing', now, `${name}: replacing with ${p.to}`);
  p.replaceCalls += 1;
  return act(t, { kind: 'replace', member: name, version: p.to });
}

/**
 * Every member of the batch is through: soak it, then pause when the strategy says so, or go on
 * to the next batch in the same decision (nothing to wait for).
 */
function batchFinished(t: Turn): Step {
  const { status, spec, now } = t;
  const readyAt = (status.batchReadyAt ??= now);
  const soak = spec.strategy.soakSeconds * 1000;
  if (now - readyAt < soak) {
    return wait(
      t,
      `soaking batch ${status.batchesStarted} for ${formatDuration(soak)}`,
      soak - (now - readyAt),
    );
  }
  const batchNo = status.batchesStarted;
  if (soak > 0)
    record(status, { at: now, type: 'step', message: `batch ${batchNo} soaked ${formatDuration(soak)}` });
  status.currentBatch = [];
  status.batchReadyAt = undefined;
  const more = Object.values(status.members).some(unfinished);
  if (more && (spec.strategy.pauseAfterEachBatch || (spec.strategy.pauseAfterFirstBatch && batchNo === 1))) {
    status.batchGate = batchNo;
    return pause(t, `batch ${batchNo} done; pausing as configured (resume with \`baton resume\`)`);
  }
  // The phase stays Running: the next batch is chosen at once.
  return { kind: 'transition', phase: 'Running', reason: `batch ${batchNo} done` };
}
