/**
 * The runner's decisions: a pure function from (spec, status, snapshot, now) to the next status,
 * at most one action, and a reason. No I/O, no clock, no randomness. The caller persists the
 * returned status BEFORE performing the action (the intent), performs it, then folds the outcome
 * back with {@link applyOutcome} and persists again. Re-deciding after a crash from the persisted
 * status and a fresh snapshot leads to the same or the next step, never a skipped or doubled one,
 * because every action is idempotent and every wait is a re-observation.
 */
import { describeError } from '../core/errors.js';
import type {
  BatchPolicy,
  MemberProgress,
  MemberView,
  PrecheckResult,
  Snapshot,
  StepKind,
  UpgradeSpec,
  UpgradeStatus,
} from '../core/types.js';
import { isLeaderRole, isTerminal } from '../core/types.js';
import type { EngineRules } from '../core/rules.js';
import { batchSize, chooseBatch, largestBatch } from '../plan/batches.js';
import { componentBatchPolicy, componentRule } from '../plan/plan.js';
import { orderMembers } from '../plan/order.js';
import {
  budgetVerdict,
  firstDenial,
  hostedQuorumVerdict,
  inSyncCopyVerdict,
  leadershipVerdict,
  prerequisitesVerdict,
  quorumVerdict,
} from '../plan/safety.js';
import type { PlannedComponent } from '../core/types.js';
import { atVersion } from '../core/version.js';
import { finalizedFloor, rollbackRefusal, rollbackVersion } from '../plan/rollback.js';
import { progressOf } from './progress.js';
import { noteWarnings, pruneToSummary, record, setMemberState, setPhase } from './status.js';

/** One disruptive (or I/O) step the runner performs for a decision. */
export type Action =
  | { kind: 'precheck' }
  | { kind: 'hook'; hook: string; component?: string }
  /**
   * Move leadership away from `member` (to `target`), or for evacuating engines empty it (`evacuate`:
   * cordon and evict); `timedOut`: the drain outlived its timeout and the policy (delete) applies.
   */
  | { kind: 'drain'; member: string; target?: string; evacuate?: boolean; timedOut?: boolean }
  | { kind: 'replace'; member: string; version: string }
  | { kind: 'restore'; member: string }
  | { kind: 'finalize' }
  /** Take the members over from their owner (the plan's `custody`), before the first one moves. */
  | { kind: 'takeOver' }
  /** Give them back to their owner when the pass ends (completed, rolled back or cancelled). */
  | { kind: 'handBack' };

/** Client-level availability verdict (the probe); a failing one pauses the upgrade. */
export interface Availability {
  ok: boolean;
  reason: string;
}

/** Everything a decision depends on. */
export interface DecideInput {
  spec: UpgradeSpec;
  status: UpgradeStatus;
  snapshot: Snapshot;
  rules: EngineRules;
  now: number;
  availability?: Availability;
}

/** The next status to persist, the action to take (if any) and when to look again. */
export interface Decision {
  status: UpgradeStatus;
  action?: Action;
  /**
   * Every action of this decision, `action` first: one unless the engine's members take each step
   * together per batch (`rules.steps.batchTogether`), when the same decision may drain, replace or
   * restore every member of the batch that is ready for it. The caller performs them concurrently.
   */
  actions?: Action[];
  reason: string;
  /** Milliseconds until the next observation; 0 means at once. */
  requeueMs: number;
}

/** Outcome of an action, folded into the status by {@link applyOutcome}. */
export type Outcome =
  | {
      ok: true;
      prechecks?: PrecheckResult[];
      message?: string;
      movedTo?: string;
      /** A hand-back that cannot happen yet, and why (the workload is not at rest). */
      notYet?: string;
    }
  | { ok: false; error: unknown; retryable: boolean };

/** How long to wait between observations while something converges. */
export const POLL_MS = 500;
/** How often failing prechecks are re-run. */
export const PRECHECK_RETRY_MS = 10_000;
/** Attempts for an action failing with a transient error before the upgrade pauses. */
export const MAX_ACTION_ATTEMPTS = 3;

/** Mark failing prechecks that `force` names (or `*`) as forced: they no longer block. */
export function applyForce(results: PrecheckResult[], force: string[]): PrecheckResult[] {
  return results.map((r) =>
    !r.ok && (force.includes('*') || force.includes(r.name)) ? { ...r, forced: true } : r,
  );
}

/** Key of an action for retry accounting. */
export function actionKey(a: Action): string {
  switch (a.kind) {
    case 'precheck':
    case 'finalize':
    case 'takeOver':
    case 'handBack':
      return a.kind;
    case 'hook':
      return `hook:${a.hook}:${a.component ?? ''}`;
    case 'drain':
    case 'replace':
    case 'restore':
      return `${a.kind}:${a.member}`;
  }
}

/** Human description of an action, for history, events and the "step in progress". */
export function describeAction(a: Action): string {
  switch (a.kind) {
    case 'precheck':
      return 'run prechecks';
    case 'finalize':
      return 'finalize the upgrade';
    case 'takeOver':
      return 'take the members over from their owner';
    case 'handBack':
      return 'hand the members back to their owner';
    case 'hook':
      return `run ${a.hook}${a.component ? ` for ${a.component}` : ''}`;
    case 'drain':
      if (a.evacuate) return `drain ${a.member}${a.timedOut ? ' past its timeout (policy delete)' : ''}`;
      return `move leadership away from ${a.member}${a.target ? ` to ${a.target}` : ''}`;
    case 'replace':
      return `replace ${a.member} with ${a.version}`;
    case 'restore':
      return `restore ${a.member} after restart`;
  }
}

/** Several actions of one decision, grouped by kind: "drain w-3, w-4; replace w-1 with 1.37.2". */
export function describeActions(actions: Action[]): string {
  const groups = new Map<string, string[]>();
  for (const a of actions) {
    const member = 'member' in a ? a.member : undefined;
    if (!member) {
      groups.set(describeAction(a), []);
      continue;
    }
    const key = describeAction(a).replace(member, '\0');
    groups.set(key, [...(groups.get(key) ?? []), member]);
  }
  return [...groups]
    .map(([key, members]) => (members.length ? key.replace('\0', members.join(', ')) : key))
    .join('; ');
}

/** Decide the next step. Never mutates its input. */
export function decide(input: DecideInput): Decision {
  // The plan is never changed by a decision: share it instead of copying it on every poll.
  const status = structuredClone({ ...input.status, plan: undefined }) as UpgradeStatus;
  status.plan = input.status.plan;
  const ctx: Ctx = { ...input, status, reason: '', requeueMs: POLL_MS, more: [] };
  const action = step(ctx);
  const actions = action ? [action, ...ctx.more] : [];
  if (actions.length > 1) ctx.reason = describeActions(actions);
  noteWarnings(status, input.snapshot.health.warnings ?? [], input.now);
  status.progress = progressOf(status, input.snapshot, input.rules, input.spec);
  if (action) status.progress.step = describeAction(action);
  status.updatedAt = input.now;
  status.observedGeneration = input.spec.generation;
  if (ctx.reason) status.reason = ctx.reason;
  return {
    status,
    action,
    ...(actions.length > 1 ? { actions } : {}),
    reason: status.reason,
    requeueMs: action ? 0 : ctx.requeueMs,
  };
}

