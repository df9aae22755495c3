/**
 * Phases Running and Paused. Running, one pass: take the members over -> beforeUpgrade -> members
 * in flight -> the batch in flight -> per component (in plan order) beforeComponent, its batches,
 * afterComponent -> the end of the pass (finish.ts). Paused: members in flight finish, nobody new
 * starts, until resumed.
 */
import { prerequisitesVerdict } from '../plan/safety.js';
import { batchInFlight, startBatch } from './batch.js';
import {
  block,
  failedMembers,
  pause,
  type Step,
  transition,
  type Turn,
  unfinished,
  wait,
} from './decision.js';
import { currentTarget, passFinished, startRollback } from './finish.js';
import { driveInFlight } from './members.js';
import { hookOnce, takeOver } from './starting.js';
import { record, setMemberState } from './status.js';

/** Phase Running. */
export function running(t: Turn): Step {
  const { spec, status, now, availability } = t;
  if (spec.paused) {
    record(status, { at: now, type: 'control', message: 'pause requested' });
    status.batchesSincePause = 0;
    return transition(t, 'Paused', 'paused by user');
  }
  if (spec.rollback && status.direction === 'forward') return startRollback(t);
  if (availability && !availability.ok) return pause(t, availability.reason);

  const first = takeOver(t) ?? hookOnce(t, 'beforeUpgrade');
  if (first) return first;

  // Members in flight: an action or a pause goes first; their wait holds while the batch is active.
  const inFlight = driveInFlight(t);
  if (inFlight && inFlight.kind !== 'wait') return inFlight;
  if (status.currentBatch.length > 0) return batchInFlight(t, inFlight);
  return nextComponent(t);
}

/**
 * The first component (in plan order) whose members are not all at their target in this hop:
 * its hooks, its prerequisites (forward only), then its next batch. None left: the pass ends.
 */
function nextComponent(t: Turn): Step {
  const { status, snapshot } = t;
  const components = status.plan?.components ?? [];
  for (const comp of components) {
    const target = currentTarget(status, comp);
    if (target === null) continue;
    const pendingNames = comp.members
      .map((m) => m.name)
      .concat(comp.upToDate)
      .filter((n) => unfinished(status.members[n]));
    if (pendingNames.length === 0) {
      const after = hookOnce(t, 'afterComponent', comp.name);
      if (after) return after;
      continue;
    }
    const before = hookOnce(t, 'beforeComponent', comp.name);
    if (before) return before;
    if (status.direction === 'forward') {
      // A prerequisite with members given up on will not get better by waiting: ask a human.
      const failedPre = comp.prerequisites.flatMap((c) => failedMembers(status, c));
      if (failedPre.length > 0) {
        return pause(
          t,
          `${comp.name} waits for ${comp.prerequisites.join(', ')}, where ${failedPre.join(', ')} failed; fix them and resume (they are tried again)`,
        );
      }
      const targets: Record<string, string> = {};
      for (const c of components) {
        const to = currentTarget(status, c);
        if (to !== null) targets[c.name] = to;
      }
      const pre = prerequisitesVerdict(comp.name, comp.prerequisites, snapshot.members, targets);
      if (!pre.allow) return block(t, pre.check, pre.reason);
    }
    return startBatch(t, comp, target, pendingNames);
  }
  return passFinished(t);
}

/**
 * Phase Paused. Resumed (the user no longer pauses, and a pause by Baton was answered by a new
 * spec generation): gates passed, causes cleared, members in flight get their full timeout again
 * and members given up on are tried again -> Running. Otherwise members in flight finish and no
 * new member starts.
 */
export function paused(t: Turn): Step {
  const { status, spec, now } = t;
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
    return transition(t, 'Running', 'running again');
  }
  // Members in flight finish; no new member starts.
  const inFlight = driveInFlight(t);
  if (inFlight?.kind === 'act') return inFlight;
  const why = byUser ? 'paused by user' : `paused: ${status.pauseCause ?? 'waiting for resume'}`;
  return wait(t, `${why}; resume with \`baton resume\``, 1000);
}
