/**
 * Starting an upgrade, and the steps that come before any member moves: prechecks (blocking until
 * they pass or are forced), taking the members over from their owner, and the engine's hooks
 * (each run once per pass).
 */
import type { PrecheckResult } from '../core/types.js';
import { act, PRECHECK_RETRY_MS, type Step, transition, type Turn, unfinished, wait } from './decision.js';
import { setPhase } from './status.js';

/** Mark failing prechecks that `force` names (or `*`) as forced: they no longer block. */
export function applyForce(results: PrecheckResult[], force: string[]): PrecheckResult[] {
  return results.map((r) =>
    !r.ok && (force.includes('*') || force.includes(r.name)) ? { ...r, forced: true } : r,
  );
}

/** Phase Pending: run the prechecks. */
export function pending(t: Turn): Step {
  setPhase(t.status, 'Prechecking', 'running prechecks', t.now);
  return act(t, { kind: 'precheck' });
}

/**
 * Phase Prechecking: every precheck passed (or is forced) -> Running. Otherwise blocked, nothing
 * moved: the prechecks run again after {@link PRECHECK_RETRY_MS}, or at once when the spec changed
 * (a `--force` given); a precheck that could not run at all is retried the same way.
 */
export function prechecking(t: Turn): Step {
  const { status, spec, now } = t;
  const lastRun = status.prechecksAt ?? 0;
  const specChanged = status.prechecksGeneration !== spec.generation;
  const due = specChanged || now - lastRun >= PRECHECK_RETRY_MS;
  if (status.blockedBy?.check === 'precheck:error' || status.prechecks.length === 0) {
    if (status.prechecksAt === undefined || due) return act(t, { kind: 'precheck' });
    return wait(t, status.reason, PRECHECK_RETRY_MS - (now - lastRun));
  }
  const failing = status.prechecks.filter((r) => !r.ok && !r.forced);
  if (failing.length === 0) return transition(t, 'Running', 'prechecks passed; upgrade running');
  if (due) return act(t, { kind: 'precheck' });
  return wait(t, status.reason, PRECHECK_RETRY_MS - (now - lastRun));
}

/**
 * Take the members over from their owner before anything else moves, when the plan lists that
 * step and some member still has to be replaced in this pass.
 */
export function takeOver(t: Turn): Step | undefined {
  const { status } = t;
  if (!status.plan?.custody || status.custody === 'held') return undefined;
  if (!Object.values(status.members).some(unfinished)) return undefined;
  return act(t, { kind: 'takeOver' }, `take over: ${status.plan.custody.takeOver}`);
}

/** Run the engine's `hook` (for `component`) unless it ran in this pass or the engine has none. */
export function hookOnce(t: Turn, hook: string, component?: string): Step | undefined {
  const { status, rules } = t;
  if (!rules.hooks.includes(hook)) return undefined;
  const key = component ? `${hook}:${component}` : hook;
  if (status.hooksDone.includes(key)) return undefined;
  return act(t, { kind: 'hook', hook, component });
}