interface Ctx extends DecideInput {
  reason: string;
  requeueMs: number;
  /** Further actions of the same decision (batchTogether engines), after the one returned. */
  more: Action[];
}

/** Whether the engine's members take each step together per batch. */
function together(ctx: Ctx): boolean {
  return ctx.rules.steps?.batchTogether === true;
}

function wait(ctx: Ctx, reason: string, ms = POLL_MS): undefined {
  ctx.reason = reason;
  ctx.requeueMs = ms;
  return undefined;
}

function act(ctx: Ctx, action: Action, reason?: string): Action {
  ctx.reason = reason ?? describeAction(action);
  // A precheck re-run keeps the block it may confirm, so `blockedBy.since` says how long it has held.
  if (action.kind !== 'precheck') ctx.status.blockedBy = undefined;
  return action;
}

function block(ctx: Ctx, check: string, reason: string, ms = POLL_MS): undefined {
  const { status, now } = ctx;
  if (status.blockedBy?.check !== check || status.blockedBy.reason !== reason) {
    status.blockedBy = { check, reason, since: now };
    record(status, { at: now, type: 'block', message: `${check}: ${reason}` });
  }
  return wait(ctx, `blocked by ${check}: ${reason}`, ms);
}

/** Pause by Baton itself (error, gate, probe): resuming needs `baton resume`. */
function autoPause(ctx: Ctx, cause: string): undefined {
  const { status, now, spec } = ctx;
  status.pauseCause = cause;
  status.pausedGeneration = spec.generation;
  status.batchesSincePause = 0;
  setPhase(status, 'Paused', `paused: ${cause}`, now);
  return wait(ctx, `paused: ${cause}`, POLL_MS);
}

function memberMap(snapshot: Snapshot): Map<string, MemberView> {
  return new Map(snapshot.members.map((m) => [m.name, m]));
}

function holdsLeadership(m: MemberView | undefined): boolean {
  if (!m?.engine) return false;
  return isLeaderRole(m.engine.role) || (m.engine.leaderCount ?? 0) > 0;
}

/** Ready, at the version, and the engine says healthy and caught up. */
function converged(m: MemberView | undefined, version: string): boolean {
  return !!m && m.ready && atVersion(m.version, version) && !!m.engine?.healthy && !!m.engine.caughtUp;
}

function plannedComponents(status: UpgradeStatus): PlannedComponent[] {
  return status.plan?.components ?? [];
}

/**
 * Target version of a component in the current hop and direction; `null` when the component stays
 * where it is in this hop (a node pool the version skew policy lets wait).
 */
function hopTarget(status: UpgradeStatus, comp: PlannedComponent): string | null {
  const path = status.plan?.path ?? [];
  if (path.length <= 1) return comp.version;
  const at = Math.min(status.hop, path.length - 1);
  if (comp.hopTargets && comp.hopTargets.length === path.length) return comp.hopTargets[at] ?? null;
  const hop = path[at]!;
  // Components on their own version (same-version rules aside) follow the final hop only.
  return status.hop === path.length - 1 ? comp.version : hop.to;
}

function step(ctx: Ctx): Action | undefined {
  const { spec, status, now } = ctx;
  if (isTerminal(status.phase)) return wait(ctx, `upgrade is ${status.phase}`, 0);

  // A paused upgrade expires after its configured time (ACK: 15 days).
  if (status.phase === 'Paused' && status.pausedAt !== undefined) {
    const limit = spec.pausedExpirySeconds * 1000;
    if (now - status.pausedAt >= limit) {
      pruneToSummary(status, now);
      setPhase(status, 'Expired', `paused for more than ${formatDuration(limit)}: upgrade expired`, now);
      return wait(ctx, status.reason, 0);
    }
  }

  // Force: reported while it stays set.
  if (spec.force.length > 0) {
    const note = `force is set (${spec.force.join(', ')})`;
    if (!status.history.some((h) => h.type === 'force' && h.message === note)) {
      record(status, { at: now, type: 'force', message: note });
    }
  }

  // An evacuating member (a node being drained) has started: a pause or a cancel lets it finish.
  const evacuating = ctx.rules.steps?.evacuate !== undefined;
  const inFlight = Object.entries(status.members).filter(
    ([, m]) => m.state === 'replacing' || m.state === 'verifying' || (evacuating && m.state === 'draining'),
  );

  if (spec.cancel) {
    // Members already restarting finish; nobody new starts; drained-but-untouched members stay as they are.
    for (const [name, m] of Object.entries(status.members)) {
      if (m.state === 'draining' && !evacuating)
        setMemberState(status, name, 'pending', now, `${name}: not started (cancelled)`);
    }
    if (inFlight.length === 0) {
      const leftover = restoreLeftover(ctx) ?? handBack(ctx);
      if (leftover || status.custody === 'held') return leftover;
      const done = Object.values(status.members).filter((m) => m.state === 'done').length;
      const failed = failedMembers(status);
      setPhase(
        status,
        'Cancelled',
        `cancelled: ${done} member(s) upgraded stay upgraded, the rest are left alone${failed.length ? `; failed and left for a human: ${failed.join(', ')}` : ''}`,
        now,
      );
      return wait(ctx, status.reason, 0);
    }
    const byBaton = status.pausedGeneration !== undefined && spec.generation <= status.pausedGeneration;
    if (status.phase === 'Paused' && !spec.paused && !byBaton) {
      // Resumed while cancelling: no longer paused, only finishing what is in flight.
      status.pausedAt = undefined;
      setPhase(status, 'Running', 'resumed while cancelling', now);
    }
    return (
      driveInFlight(ctx) ??
      wait(ctx, `cancelling: waiting for ${inFlight.map(([n]) => n).join(', ')} to finish`)
    );
  }

  switch (status.phase) {
    case 'Pending':
      setPhase(status, 'Prechecking', 'running prechecks', now);
      return act(ctx, { kind: 'precheck' });
    case 'Prechecking':
      return prechecking(ctx);
    case 'Paused':
      return paused(ctx);
    case 'AwaitingFinalization':
      return awaitingFinalization(ctx);
    case 'Running':
      return running(ctx);
    default:
      return wait(ctx, `nothing to do in phase ${status.phase}`);
  }
}

function prechecking(ctx: Ctx): Action | undefined {
  const { status, spec, now } = ctx;
  const lastRun = status.prechecksAt ?? 0;
  const specChanged = status.prechecksGeneration !== spec.generation;
  if (status.blockedBy?.check === 'precheck:error' || status.prechecks.length === 0) {
    if (status.prechecksAt === undefined || specChanged || now - lastRun >= PRECHECK_RETRY_MS) {
      return act(ctx, { kind: 'precheck' });
    }
    return wait(ctx, status.reason, PRECHECK_RETRY_MS - (now - lastRun));
  }
  const failing = status.prechecks.filter((r) => !r.ok && !r.forced);
  if (failing.length === 0) {
    setPhase(status, 'Running', 'prechecks passed; upgrade running', now);
    return running(ctx);
  }
  // Blocked: nothing has moved. Re-run after an interval, or at once when the spec changed (force).
  if (specChanged || now - lastRun >= PRECHECK_RETRY_MS) return act(ctx, { kind: 'precheck' });
  return wait(ctx, status.reason, PRECHECK_RETRY_MS - (now - lastRun));
}

