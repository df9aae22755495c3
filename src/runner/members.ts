/**
 * Per-member steps: members in flight are driven from the state the journal holds for them
 * (`draining -> replacing -> verifying -> done`, or `failed`) and what the snapshot shows, one
 * step each: re-issue an intent whose outcome was not recorded, replace a member that holds
 * nothing any more, restore what its drain prepared, mark it done, or give up on it past its
 * timeout.
 */
import type { MemberProgress, MemberView, StepKind } from '../core/types.js';
import { atVersion } from '../core/version.js';
import { holdsLeadership } from '../plan/order.js';
import { componentRule } from '../plan/plan.js';
import { leadershipVerdict } from '../plan/safety.js';
import {
  type ActStep,
  act,
  converged,
  failedMembers,
  MAX_PREDICTED_WAIT_MS,
  pause,
  type PauseStep,
  POLL_MS,
  replacedAlready,
  type Step,
  together,
  type Turn,
  wait,
} from './decision.js';
import { formatDuration, notReadyDetail } from './describe.js';
import { record, setMemberState } from './status.js';

/** What driving one member gives: actions to perform, or a pause that stops every member. */
type MemberStep = ActStep | PauseStep;

/** The waits gathered while driving the members in flight, and when to look again. */
interface Waits {
  reasons: string[];
  nextLook: number;
}

/**
 * Advance the members in flight. An action (every member's, for batchTogether engines), a pause
 * one of them caused (it stops the others too; their intents stay in the status), a wait for them
 * with the time the slowest-expected of them is likely done, or undefined when none is in flight.
 */
export function driveInFlight(t: Turn): Step | undefined {
  const waits: Waits = { reasons: [], nextLook: MAX_PREDICTED_WAIT_MS };
  const steps: ActStep[] = [];
  for (const [name, p] of Object.entries(t.status.members)) {
    const s = driveMember(t, name, p, waits);
    if (!s) continue;
    if (s.kind === 'pause') return s;
    if (!together(t)) return s;
    steps.push(s);
  }
  if (steps.length === 1) return steps[0];
  if (steps.length > 1) {
    const [first, ...rest] = steps.flatMap((s) => s.actions);
    return { kind: 'act', actions: [first!, ...rest] };
  }
  // Look again when the slowest-expected wait is likely over, not on every poll.
  if (waits.reasons.length > 0) return wait(t, `waiting: ${waits.reasons.join('; ')}`, waits.nextLook);
  return undefined;
}

/** Read through a call: a step may have moved the member on since `p.state` was last tested. */
const verifying = (p: MemberProgress) => p.state === 'verifying';

function driveMember(t: Turn, name: string, p: MemberProgress, waits: Waits): MemberStep | undefined {
  const view = t.views.get(name);
  // A member that reaches `verifying` is verified in the same decision (its restore, or done), not
  // on the next look: with hundreds of nodes in a batch, a look costs a journal write.
  if (p.state === 'draining') {
    const s = driveDrain(t, name, p, view, waits);
    if (s || !verifying(p)) return s;
  }
  if (p.state === 'replacing') {
    const s = driveReplacing(t, name, p, view, waits);
    if (s || !verifying(p)) return s;
  }
  if (p.state === 'verifying') return driveVerifying(t, name, p, view, waits);
  return undefined;
}

/**
 * Member `name` failed (not ready in time, a failed upgrade Job, a drain given up): while the spec
 * allows more failed members it is left aside (state `failed`, cause kept, a drained member stays
 * drained for a human) and the upgrade goes on; otherwise the upgrade pauses with the cause. A
 * `giveUp` always leaves the member aside, and pauses only past the allowance.
 */
function memberFailure(t: Turn, name: string, cause: string, giveUp = false): MemberStep | undefined {
  const { status, now } = t;
  const max = t.spec.strategy.maxFailedMembers ?? 0;
  const count = failedMembers(status).length + 1;
  if (count <= max || giveUp) {
    status.members[name]!.lastError = cause;
    setMemberState(status, name, 'failed', now, `${name} failed and is left for a human: ${cause}`);
    record(status, { at: now, type: 'error', member: name, message: cause });
    if (count <= max) return undefined;
  }
  return pause(t, max > 0 ? `${cause} (${count} failed members, more than the ${max} allowed)` : cause);
}

