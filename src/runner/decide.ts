/**
 * The runner's decisions: a pure function from (spec, status, snapshot, now) to the next status,
 * at most one action (several for batchTogether engines), and a reason. No I/O, no clock, no
 * randomness. The caller persists the returned status BEFORE performing the action (the intent),
 * performs it, then folds the outcome back with {@link applyOutcome} and persists again.
 * Re-deciding after a crash from the persisted status and a fresh snapshot leads to the same or the
 * next step, never a skipped or doubled one, because every action is idempotent and every wait is
 * a re-observation.
 *
 * Each phase has its own small function returning a typed {@link Step} (starting.ts, running.ts,
 * batch.ts, members.ts, finish.ts); this file dispatches on the phase and on what holds in every
 * phase (terminal, expiry, force, cancel) and turns the step into the {@link Decision}.
 */
import type { UpgradeSpec, UpgradeStatus } from '../core/types.js';
import { isTerminal } from '../core/types.js';
import {
  type DecideInput,
  type Decision,
  failedMembers,
  finish,
  POLL_MS,
  type Step,
  stepReason,
  type Turn,
  turnOf,
  wait,
} from './decision.js';
import { describeAction, describeActions, formatDuration } from './describe.js';
import { awaitingFinalization, handBack, restoreLeftover } from './finish.js';
import { driveInFlight } from './members.js';
import { progressOf } from './progress.js';
import { paused, running } from './running.js';
import { pending, prechecking } from './starting.js';
import { noteWarnings, pruneToSummary, record, setMemberState, setPhase } from './status.js';

// The runner's entry points, for the front ends and tests (each defined in its own file).
export type { Action, Availability, DecideInput, Decision, Outcome, Step } from './decision.js';
export { POLL_MS } from './decision.js';
export { applyOutcome } from './outcome.js';
export { applyForce } from './starting.js';

/** More transitions than phases in one decision would be a loop: a bug, reported as such. */
const MAX_TRANSITIONS = 8;

/** Decide the next step. Never mutates its input. */
export function decide(input: DecideInput): Decision {
  // The plan is never changed by a decision: share it instead of copying it on every poll.
  const status = structuredClone({ ...input.status, plan: undefined }) as UpgradeStatus;
  status.plan = input.status.plan;
  const step = nextStep(turnOf(input, status));
  const actions = step.kind === 'act' ? step.actions : [];
  const reason =
    step.kind !== 'act'
      ? stepReason(step)
      : actions.length > 1
        ? describeActions(actions)
        : (step.reason ?? describeAction(actions[0]!));
  noteWarnings(status, input.snapshot.health.warnings ?? [], input.now);
  status.progress = progressOf(status, input.snapshot, input.rules, input.spec);
  if (actions[0]) status.progress.step = describeAction(actions[0]);
  status.updatedAt = input.now;
  status.observedGeneration = input.spec.generation;
  if (reason) status.reason = reason;
  return {
    status,
    action: actions[0],
    ...(actions.length > 1 ? { actions } : {}),
    reason: status.reason,
    requeueMs: requeueOf(step, input.now),
  };
}

/** Milliseconds until the runner looks again after `step`. */
function requeueOf(step: Step, now: number): number {
  switch (step.kind) {
    case 'act':
    case 'finish':
    case 'transition':
      return 0;
    case 'pause':
      return POLL_MS;
    case 'wait':
    case 'block':
      return step.until - now;
  }
}

/** The step of this decision: the phase's, and again after each transition it makes. */
export function nextStep(t: Turn): Step {
  for (let i = 0; i < MAX_TRANSITIONS; i++) {
    const step = phaseStep(t);
    if (step.kind !== 'transition') return step;
  }
  throw new Error(`internal: more than ${MAX_TRANSITIONS} phase transitions in one decision`);
}

/**
 * Whether the upgrade has been paused longer than its expiry allows, so the next decisions restore
 * what it drained and end it Expired (a front end driving it goes on until then).
 */
export function expiring(spec: UpgradeSpec, status: UpgradeStatus, now: number): boolean {
  return (
    status.phase === 'Paused' &&
    status.pausedAt !== undefined &&
    now - status.pausedAt >= spec.pausedExpirySeconds * 1000
  );
}