function paused(ctx: Ctx): Action | undefined {
  const { status, spec, now } = ctx;
  const byUser = spec.paused;
  const byBaton = status.pausedGeneration !== undefined && spec.generation <= status.pausedGeneration;
  if (!byUser && !byBaton) {
    if (status.supervisedGate) {
      status.supervisedPassed = [...(status.supervisedPassed ?? []), status.supervisedGate];
    }
    status.supervisedGate = undefined;
    status.batchGate = undefined;
    status.pauseCause = undefined;
    status.pausedGeneration = undefined;
    status.pausedAt = undefined;
    status.batchesSincePause = 0;
    status.retry = undefined;
    status.handBackWait = undefined;
    for (const [name, m] of Object.entries(status.members)) {
      m.lastError = undefined;
      // Members in flight get their full timeout again: the pause was not their fault.
      if (m.state === 'draining' || m.state === 'replacing' || m.state === 'verifying') m.since = now;
      // Members given up on are tried again.
      if (m.state === 'failed') {
        setMemberState(status, name, 'pending', now, `${name}: tried again after resume`);
        m.replaceIssued = undefined;
      }
    }
    record(status, { at: now, type: 'control', message: 'resumed' });
    setPhase(status, 'Running', 'running again', now);
    return running(ctx);
  }
  // Members in flight finish; no new member starts.
  const a = driveInFlight(ctx);
  if (a) return a;
  const why = byUser ? 'paused by user' : `paused: ${status.pauseCause ?? 'waiting for resume'}`;
  return wait(ctx, `${why}; resume with \`baton resume\``, 1000);
}

function awaitingFinalization(ctx: Ctx): Action | undefined {
  const { spec, status, now } = ctx;
  if (spec.rollback) return startRollback(ctx);
  if (spec.finalizeRequested) return act(ctx, { kind: 'finalize' });
  if (spec.paused) setPhase(status, 'Paused', 'paused by user', now);
  return wait(
    ctx,
    'every member runs the target version; finalize with `baton finalize` (rollback stays possible until then)',
    2000,
  );
}

function startRollback(ctx: Ctx): Action | undefined {
  const { status, snapshot, now, rules } = ctx;
  if (status.direction === 'rollback' && !status.finalized) return undefined;
  const views = memberMap(snapshot);
  const runningOf = (name: string, m: MemberProgress) => views.get(name)?.version ?? m.to;
  const refused = rollbackRefusal(status, rules.versions, runningOf);
  if (refused) return block(ctx, 'rollback', refused);
  const floor = finalizedFloor(status);
  const members: UpgradeStatus['members'] = {};
  for (const [name, m] of Object.entries(status.members)) {
    const running = runningOf(name, m);
    const back = rollbackVersion(status, m);
    // A drained member not yet restored stays in the pass so it is restored before the end.
    const unrestored = m.drainIssued === true && !m.restored;
    if (atVersion(running, back) && m.state === 'pending' && !unrestored) continue;
    members[name] = {
      component: m.component,
      state: 'pending',
      from: running,
      to: back,
      since: now,
      replaceCalls: 0,
      ...(unrestored ? { drainIssued: true } : {}),
    };
  }
  status.members = members;
  status.direction = 'rollback';
  // Handed back at the end of the forward pass: the way back takes the members over again.
  if (status.custody === 'returned') status.custody = undefined;
  status.currentBatch = [];
  status.batchReadyAt = undefined;
  status.batchesSincePause = 0;
  // Hooks run again for the way back; finalized hops stay recorded (they bound the rollback).
  status.hooksDone = status.hooksDone.filter((h) => h.startsWith('finalize-hop:'));
  record(status, {
    at: now,
    type: 'control',
    message: `rollback requested: ${Object.keys(members).length} member(s) go back${floor ? ` to ${floor}, the finalized intermediate version` : ''}`,
  });
  setPhase(status, 'Running', 'rolling back to the original versions', now);
  return running(ctx);
}

function running(ctx: Ctx): Action | undefined {
  const { spec, status, now, availability, snapshot } = ctx;
  if (spec.paused) {
    record(status, { at: now, type: 'control', message: 'pause requested' });
    status.batchesSincePause = 0;
    setPhase(status, 'Paused', 'paused by user', now);
    return paused(ctx);
  }
  if (spec.rollback && status.direction === 'forward') return startRollback(ctx);
  if (availability && !availability.ok) return autoPause(ctx, availability.reason);

  const take = takeOver(ctx);
  if (take) return take;
  const beforeUpgrade = hookOnce(ctx, 'beforeUpgrade');
  if (beforeUpgrade) return beforeUpgrade;

  const a = driveInFlight(ctx);
  if (a || ctx.reason.startsWith('paused')) return a;
  if (status.phase !== 'Running') return undefined;

  // The batch in flight: start its remaining members, or wait for them.
  if (status.currentBatch.length > 0) {
    const pending = status.currentBatch.filter((n) => status.members[n]?.state === 'pending');
    const active = status.currentBatch.filter((n) => {
      const s = status.members[n]?.state;
      return s !== 'pending' && s !== 'done' && s !== 'failed';
    });
    if (pending.length > 0) return startMembers(ctx, pending);
    if (active.length > 0) return wait(ctx, ctx.reason || `waiting for ${active.join(', ')}`, ctx.requeueMs);
    return batchFinished(ctx);
  }

  // Choose the component: the first whose members are not all at their target.
  const views = memberMap(snapshot);
  for (const comp of plannedComponents(status)) {
    const target = hopTarget(status, comp);
    const names = comp.members.map((m) => m.name).concat(comp.upToDate);
    const pendingNames = names.filter((n) => {
      const p = status.members[n];
      return p !== undefined && p.state !== 'done' && p.state !== 'failed';
    });
    if (target === null) continue;
    if (pendingNames.length === 0) {
      const after = hookOnce(ctx, 'afterComponent', comp.name);
      if (after) return after;
      continue;
    }
    const before = hookOnce(ctx, 'beforeComponent', comp.name);
    if (before) return before;
    if (status.direction === 'forward') {
      // A prerequisite with members given up on will not get better by waiting: ask a human.
      const failedPre = comp.prerequisites.flatMap((c) => failedMembers(status, c));
      if (failedPre.length > 0) {
        return autoPause(
          ctx,
          `${comp.name} waits for ${comp.prerequisites.join(', ')}, where ${failedPre.join(', ')} failed; fix them and resume (they are tried again)`,
        );
      }
      const targets: Record<string, string> = {};
      for (const c of plannedComponents(status)) {
        const t = hopTarget(status, c);
        if (t !== null) targets[c.name] = t;
      }
      const pre = prerequisitesVerdict(comp.name, comp.prerequisites, snapshot.members, targets);
      if (!pre.allow) return block(ctx, pre.check, pre.reason);
    }
    return startBatch(ctx, comp, target, pendingNames, views);
  }
  return passFinished(ctx);
}

/**
 * Take the members over from their owner before anything else moves, when the plan lists that
 * step and some member still has to be replaced in this pass.
 */