/** A member whose replacement was asked for: verify it once it runs the target. */
function driveReplacing(
  t: Turn,
  name: string,
  p: MemberProgress,
  view: MemberView | undefined,
  waits: Waits,
): MemberStep | undefined {
  const { status, spec, rules, now } = t;
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
      waits.reasons.push(`${name}: replacement failed (${p.lastError}); resume to retry`);
      return undefined;
    }
    return act(t, { kind: 'replace', member: name, version: p.to });
  }
  if (rules.steps?.failedWhileReplacing && view?.failed) {
    // The platform reports the replacement itself failed (a failed upgrade Job).
    const detail = view.detail ?? 'the platform reports a failure';
    return memberFailure(t, name, `${name} failed while being upgraded to ${p.to}: ${detail}`);
  }
  const limit = spec.strategy.timeouts.readySeconds * 1000;
  if (now - p.since >= limit) {
    const detail = view?.detail ?? 'still on ' + (view?.version ?? 'unknown');
    return memberFailure(t, name, `${name} did not start ${p.to} within ${formatDuration(limit)}: ${detail}`);
  }
  waits.reasons.push(`${name} is being replaced with ${p.to}`);
  waits.nextLook = Math.min(waits.nextLook, expectedWait(t, 'replace', now - p.since));
  return undefined;
}

/** A member running the target: restore what its drain prepared, then done once converged. */
function driveVerifying(
  t: Turn,
  name: string,
  p: MemberProgress,
  view: MemberView | undefined,
  waits: Waits,
): MemberStep | undefined {
  const { status, spec, rules, now } = t;
  if (view?.failed) {
    // The platform reports a failure (process exited, CrashLoopBackOff): no point waiting it out.
    const detail = view.detail ?? 'the platform reports a failure';
    return memberFailure(t, name, `${name} failed on ${p.to}: ${detail}`);
  }
  const back = !!view && view.ready && atVersion(view.version, p.to);
  if (!p.restored && p.drainIssued && (converged(view, p.to) || (rules.steps?.restoreWhenReady && back))) {
    // Undo what the drain prepared (TiKV evict-leader scheduler, CockroachDB lease preferences, a
    // node's cordon). Idempotent; a member never drained has nothing to undo.
    return act(t, { kind: 'restore', member: name });
  }
  if (converged(view, p.to)) {
    const leadersBack = leadershipReturnWait(t, name, view);
    if (leadersBack) {
      waits.reasons.push(leadersBack);
      waits.nextLook = Math.min(waits.nextLook, POLL_MS);
      return undefined;
    }
    setMemberState(status, name, 'done', now, `${name}: ready and caught up on ${p.to}`);
    return undefined;
  }
  const limit = spec.strategy.timeouts.readySeconds * 1000;
  const detail = notReadyDetail(view, p.to);
  if (now - p.since >= limit) {
    if (
      spec.strategy.timeouts.readyPolicy === 'proceed' &&
      componentRule(rules, p.component).topology === 'stateless'
    ) {
      const why = `not ready after ${formatDuration(limit)}; proceeding (policy proceed, stateless)`;
      setMemberState(status, name, 'done', now, `${name}: ${why}`);
      return undefined;
    }
    return memberFailure(t, name, `${name} not ready on ${p.to} after ${formatDuration(limit)}: ${detail}`);
  }
  waits.reasons.push(`${name}: ${detail}`);
  waits.nextLook = Math.min(waits.nextLook, expectedWait(t, 'verify', now - p.since));
  return undefined;
}

/** Delay before an evacuating member is drained again: the engine's first delay, doubling. */
function redrainDelay(t: Turn, calls: number): number {
  const e = t.rules.steps?.evacuate;
  if (!e) return Infinity;
  return Math.min(e.maxRedrainMs, e.redrainMs * 2 ** Math.max(0, Math.min(calls - 1, 20)));
}

/** Replace a drained member (counting the call) with `message` as the state's reason. */
function replaceNow(t: Turn, name: string, p: MemberProgress, message: string): MemberStep {
  setMemberState(t.status, name, 'replacing', t.now, message);
  p.replaceCalls += 1;
  return act(t, { kind: 'replace', member: name, version: p.to });
}

/**
 * A member being drained: ask for the drain, replace it once it holds nothing, and apply the drain
 * timeout's policy. An evacuating member (a node) is drained again on a back-off while it still holds
 * something (an eviction refused with 429), and a pause lets it finish.
 */