/** What holds in every phase (terminal, expiry, force, cancel), then the phase's own function. */
function phaseStep(t: Turn): Step {
  const { spec, status, now } = t;
  if (isTerminal(status.phase)) return wait(t, `upgrade is ${status.phase}`, 0);

  // A paused upgrade expires after its configured time (ACK: 15 days).
  if (expiring(spec, status, now)) {
    // What Baton drained but did not upgrade is restored first (a node uncordoned, Baton's
    // cordon only); what it took over from an owner stays as it is (held, not handed back).
    const leftover = restoreLeftover(t, true);
    if (leftover) return leftover;
    pruneToSummary(status, now);
    const limit = spec.pausedExpirySeconds * 1000;
    return finish(t, 'Expired', `paused for more than ${formatDuration(limit)}: upgrade expired`);
  }

  // Force: reported while it stays set.
  if (spec.force.length > 0) {
    const note = `force is set (${spec.force.join(', ')})`;
    if (!status.history.some((h) => h.type === 'force' && h.message === note)) {
      record(status, { at: now, type: 'force', message: note });
    }
  }

  if (spec.cancel) return cancelling(t);
  switch (status.phase) {
    case 'Pending':
      return pending(t);
    case 'Prechecking':
      return prechecking(t);
    case 'Paused':
      return paused(t);
    case 'AwaitingFinalization':
      return awaitingFinalization(t);
    case 'Running':
      return running(t);
    default:
      return wait(t, `nothing to do in phase ${status.phase}`);
  }
}

/**
 * A cancel (in any phase): members already restarting finish, nobody new starts, drained but
 * untouched members stay as they are; then leftovers are restored, the members handed back, and
 * the upgrade ends Cancelled with what was upgraded staying upgraded.
 */
function cancelling(t: Turn): Step {
  const { spec, status, now } = t;
  // A member the platform reports failed (a failed upgrade Job, a crashed process) will never
  // finish: the cancel leaves it for a human, as a failure within the allowance is, instead of
  // resuming only to pause on it again.
  for (const [name, m] of Object.entries(status.members)) {
    const view = t.views.get(name);
    const failing =
      view?.failed &&
      (m.state === 'verifying' || (m.state === 'replacing' && t.rules.steps?.failedWhileReplacing));
    if (!failing) continue;
    const cause = `${name} failed on ${m.to}: ${view.detail ?? 'the platform reports a failure'}`;
    m.lastError = cause;
    setMemberState(
      status,
      name,
      'failed',
      now,
      `${name} failed and is left for a human (cancelled): ${cause}`,
    );
    record(status, { at: now, type: 'error', member: name, message: cause });
  }
  // An evacuating member (a node being drained) has started: a cancel lets it finish.
  const evacuating = t.rules.steps?.evacuate !== undefined;
  const inFlight = Object.entries(status.members).filter(
    ([, m]) => m.state === 'replacing' || m.state === 'verifying' || (evacuating && m.state === 'draining'),
  );
  for (const [name, m] of Object.entries(status.members)) {
    if (m.state === 'draining' && !evacuating)
      setMemberState(status, name, 'pending', now, `${name}: not started (cancelled)`);
  }
  if (inFlight.length === 0) {
    const leftover = restoreLeftover(t) ?? handBack(t);
    if (leftover) return leftover;
    const done = Object.values(status.members).filter((m) => m.state === 'done').length;
    const failed = failedMembers(status);
    return finish(
      t,
      'Cancelled',
      `cancelled: ${done} member(s) upgraded stay upgraded, the rest are left alone${failed.length ? `; failed and left for a human: ${failed.join(', ')}` : ''}`,
    );
  }
  const byBaton = status.pausedGeneration !== undefined && spec.generation <= status.pausedGeneration;
  if (status.phase === 'Paused' && !spec.paused && !byBaton) {
    // Resumed while cancelling: no longer paused, only finishing what is in flight.
    status.pausedAt = undefined;
    setPhase(status, 'Running', 'resumed while cancelling', now);
  }
  const step = driveInFlight(t);
  if (step?.kind === 'act') return step;
  return wait(t, `cancelling: waiting for ${inFlight.map(([n]) => n).join(', ')} to finish`);
}