function takeOver(ctx: Ctx): Action | undefined {
  const { status } = ctx;
  if (!status.plan?.custody || status.custody === 'held') return undefined;
  const work = Object.values(status.members).some((m) => m.state !== 'done' && m.state !== 'failed');
  if (!work) return undefined;
  return act(ctx, { kind: 'takeOver' }, `take over: ${status.plan.custody.takeOver}`);
}

/**
 * Hand the members back to their owner once the pass is over, when they were taken over. A
 * hand-back that found the workload not at rest is tried again after a poll; past the ready
 * timeout a cancel ends with the members still held (the reason recorded), anything else pauses.
 */
function handBack(ctx: Ctx): Action | undefined {
  const { status, spec, now } = ctx;
  if (status.custody !== 'held') return undefined;
  const w = status.handBackWait;
  if (w) {
    const limit = spec.strategy.timeouts.readySeconds * 1000;
    if (now - w.since >= limit) {
      const cause = `hand-back not possible after ${formatDuration(limit)}: ${w.reason}`;
      if (!spec.cancel) return autoPause(ctx, `${cause}; resume to try again`);
      status.custody = undefined;
      status.handBackWait = undefined;
      record(status, { at: now, type: 'error', message: `${cause}; the members stay held` });
      return undefined;
    }
    if (now - w.at < POLL_MS) return wait(ctx, `waiting to hand back: ${w.reason}`, POLL_MS - (now - w.at));
  }
  return act(
    ctx,
    { kind: 'handBack' },
    `hand back: ${status.plan?.custody?.handBack ?? describeAction({ kind: 'handBack' })}`,
  );
}

function hookOnce(ctx: Ctx, hook: string, component?: string): Action | undefined {
  const { status, rules } = ctx;
  if (!rules.hooks.includes(hook)) return undefined;
  const key = component ? `${hook}:${component}` : hook;
  if (status.hooksDone.includes(key)) return undefined;
  return act(ctx, { kind: 'hook', hook, component });
}

function startBatch(
  ctx: Ctx,
  comp: PlannedComponent,
  target: string,
  pendingNames: string[],
  views: Map<string, MemberView>,
): Action | undefined {
  const { status, spec, snapshot, rules, now } = ctx;
  const rule = componentRule(rules, comp.name);
  const compMembers = snapshot.members.filter((m) => m.component === comp.name);
  const candidates = orderMembers(
    compMembers.filter((m) => pendingNames.includes(m.name)),
    rule.topology,
  ).map((o) => o.member.name);
  // Members already at the target need no restart: mark them done without touching them.
  for (const name of candidates) {
    const p = status.members[name]!;
    if (p.state === 'pending' && converged(views.get(name), p.to)) {
      setMemberState(status, name, 'done', now, `${name} already runs ${p.to}`);
    }
  }
  const remaining = candidates.filter((n) => status.members[n]!.state !== 'done');
  if (remaining.length === 0) return wait(ctx, `${comp.name}: every member already at ${target}`, 0);

  // Each component is its own pool: exponential sizing starts again at 1 (a canary of one).
  const previous = Object.values(status.members).find((m) => m.batch === status.batchesStarted);
  if (previous && previous.component !== comp.name) status.batchesSincePause = 0;
  const policy = componentBatchPolicy(rule, spec);
  const size = batchSize(policy, compMembers.length, status.batchesSincePause);
  const budget = componentBudget(ctx, policy, compMembers.length);
  // The same choice the plan made: in safe order, each member only if every check still allows the
  // batch with it; in a node pool a member refused (database members hosted together) waits for a
  // later batch instead of ending this one.
  const { batch, denial } = chooseBatch(
    remaining,
    size,
    (trial) =>
      firstDenial([
        budgetVerdict(compMembers, trial, budget),
        quorumVerdict(compMembers, trial, rule),
        inSyncCopyVerdict(compMembers, trial, rule),
        hostedQuorumVerdict(snapshot.members, trial),
      ]),
    rule.topology === 'stateless',
  );
  if (batch.length === 0) {
    const d = denial ?? { check: 'unavailability-budget', reason: 'no member can be stopped now' };
    return block(ctx, d.check, d.reason);
  }

  // Supervised: wait for a human before the leader/primary goes.
  if (spec.supervised) {
    const leader = batch.find(
      (n) => holdsLeadership(views.get(n)) && isLeaderRole(views.get(n)?.engine?.role),
    );
    if (leader && !(status.supervisedPassed ?? []).includes(leader)) {
      status.supervisedGate = leader;
      return autoPause(
        ctx,
        `supervised: approve the ${views.get(leader)?.engine?.role} step for ${leader} with \`baton resume\``,
      );
    }
  }

  status.batchesStarted += 1;
  status.batchesSincePause += 1;
  status.currentBatch = batch;
  status.batchReadyAt = undefined;
  for (const n of batch) status.members[n]!.batch = status.batchesStarted;
  const phrase = progressPhrase(ctx, comp.name, batch.length);
  record(status, {
    at: now,
    type: 'step',
    // A rollback takes each member back to its own original version, not to the hop's target.
    message: `batch ${status.batchesStarted} of ${comp.name}: ${batch.join(', ')} (to ${[...new Set(batch.map((n) => status.members[n]!.to))].join(', ')})${phrase ? `: ${phrase}` : ''}`,
  });
  return startMembers(ctx, batch);
}

/**
 * The engine's words for the batch about to start (`rules.describeProgress`): "control plane node 2
 * of 3" for its first member, undefined when the engine has none.
 */
function progressPhrase(ctx: Ctx, component: string, starting: number): string | undefined {
  const describe = ctx.rules.describeProgress;
  if (!describe) return undefined;
  const own = Object.values(ctx.status.members).filter((m) => m.component === component);
  const done = own.filter((m) => m.state === 'done').length;
  return describe(component, Math.min(own.length, done + Math.max(1, starting)), done, own.length);
}

/**
 * The unavailability budget of a component: the spec's maxUnavailable, and for engines whose budget
 * is the batch cap (node pools: 10%) no more than the largest batch its policy makes.
 */
function componentBudget(ctx: Ctx, policy: BatchPolicy, memberCount: number): number {
  const max = ctx.spec.strategy.maxUnavailable;
  return ctx.rules.steps?.budgetFromBatch ? Math.min(max, largestBatch(policy, memberCount)) : max;
}

/** Start `names` (pending members of the batch): all of them for batchTogether engines, else the first. */
function startMembers(ctx: Ctx, names: string[]): Action | undefined {
  if (!together(ctx)) return startMember(ctx, names[0]!);
  let first: Action | undefined;
  for (const name of names) {
    // A member that may not start now (blocked) waits for the next decision, as do those after it.
    const a = startMember(ctx, name);
    if (!a) break;
    if (first) ctx.more.push(a);
    else first = a;
  }
  if (first) ctx.status.blockedBy = undefined;
  return first;
}