function driveDrain(
  t: Turn,
  name: string,
  p: MemberProgress,
  view: MemberView | undefined,
  waits: Waits,
): MemberStep | undefined {
  const { status, spec, rules, now } = t;
  const evacuate = rules.steps?.evacuate !== undefined;
  const replaced = replacedAlready(t, name);
  if (replaced) return replaced;
  if (!evacuate && (spec.paused || status.phase === 'Paused')) {
    // Not yet stopped: a pause leaves it running (leadership already moved is harmless).
    setMemberState(status, name, 'pending', now, `${name}: not started (paused)`);
    return undefined;
  }
  if (!p.drainIssued) {
    if (evacuate) return act(t, { kind: 'drain', member: name, evacuate: true });
    // The intent was journalled but its outcome was not (a crash): ask for the same hand-over,
    // unless the chosen member can no longer take it.
    const chosen = p.drainTarget ? t.views.get(p.drainTarget) : undefined;
    if (chosen?.ready && chosen.engine?.healthy) {
      return act(t, { kind: 'drain', member: name, target: chosen.name });
    }
    const lv = view
      ? leadershipVerdict(view, t.membersOf(p.component), {
          exclude: status.currentBatch,
          targetVersion: p.to,
        })
      : undefined;
    p.drainTarget = lv?.target?.name;
    return act(t, { kind: 'drain', member: name, target: lv?.target?.name });
  }
  if (!view || !holdsLeadership(view)) {
    const moved = p.leadershipMovedTo ? ` (now held by ${p.leadershipMovedTo})` : '';
    const what = evacuate ? 'drained' : `leadership moved${moved}`;
    return replaceNow(t, name, p, `${name}: ${what}; replacing with ${p.to}`);
  }
  if (!evacuate && view.engine?.drainInPlace === false) {
    // The database dropped what the drain set up (PD forgot the evict-leader scheduler when
    // its leader changed): set it up again, as TiDB Operator re-adds the scheduler.
    const why = view.engine.detail ?? 'dropped by the database';
    record(status, {
      at: now,
      type: 'step',
      member: name,
      message: `${name}: the drain is no longer in place (${why}); draining again`,
    });
    return act(t, { kind: 'drain', member: name, target: p.leadershipMovedTo });
  }
  const limit = spec.strategy.timeouts.drainSeconds * 1000;
  const policy = spec.strategy.timeouts.drainPolicy;
  const timedOut = now - p.since >= limit;
  if (timedOut && !(evacuate && policy === 'delete')) {
    if (policy === 'proceed' && rules.drainTimeoutProceedSafe) {
      const message = `${name}: drain timed out after ${formatDuration(limit)}; proceeding (policy proceed)`;
      record(status, { at: now, type: 'step', member: name, message });
      return replaceNow(t, name, p, `${name}: replacing with ${p.to} while still leading`);
    }
    const what = evacuate ? `draining ${name}` : `moving leadership away from ${name}`;
    const cause = `${what} timed out after ${formatDuration(limit)}: ${view.engine?.detail ?? 'it still holds leadership'}`;
    if (evacuate && policy === 'give-up') {
      return memberFailure(t, name, `${cause}; gave up on it (policy give-up), it stays cordoned`, true);
    }
    setMemberState(status, name, 'pending', now, `${name}: drain timed out`);
    return pause(t, cause);
  }
  // Past the timeout with policy delete, drain again at once (deleting what eviction cannot move).
  const deleteNow = timedOut && (p.drainedAt ?? p.since) < p.since + limit;
  const redrainAt = (p.drainedAt ?? p.since) + redrainDelay(t, p.drainCalls ?? 1);
  // A node whose every pod left is already on its way out (drainInPlace) has nothing to drain again.
  if (evacuate && (deleteNow || (now >= redrainAt && view.engine?.drainInPlace !== true))) {
    return act(t, { kind: 'drain', member: name, evacuate: true, ...(timedOut ? { timedOut } : {}) });
  }
  if (evacuate) {
    waits.reasons.push(`${name}: ${view.engine?.detail ?? 'still being drained'}`);
    waits.nextLook = Math.min(waits.nextLook, Math.max(POLL_MS, redrainAt - now));
    return undefined;
  }
  const movingTo = p.leadershipMovedTo ? `; moving to ${p.leadershipMovedTo}` : '';
  waits.reasons.push(`${name} still holds leadership${movingTo}`);
  waits.nextLook = Math.min(waits.nextLook, expectedWait(t, 'drain', now - p.since));
  return undefined;
}

/**
 * The wait for a restored member to lead again (`rules.leadershipReturn`), or undefined when it
 * need not wait: no rule, nothing recorded before its drain, fewer leaderships than the rule's
 * minimum, enough of them back, or the rule's time is up (recorded in history, then it goes on).
 */
function leadershipReturnWait(t: Turn, name: string, view: MemberView | undefined): string | undefined {
  const { status, rules, now } = t;
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

/**
 * Delay until the next observation of a member `elapsed` ms into a step of `kind`: 90% of the time
 * the fastest recent member still needed, never less than the poll interval (and just the poll
 * interval before any member was timed). Looking early only costs a poll; looking late would cost
 * upgrade time, so the prediction errs early.
 */
function expectedWait(t: Turn, kind: StepKind, elapsed: number): number {
  const seen = t.status.stepDurations[kind]?.slice(-10) ?? [];
  if (seen.length === 0) return POLL_MS;
  const remaining = (Math.min(...seen) - elapsed) * 0.9;
  return Math.round(Math.max(POLL_MS, Math.min(MAX_PREDICTED_WAIT_MS, remaining)));
}
