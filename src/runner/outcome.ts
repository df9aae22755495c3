/**
 * Folding the outcome of an action back into the status: the other half of a decision, pure like
 * it. The runner persists the intent, performs the action, then persists what this returns.
 */
import { describeError } from '../core/errors.js';
import type { UpgradeSpec, UpgradeStatus } from '../core/types.js';
import { type Action, MAX_ACTION_ATTEMPTS, type Outcome } from './decision.js';
import { actionKey, describeAction, memberOf } from './describe.js';
import { applyForce } from './starting.js';
import { record, setPhase } from './status.js';

/**
 * Fold the outcome of an action into the status. Pure. Errors that are transient are retried a
 * bounded number of times; any other error pauses the upgrade with the cause recorded.
 */
export function applyOutcome(
  input: { spec: UpgradeSpec; status: UpgradeStatus; now: number },
  action: Action,
  outcome: Outcome,
): UpgradeStatus {
  return applyOutcomes(input, [[action, outcome]]);
}

/**
 * The outcomes of the actions of one decision (a batch's drains, replacements...) folded in order
 * with {@link applyOutcome}'s rules into one copy of the status: a batch of hundreds of nodes
 * copies the status once, not once per node.
 */
export function applyOutcomes(
  input: { spec: UpgradeSpec; status: UpgradeStatus; now: number },
  done: readonly (readonly [Action, Outcome])[],
): UpgradeStatus {
  const status = structuredClone(input.status);
  for (const [action, outcome] of done) fold(status, input.spec, input.now, action, outcome);
  return status;
}

/** {@link applyOutcome} in place. */
function fold(status: UpgradeStatus, spec: UpgradeSpec, now: number, action: Action, outcome: Outcome): void {
  status.updatedAt = now;
  const key = actionKey(action);
  if (!outcome.ok) {
    const msg = `${describeAction(action)} failed: ${describeError(outcome.error)}`;
    const count = status.retry?.key === key ? status.retry.count + 1 : 1;
    if (outcome.retryable && count < MAX_ACTION_ATTEMPTS) {
      status.retry = { key, count, lastError: msg };
      status.reason = `retrying (${count}/${MAX_ACTION_ATTEMPTS - 1}): ${msg}`;
      record(status, { at: now, type: 'error', message: status.reason, member: memberOf(action) });
      return;
    }
    status.retry = undefined;
    record(status, { at: now, type: 'error', message: msg, member: memberOf(action) });
    if (action.kind === 'precheck') {
      status.prechecksAt = now;
      status.prechecksGeneration = spec.generation;
      status.blockedBy = blockedSince(status, 'precheck:error', msg, now);
      status.reason = msg;
      return;
    }
    const failed = memberOf(action);
    if (failed && status.members[failed]) status.members[failed]!.lastError = describeError(outcome.error);
    status.pauseCause = msg;
    status.pausedGeneration = spec.generation;
    status.batchesSincePause = 0;
    setPhase(status, 'Paused', `paused: ${msg}`, now);
    return;
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
      return;
    }
    case 'hook': {
      const k = action.component ? `${action.hook}:${action.component}` : action.hook;
      if (!status.hooksDone.includes(k)) status.hooksDone.push(k);
      record(status, { at: now, type: 'step', message: outcome.message ?? describeAction(action) });
      return;
    }
    case 'takeOver': {
      status.custody = 'held';
      record(status, { at: now, type: 'step', message: outcome.message ?? describeAction(action) });
      return;
    }
    case 'handBack': {
      if (outcome.notYet !== undefined) {
        status.handBackWait = { since: status.handBackWait?.since ?? now, at: now, reason: outcome.notYet };
        status.reason = `waiting to hand back: ${outcome.notYet}`;
        return;
      }
      status.custody = 'returned';
      status.handBackWait = undefined;
      record(status, { at: now, type: 'step', message: outcome.message ?? describeAction(action) });
      return;
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
      return;
    }
    case 'replace': {
      const p = status.members[action.member];
      if (p) p.replaceIssued = true;
      return;
    }
    case 'restore': {
      const p = status.members[action.member];
      if (p) {
        p.restored = true;
        p.restoredAt = now;
      }
      return;
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
        return;
      }
      // Completed once the cluster reports healthy again (CockroachDB runs its migrations now).
      status.finalized = true;
      record(status, { at: now, type: 'step', message: outcome.message ?? 'finalized' });
      if (status.phase !== 'Running')
        setPhase(status, 'Running', 'finalized; waiting for the cluster to report healthy', now);
      return;
    }
  }
}

/** A block by `check`, keeping the time it started when the same check already blocked. */
function blockedSince(status: UpgradeStatus, check: string, reason: string, now: number) {
  return { check, reason, since: status.blockedBy?.check === check ? status.blockedBy.since : now };
}