function startMember(ctx: Ctx, name: string): Action | undefined {
  const { status, snapshot, spec, rules, now } = ctx;
  const p = status.members[name]!;
  const views = memberMap(snapshot);
  const view = views.get(name);
  const compMembers = snapshot.members.filter((m) => m.component === p.component);
  const rule = componentRule(rules, p.component);

  // Re-check the budget: others may have become unavailable since the batch was chosen.
  const others = status.currentBatch.filter((n) => {
    const s = status.members[n]?.state;
    return n !== name && (s === 'draining' || s === 'replacing' || s === 'verifying');
  });
  const limit = componentBudget(ctx, componentBatchPolicy(rule, spec), compMembers.length);
  const budget = budgetVerdict(compMembers, [...others, name], limit);
  if (!budget.allow) return block(ctx, budget.check, budget.reason);
  const quorum = quorumVerdict(compMembers, [...others, name], rule);
  if (!quorum.allow) return block(ctx, quorum.check, quorum.reason);

  if (rules.steps?.evacuate) {
    // Every member is emptied first (a node cordoned and its pods evicted), leader or not.
    setMemberState(status, name, 'draining', now, `${name}: draining`);
    p.drainIssued = false;
    return act(ctx, { kind: 'drain', member: name, evacuate: true });
  }
  if (holdsLeadership(view) && compMembers.length > 1) {
    const lv = leadershipVerdict(view!, compMembers, { exclude: status.currentBatch, targetVersion: p.to });
    if (!lv.allow) return block(ctx, lv.check, lv.reason);
    setMemberState(status, name, 'draining', now, `${name}: ${lv.reason}`);
    p.drainIssued = false;
    if (view?.engine?.leaderCount !== undefined) p.leadersBefore = view.engine.leaderCount;
    p.drainTarget = lv.target?.name;
    return act(
      ctx,
      { kind: 'drain', member: name, target: lv.target?.name },
      `move leadership away from ${name}: ${lv.reason}`,
    );
  }
  setMemberState(status, name, 'replacing', now, `${name}: replacing with ${p.to}`);
  p.replaceCalls += 1;
  return act(ctx, { kind: 'replace', member: name, version: p.to });
}

/** Advance members already in flight. Returns an action, or undefined having set a wait reason. */
function driveInFlight(ctx: Ctx): Action | undefined {
  const acc: InFlight = {
    views: memberMap(ctx.snapshot),
    waits: [],
    nextLook: MAX_PREDICTED_WAIT_MS,
    paused: false,
  };
  const actions: Action[] = [];
  for (const [name, p] of Object.entries(ctx.status.members)) {
    const a = driveMember(ctx, name, p, acc);
    // A pause decided for one member stops the others too (their intents stay in the status).
    if (acc.paused) return undefined;
    if (!a) continue;
    if (!together(ctx)) return a;
    actions.push(a);
  }
  if (actions.length > 0) {
    ctx.more.push(...actions.slice(1));
    return actions[0];
  }
  // Look again when the slowest-expected wait is likely over, not on every poll.
  if (acc.waits.length > 0) return wait(ctx, `waiting: ${acc.waits.join('; ')}`, acc.nextLook);
  return undefined;
}

/** What driving the members in flight gathered: their waits, when to look again, a pause. */
interface InFlight {
  views: Map<string, MemberView>;
  waits: string[];
  nextLook: number;
  paused: boolean;
}

/**
 * Member `name` failed (not ready in time, a failed upgrade Job, a drain given up): while the spec
 * allows more failed members it is left aside (state `failed`, cause kept, a drained member stays
 * drained for a human) and the upgrade goes on; otherwise the upgrade pauses with the cause. A
 * `giveUp` always leaves the member aside, and pauses only past the allowance.
 */
function memberFailure(ctx: Ctx, name: string, cause: string, acc: InFlight, giveUp = false): undefined {
  const { status, now } = ctx;
  const max = ctx.spec.strategy.maxFailedMembers ?? 0;
  const count = failedMembers(status).length + 1;
  if (count <= max || giveUp) {
    const p = status.members[name]!;
    p.lastError = cause;
    setMemberState(status, name, 'failed', now, `${name} failed and is left for a human: ${cause}`);
    record(status, { at: now, type: 'error', member: name, message: cause });
    if (count <= max) return undefined;
  }
  acc.paused = true;
  return autoPause(ctx, max > 0 ? `${cause} (${count} failed members, more than the ${max} allowed)` : cause);
}

/** Delay before an evacuating member is drained again: the engine's first delay, doubling. */
function redrainDelay(ctx: Ctx, calls: number): number {
  const e = ctx.rules.steps?.evacuate;
  if (!e) return Infinity;
  return Math.min(e.maxRedrainMs, e.redrainMs * 2 ** Math.max(0, Math.min(calls - 1, 20)));
}

function driveMember(ctx: Ctx, name: string, p: MemberProgress, acc: InFlight): Action | undefined {
  const { status, spec, rules, now } = ctx;
  const view = acc.views.get(name);
  const steps = rules.steps ?? {};
  if (p.state === 'draining') return driveDrain(ctx, name, p, view, acc);
  if (p.state === 'replacing') {
    if (view && atVersion(view.version, p.to) && p.replaceIssued) {
      setMemberState(
        status,
        name,
        'verifying',
        now,
        `${name}: now running ${p.to}; waiting until ready and caught up`,
      );
      return undefined;
    }
    if (!p.replaceIssued) {
      // A replacement that failed paused the upgrade: try it again on resume, not on every poll.
      if (p.lastError && status.phase === 'Paused') {
        acc.waits.push(`${name}: replacement failed (${p.lastError}); resume to retry`);
        return undefined;
      }
      return act(ctx, { kind: 'replace', member: name, version: p.to });
    }
    if (steps.failedWhileReplacing && view?.failed) {
      // The platform reports the replacement itself failed (a failed upgrade Job).
      return memberFailure(
        ctx,
        name,
        `${name} failed while being upgraded to ${p.to}: ${view.detail ?? 'the platform reports a failure'}`,
        acc,
      );
    }
    const limit = spec.strategy.timeouts.readySeconds * 1000;
    if (now - p.since >= limit) {
      return memberFailure(
        ctx,
        name,
        `${name} did not start ${p.to} within ${formatDuration(limit)}: ${view?.detail ?? 'still on ' + (view?.version ?? 'unknown')}`,
        acc,
      );
    }
    acc.waits.push(`${name} is being replaced with ${p.to}`);
    acc.nextLook = Math.min(acc.nextLook, expectedWait(ctx, 'replace', now - p.since));
    return undefined;
  }
  if (p.state !== 'verifying') return undefined;
  if (view?.failed) {
    // The platform reports a failure (process exited, CrashLoopBackOff): no point waiting it out.
    return memberFailure(
      ctx,
      name,
      `${name} failed on ${p.to}: ${view.detail ?? 'the platform reports a failure'}`,
      acc,
    );
  }
  const back = !!view && view.ready && atVersion(view.version, p.to);
  if (!p.restored && p.drainIssued && (converged(view, p.to) || (steps.restoreWhenReady && back))) {
    // Undo what the drain prepared (TiKV evict-leader scheduler, CockroachDB lease preferences, a
    // node's cordon). Idempotent; a member never drained has nothing to undo.
    return act(ctx, { kind: 'restore', member: name });
  }
  if (converged(view, p.to)) {
    const leadersBack = leadershipReturnWait(ctx, name, view);
    if (leadersBack) {
      acc.waits.push(leadersBack);
      acc.nextLook = Math.min(acc.nextLook, POLL_MS);
      return undefined;
    }
    setMemberState(status, name, 'done', now, `${name}: ready and caught up on ${p.to}`);
    return undefined;
  }
  const limit = spec.strategy.timeouts.readySeconds * 1000;
  const rule = componentRule(rules, p.component);
  const detail = notReadyDetail(view, p.to);
  if (now - p.since >= limit) {
    if (spec.strategy.timeouts.readyPolicy === 'proceed' && rule.topology === 'stateless') {
      setMemberState(
        status,
        name,
        'done',
        now,
        `${name}: not ready after ${formatDuration(limit)}; proceeding (policy proceed, stateless)`,
      );
      return undefined;
    }
    return memberFailure(
      ctx,
      name,
      `${name} not ready on ${p.to} after ${formatDuration(limit)}: ${detail}`,
      acc,
    );
  }
  acc.waits.push(`${name}: ${detail}`);
  acc.nextLook = Math.min(acc.nextLook, expectedWait(ctx, 'verify', now - p.since));
  return undefined;
}

/**
 * A member being drained: ask for the drain, replace it once it holds nothing, and apply the drain
 * timeout's policy. An evacuating member (a node) is drained again on a back-off while it still holds
 * something (an eviction refused with 429), and a pause lets it finish.
 */
function driveDrain(
  ctx: Ctx,
  name: string,
  p: MemberProgress,
  view: MemberView | undefined,
  acc: InFlight,
): Action | undefined {
  const { status, snapshot, spec, rules, now } = ctx;
  const evacuate = rules.steps?.evacuate !== undefined;
  if (!evacuate && (spec.paused || status.phase === 'Paused')) {
    // Not yet stopped: a pause leaves it running (leadership already moved is harmless).
    setMemberState(status, name, 'pending', now, `${name}: not started (paused)`);
    return undefined;
  }
  if (!p.drainIssued) {
    if (evacuate) return act(ctx, { kind: 'drain', member: name, evacuate: true });
    // The intent was journalled but its outcome was not (a crash): ask for the same hand-over,
    // unless the chosen member can no longer take it.
    const chosen = p.drainTarget ? acc.views.get(p.drainTarget) : undefined;
    if (chosen?.ready && chosen.engine?.healthy) {
      return act(ctx, { kind: 'drain', member: name, target: chosen.name });
    }
    const compMembers = snapshot.members.filter((m) => m.component === p.component);
    const lv = view
      ? leadershipVerdict(view, compMembers, { exclude: status.currentBatch, targetVersion: p.to })
      : undefined;
    p.drainTarget = lv?.target?.name;
    return act(ctx, { kind: 'drain', member: name, target: lv?.target?.name });
  }
  if (!holdsLeadership(view)) {
    const moved = p.leadershipMovedTo ? ` (now held by ${p.leadershipMovedTo})` : '';
    const what = evacuate ? 'drained' : `leadership moved${moved}`;
    setMemberState(status, name, 'replacing', now, `${name}: ${what}; replacing with ${p.to}`);
    p.replaceCalls += 1;
    return act(ctx, { kind: 'replace', member: name, version: p.to });
  }
  if (!evacuate && view?.engine?.drainInPlace === false) {
    // The database dropped what the drain set up (PD forgot the evict-leader scheduler when
    // its leader changed): set it up again, as TiDB Operator re-adds the scheduler.
    record(status, {
      at: now,
      type: 'step',
      member: name,
      message: `${name}: the drain is no longer in place (${view.engine.detail ?? 'dropped by the database'}); draining again`,
    });
    return act(ctx, { kind: 'drain', member: name, target: p.leadershipMovedTo });
  }
  const limit = spec.strategy.timeouts.drainSeconds * 1000;
  const policy = spec.strategy.timeouts.drainPolicy;
  const timedOut = now - p.since >= limit;
  if (timedOut && !(evacuate && policy === 'delete')) {
    if (policy === 'proceed' && rules.drainTimeoutProceedSafe) {
      record(status, {
        at: now,
        type: 'step',
        member: name,
        message: `${name}: drain timed out after ${formatDuration(limit)}; proceeding (policy proceed)`,
      });
      setMemberState(status, name, 'replacing', now, `${name}: replacing with ${p.to} while still leading`);
      p.replaceCalls += 1;
      return act(ctx, { kind: 'replace', member: name, version: p.to });
    }
    const what = evacuate ? `draining ${name}` : `moving leadership away from ${name}`;
    const cause = `${what} timed out after ${formatDuration(limit)}: ${view?.engine?.detail ?? 'it still holds leadership'}`;
    if (evacuate && policy === 'give-up') {
      return memberFailure(
        ctx,
        name,
        `${cause}; gave up on it (policy give-up), it stays cordoned`,
        acc,
        true,
      );
    }
    setMemberState(status, name, 'pending', now, `${name}: drain timed out`);
    acc.paused = true;
    return autoPause(ctx, cause);
  }
  // Past the timeout with policy delete, drain again at once (deleting what eviction cannot move).
  const deleteNow = timedOut && (p.drainedAt ?? p.since) < p.since + limit;
  if (evacuate && (deleteNow || now - (p.drainedAt ?? p.since) >= redrainDelay(ctx, p.drainCalls ?? 1))) {
    return act(ctx, { kind: 'drain', member: name, evacuate: true, ...(timedOut ? { timedOut } : {}) });
  }
  if (evacuate) {
    acc.waits.push(`${name}: ${view?.engine?.detail ?? 'still being drained'}`);
    const due = (p.drainedAt ?? p.since) + redrainDelay(ctx, p.drainCalls ?? 1) - now;
    acc.nextLook = Math.min(acc.nextLook, Math.max(POLL_MS, due));
    return undefined;
  }
  acc.waits.push(
    `${name} still holds leadership${p.leadershipMovedTo ? `; moving to ${p.leadershipMovedTo}` : ''}`,
  );
  acc.nextLook = Math.min(acc.nextLook, expectedWait(ctx, 'drain', now - p.since));
  return undefined;
}

/**
 * The wait for a restored member to lead again (`rules.leadershipReturn`), or undefined when it
 * need not wait: no rule, nothing recorded before its drain, fewer leaderships than the rule's
 * minimum, enough of them back, or the rule's time is up (recorded in history, then it goes on).
 */
function leadershipReturnWait(ctx: Ctx, name: string, view: MemberView | undefined): string | undefined {
  const { status, rules, now } = ctx;
  const rule = rules.leadershipReturn;
  const p = status.members[name]!;
  if (!rule || !p.restored || p.leadersBefore === undefined || p.leadersBefore < rule.minimum)
    return undefined;
  const need = Math.floor(p.leadersBefore * rule.fraction);
  const held = view?.engine?.leaderCount ?? 0;
  if (held >= need) {
    record(status, {
      at: now,
      type: 'step',
      member: name,
      message: `${name} leads ${held} again (needed ${need} of the ${p.leadersBefore} it led before its drain)`,
    });
    return undefined;
  }
  const limit = rule.timeoutSeconds * 1000;
  if (now - (p.restoredAt ?? p.since) >= limit) {
    record(status, {
      at: now,
      type: 'step',
      member: name,
      message: `${name} leads ${held} of the ${need} expected after ${formatDuration(limit)}; going on`,
    });
    return undefined;
  }
  return `${name} leads ${held} again; waiting for ${need} (${rule.fraction.toFixed(2)} of ${p.leadersBefore} before its drain)`;
}

/** Longest a predicted wait may defer the next look. */
export const MAX_PREDICTED_WAIT_MS = 10_000;

/**
 * Delay until the next observation of a member `elapsed` ms into a step of `kind`: 90% of the time
 * the fastest recent member still needed, never less than the poll interval (and just the poll
 * interval before any member was timed). Looking early only costs a poll; looking late would cost
 * upgrade time, so the prediction errs early.
 */
function expectedWait(ctx: Ctx, kind: StepKind, elapsed: number): number {
  const seen = ctx.status.stepDurations[kind]?.slice(-10) ?? [];
  if (seen.length === 0) return POLL_MS;
  const remaining = (Math.min(...seen) - elapsed) * 0.9;
  return Math.round(Math.max(POLL_MS, Math.min(MAX_PREDICTED_WAIT_MS, remaining)));
}

function notReadyDetail(view: MemberView | undefined, version: string): string {
  if (!view) return 'member not found';
  if (!view.running) return `not running${view.detail ? ` (${view.detail})` : ''}`;
  if (!atVersion(view.version, version)) return `still on ${view.version}`;
  if (!view.ready) return `not ready${view.detail ? ` (${view.detail})` : ''}`;
  if (!view.engine) return 'database not reachable yet';
  if (!view.engine.healthy)
    return `database reports unhealthy${view.engine.detail ? `: ${view.engine.detail}` : ''}`;
  if (!view.engine.caughtUp)
    return `catching up (lag ${view.engine.lag}${view.engine.detail ? `, ${view.engine.detail}` : ''})`;
  return 'converging';
}

function batchFinished(ctx: Ctx): Action | undefined {
  const { status, spec, now } = ctx;
  status.batchReadyAt ??= now;
  const soak = spec.strategy.soakSeconds * 1000;
  if (now - status.batchReadyAt < soak) {
    return wait(
      ctx,
      `soaking batch ${status.batchesStarted} for ${formatDuration(soak)}`,
      soak - (now - status.batchReadyAt),
    );
  }
  const batchNo = status.batchesStarted;
  if (status.batchReadyAt !== undefined && soak > 0) {
    record(status, { at: now, type: 'step', message: `batch ${batchNo} soaked ${formatDuration(soak)}` });
  }
  status.currentBatch = [];
  status.batchReadyAt = undefined;
  const more = Object.values(status.members).some((m) => m.state !== 'done' && m.state !== 'failed');
  if (more && (spec.strategy.pauseAfterEachBatch || (spec.strategy.pauseAfterFirstBatch && batchNo === 1))) {
    status.batchGate = batchNo;
    return autoPause(ctx, `batch ${batchNo} done; pausing as configured (resume with \`baton resume\`)`);
  }
  // Nothing to wait for: choose the next batch in this same decision.
  ctx.reason = `batch ${batchNo} done`;
  return running(ctx);
}

/**
 * A member drained (leaderships kept away from it) that a pass left without a restart and a
 * restore (drain timed out, cancelled, or already at the version): restore it before the pass ends.
 */
function restoreLeftover(ctx: Ctx): Action | undefined {
  for (const [name, p] of Object.entries(ctx.status.members)) {
    if (p.drainIssued && !p.restored && (p.state === 'pending' || p.state === 'done')) {
      return act(
        ctx,
        { kind: 'restore', member: name },
        `restore ${name}: drained but not restarted in this pass`,
      );
    }
  }
  return undefined;
}

function passFinished(ctx: Ctx): Action | undefined {
  const { status, spec, now } = ctx;
  const leftover = restoreLeftover(ctx);
  if (leftover) return leftover;
  const failed = failedMembers(status);
  if (failed.length > 0) {
    const causes = failed.map((n) => `${n} (${status.members[n]?.lastError ?? 'failed'})`);
    return autoPause(
      ctx,
      `every other member is done; failed and left for a human: ${causes.join(', ')}; fix them and resume (they are tried again), or cancel`,
    );
  }
  const path = status.plan?.path ?? [];
  const hop = path[status.hop];
  if (status.direction === 'forward' && hop && status.hop < path.length - 1) {
    // Intermediate hop: finalize it when the engine needs that before the next, then roll again.
    const key = `finalize-hop:${status.hop}`;
    if (hop.finalize && !status.hooksDone.includes(key))
      return act(ctx, { kind: 'finalize' }, `finalize intermediate hop ${hop.from} -> ${hop.to}`);
    // The next hop starts on a healthy cluster (CockroachDB: the finalization's migrations done).
    const unhealthy = healthGate(ctx);
    if (unhealthy !== false) return unhealthy;
    status.hop += 1;
    const nextHop = path[status.hop]!;
    for (const [name, p] of Object.entries(status.members)) {
      const to = hopTargetForMember(status, p.component);
      status.members[name] = {
        ...p,
        // A component that stays in this hop (a node pool within the skew) is done as it is.
        state: to === null ? 'done' : 'pending',
        to: to ?? p.to,
        since: now,
        replaceCalls: 0,
        drainIssued: undefined,
        drainCalls: undefined,
        drainedAt: undefined,
        replaceIssued: undefined,
        restored: undefined,
        finishedAt: to === null ? now : undefined,
      };
    }
    // beforeUpgrade runs again for the new hop (CockroachDB preserves the hop's starting major).
    status.hooksDone = status.hooksDone.filter((h) => h.startsWith('finalize-hop:'));
    status.batchesSincePause = 0;
    record(status, {
      at: now,
      type: 'step',
      message: `hop ${status.hop + 1} of ${path.length}: ${nextHop.from} -> ${nextHop.to}`,
    });
    return wait(ctx, `starting hop ${status.hop + 1} of ${path.length} (${nextHop.to})`, 0);
  }
  const back = handBack(ctx);
  if (back || status.custody === 'held') return back;
  const after = hookOnce(ctx, 'afterUpgrade');
  if (after) return after;
  if (status.direction === 'rollback') {
    const floor = finalizedFloor(status);
    const reason = floor
      ? `rolled back to ${floor}, the finalized intermediate version`
      : 'rolled back: every member runs its original version';
    setPhase(status, 'Completed', reason, now);
    return wait(ctx, status.reason, 0);
  }
  if (status.plan?.finalization && !status.finalized) {
    if (spec.finalize === 'auto' || spec.finalizeRequested) return act(ctx, { kind: 'finalize' });
    setPhase(
      status,
      'AwaitingFinalization',
      'every member runs the target version; waiting for `baton finalize`',
      now,
    );
    return wait(ctx, status.reason, 0);
  }
  const unhealthy = healthGate(ctx);
  if (unhealthy !== false) return unhealthy;
  setPhase(
    status,
    'Completed',
    status.finalized
      ? 'upgrade finalized: rollback is no longer possible'
      : `upgrade complete: every member runs its target version`,
    now,
  );
  return wait(ctx, status.reason, 0);
}

/**
 * The last gate before Completed: the database as a whole reports healthy (every member caught
 * up is necessary but not sufficient: a standby may still be reconnecting). Waits, then pauses
 * after the ready timeout. Returns false when healthy.
 */
function healthGate(ctx: Ctx): undefined | false {
  const { snapshot, status, spec, now } = ctx;
  if (snapshot.health.healthy) {
    if (status.blockedBy?.check === 'cluster-health') status.blockedBy = undefined;
    return false;
  }
  const since = status.blockedBy?.check === 'cluster-health' ? status.blockedBy.since : now;
  const limit = spec.strategy.timeouts.readySeconds * 1000;
  if (now - since >= limit) {
    return autoPause(
      ctx,
      `every member is upgraded but the cluster is not healthy after ${formatDuration(limit)}: ${snapshot.health.detail}`,
    );
  }
  return block(
    ctx,
    'cluster-health',
    `every member is upgraded; waiting for the cluster to report healthy: ${snapshot.health.detail}`,
  );
}

/** A member's target in the current hop; `null` when its component stays where it is. */
function hopTargetForMember(status: UpgradeStatus, component: string): string | null {
  const comp = plannedComponents(status).find((c) => c.name === component);
  return comp ? hopTarget(status, comp) : (status.plan?.to ?? '');
}

/** Members given up on in this pass (of `component` only, when given), by name. */
function failedMembers(status: UpgradeStatus, component?: string): string[] {
  return Object.entries(status.members)
    .filter(([, m]) => m.state === 'failed' && (component === undefined || m.component === component))
    .map(([n]) => n);
}

/**
 * Fold the outcome of an action into the status. Pure. Errors that are transient are retried a
 * bounded number of times; any other error pauses the upgrade with the cause recorded.
 */
export function applyOutcome(
  input: { spec: UpgradeSpec; status: UpgradeStatus; now: number },
  action: Action,
  outcome: Outcome,
): UpgradeStatus {
  const status = structuredClone(input.status);
  const { now, spec } = input;
  status.updatedAt = now;
  const key = actionKey(action);
  if (!outcome.ok) {
    const msg = `${describeAction(action)} failed: ${describeError(outcome.error)}`;
    const count = status.retry?.key === key ? status.retry.count + 1 : 1;
    if (outcome.retryable && count < MAX_ACTION_ATTEMPTS) {
      status.retry = { key, count, lastError: msg };
      status.reason = `retrying (${count}/${MAX_ACTION_ATTEMPTS - 1}): ${msg}`;
      record(status, { at: now, type: 'error', message: status.reason, member: memberOf(action) });
      return status;
    }
    status.retry = undefined;
    record(status, { at: now, type: 'error', message: msg, member: memberOf(action) });
    if (action.kind === 'precheck') {
      status.prechecksAt = now;
      status.prechecksGeneration = spec.generation;
      status.blockedBy = blockedSince(status, 'precheck:error', msg, now);
      status.reason = msg;
      return status;
    }
    const failed = memberOf(action);
    if (failed && status.members[failed]) status.members[failed]!.lastError = describeError(outcome.error);
    status.pauseCause = msg;
    status.pausedGeneration = spec.generation;
    status.batchesSincePause = 0;
    setPhase(status, 'Paused', `paused: ${msg}`, now);
    return status;
  }
  status.retry = undefined;
  switch (action.kind) {
    case 'precheck': {
      status.prechecksAt = now;
      status.prechecksGeneration = spec.generation;
      const results = applyForce(outcome.prechecks ?? [], spec.force);
      status.prechecks = results;
      const forced = results.filter((r) => r.forced).map((r) => r.name);
      for (const f of forced) {
        if (!status.forced.includes(f)) {
          status.forced.push(f);
          record(status, {
            at: now,
            type: 'force',
            message: `precheck ${f} failed but is forced: ${results.find((r) => r.name === f)?.reason}`,
          });
        }
      }
      const failing = results.filter((r) => !r.ok && !r.forced);
      for (const r of results) {
        record(status, {
          at: now,
          type: 'step',
          message: `precheck ${r.name}: ${r.ok ? 'ok' : r.forced ? 'FAILED (forced)' : 'FAILED'}: ${r.reason}`,
        });
      }
      if (failing.length > 0) {
        const first = failing[0]!;
        status.blockedBy = blockedSince(status, `precheck:${first.name}`, first.reason, now);
        status.reason = `blocked by precheck ${first.name}: ${first.reason}${failing.length > 1 ? ` (+${failing.length - 1} more)` : ''}`;
      } else {
        status.blockedBy = undefined;
        if (status.phase === 'Prechecking')
          setPhase(status, 'Running', 'prechecks passed; upgrade running', now);
      }
      return status;
    }
    case 'hook': {
      const k = action.component ? `${action.hook}:${action.component}` : action.hook;
      if (!status.hooksDone.includes(k)) status.hooksDone.push(k);
      record(status, { at: now, type: 'step', message: outcome.message ?? describeAction(action) });
      return status;
    }
    case 'takeOver': {
      status.custody = 'held';
      record(status, { at: now, type: 'step', message: outcome.message ?? describeAction(action) });
      return status;
    }
    case 'handBack': {
      if (outcome.notYet !== undefined) {
        status.handBackWait = { since: status.handBackWait?.since ?? now, at: now, reason: outcome.notYet };
        status.reason = `waiting to hand back: ${outcome.notYet}`;
        return status;
      }
      status.custody = 'returned';
      status.handBackWait = undefined;
      record(status, { at: now, type: 'step', message: outcome.message ?? describeAction(action) });
      return status;
    }
    case 'drain': {
      const p = status.members[action.member];
      if (p) {
        p.drainIssued = true;
        p.leadershipMovedTo = outcome.movedTo ?? action.target;
        if (action.evacuate) {
          p.drainCalls = (p.drainCalls ?? 0) + 1;
          p.drainedAt = now;
        }
      }
      record(status, {
        at: now,
        type: 'step',
        member: action.member,
        message: outcome.message ?? describeAction(action),
      });
      return status;
    }
    case 'replace': {
      const p = status.members[action.member];
      if (p) p.replaceIssued = true;
      return status;
    }
    case 'restore': {
      const p = status.members[action.member];
      if (p) {
        p.restored = true;
        p.restoredAt = now;
      }
      return status;
    }
    case 'finalize': {
      const path = status.plan?.path ?? [];
      if (status.hop < path.length - 1) {
        status.hooksDone.push(`finalize-hop:${status.hop}`);
        record(status, {
          at: now,
          type: 'step',
          message: outcome.message ?? `finalized hop to ${path[status.hop]?.to}`,
        });
        return status;
      }
      // Completed once the cluster reports healthy again (CockroachDB runs its migrations now).
      status.finalized = true;
      record(status, { at: now, type: 'step', message: outcome.message ?? 'finalized' });
      if (status.phase !== 'Running')
        setPhase(status, 'Running', 'finalized; waiting for the cluster to report healthy', now);
      return status;
    }
  }
}

/** A block by `check`, keeping the time it started when the same check already blocked. */
function blockedSince(status: UpgradeStatus, check: string, reason: string, now: number) {
  return { check, reason, since: status.blockedBy?.check === check ? status.blockedBy.since : now };
}

function memberOf(a: Action): string | undefined {
  return 'member' in a ? a.member : undefined;
}

/** "90s", "15m", "2h", "15d". */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}
