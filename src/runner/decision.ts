/**
 * The vocabulary of the runner's decisions: what a decision depends on, the actions the runner
 * performs, and the typed {@link Step} every phase function returns: an action, a wait with its
 * reason and the time to look again, a block with the check that causes it, a pause, a transition
 * to another phase. The constructors below also write what a step leaves in the next status (a
 * block's start and history entry, a pause's cause), so every phase says it the same way.
 */
import type {
  MemberProgress,
  MemberView,
  Phase,
  PrecheckResult,
  Snapshot,
  UpgradeSpec,
  UpgradeStatus,
} from '../core/types.js';
import type { EngineRules } from '../core/rules.js';
import { atVersion } from '../core/version.js';
import { record, setMemberState, setPhase } from './status.js';

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

/** Outcome of an action, folded into the status by `applyOutcome` (outcome.ts). */
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
/** Longest a predicted wait may defer the next look. */
export const MAX_PREDICTED_WAIT_MS = 10_000;

/**
 * What a phase function decided. `decide` turns it into the decision's reason and requeue: an
 * action is performed at once; a wait, a block or a pause is looked at again at `until` (or after a
 * poll), or sooner when something changes.
 */
export type Step =
  /**
   * Perform `actions` (several only for batchTogether engines). The reason is `reason` when given
   * (a single action only), else the actions' own description.
   */
  | { kind: 'act'; actions: [Action, ...Action[]]; reason?: string }
  /** Nothing to do before `until` (the clock's ms): something converges, soaks or is retried. */
  | { kind: 'wait'; reason: string; until: number }
  /** The safety check `check` refuses the next step (recorded in `status.blockedBy`). */
  | { kind: 'block'; check: string; reason: string; until: number }
  /** Baton paused the upgrade itself (an error, a gate, a timeout): `baton resume` goes on. */
  | { kind: 'pause'; cause: string }
  /** The upgrade moved to `phase` (or on within it: a batch finished); decide again from there. */
  | { kind: 'transition'; phase: Phase; reason: string }
  /** The upgrade reached `phase` (terminal, or waiting for a human to finalize): nothing more now. */
  | { kind: 'finish'; phase: Phase; reason: string };

/** A step that asks to perform actions. */
export type ActStep = Extract<Step, { kind: 'act' }>;
/** A step that pauses the upgrade. */
export type PauseStep = Extract<Step, { kind: 'pause' }>;

/**
 * One decision in progress: its inputs, the next status it writes (a copy: the input is never
 * changed), and the observed members indexed once.
 */
export interface Turn extends DecideInput {
  status: UpgradeStatus;
  /** Observed members by name. */
  views: ReadonlyMap<string, MemberView>;
  /** Observed members of `component`, in snapshot order. */
  membersOf(component: string): MemberView[];
}

/** The turn of a decision writing `status` (already a copy of `input.status`). */
export function turnOf(input: DecideInput, status: UpgradeStatus): Turn {
  const views = new Map(input.snapshot.members.map((m) => [m.name, m]));
  const byComponent = new Map<string, MemberView[]>();
  for (const m of input.snapshot.members) {
    const list = byComponent.get(m.component);
    if (list) list.push(m);
    else byComponent.set(m.component, [m]);
  }
  return { ...input, status, views, membersOf: (component) => byComponent.get(component) ?? [] };
}

/** Perform `action`; any block it ends is lifted (a precheck re-run keeps the block it may confirm). */
export function act(t: Turn, action: Action, reason?: string): ActStep {
  // A precheck keeps the block so that `blockedBy.since` says how long it has held.
  if (action.kind !== 'precheck') t.status.blockedBy = undefined;
  return { kind: 'act', actions: [action], ...(reason !== undefined ? { reason } : {}) };
}

/** Wait `ms` (a poll by default) before looking again. */
export function wait(t: Turn, reason: string, ms = POLL_MS): Step {
  return { kind: 'wait', reason, until: t.now + ms };
}

/** Blocked by `check`: recorded once per distinct cause, with the time it started. */
export function block(t: Turn, check: string, reason: string): Step {
  const { status, now } = t;
  if (status.blockedBy?.check !== check || status.blockedBy.reason !== reason) {
    status.blockedBy = { check, reason, since: now };
    record(status, { at: now, type: 'block', message: `${check}: ${reason}` });
  }
  return { kind: 'block', check, reason, until: now + POLL_MS };
}

/** Pause by Baton itself (error, gate, probe): resuming needs `baton resume`. */
export function pause(t: Turn, cause: string): PauseStep {
  const { status, now, spec } = t;
  status.pauseCause = cause;
  status.pausedGeneration = spec.generation;
  status.batchesSincePause = 0;
  setPhase(status, 'Paused', `paused: ${cause}`, now);
  return { kind: 'pause', cause };
}

/** Move to `phase` (recorded with `reason`) and decide again from there in the same decision. */
export function transition(t: Turn, phase: Phase, reason: string): Step {
  setPhase(t.status, phase, reason, t.now);
  return { kind: 'transition', phase, reason };
}

/** Move to `phase` (recorded with `reason`), where this decision ends. */
export function finish(t: Turn, phase: Phase, reason: string): Step {
  setPhase(t.status, phase, reason, t.now);
  return { kind: 'finish', phase, reason };
}

/** The reason a step gives, as the status, history and events show it. */
export function stepReason(step: Exclude<Step, ActStep>): string {
  switch (step.kind) {
    case 'wait':
    case 'transition':
    case 'finish':
      return step.reason;
    case 'block':
      return `blocked by ${step.check}: ${step.reason}`;
    case 'pause':
      return `paused: ${step.cause}`;
  }
}

/** Whether the engine's members take each step together per batch. */
export function together(t: Turn): boolean {
  return t.rules.steps?.batchTogether === true;
}

/** Ready, at the version, and the engine says healthy and caught up. */
export function converged(m: MemberView | undefined, version: string): boolean {
  return !!m && m.ready && atVersion(m.version, version) && !!m.engine?.healthy && !!m.engine.caughtUp;
}

/**
 * The replacement of member `name`, about to be drained or being drained, when it already runs its
 * target: its owner replaced it first (an operator rolling pods that Baton only gates, such as the
 * Redis operator's roll of a REC), or Baton did just before it died, the cluster carrying the
 * replacement out (`Platform.durableActions`) before its journal write. The old process is
 * gone, so there is nothing to drain, and a drain now would move leadership or primaries back onto
 * members still to go. The member goes to `replacing` (a drain already issued is still restored
 * once it is verified) and the replacement is asked for again, which leaves a member already
 * running its target alone; undefined when the member does not run its target yet.
 */
export function replacedAlready(t: Turn, name: string): ActStep | undefined {
  const p = t.status.members[name];
  const view = t.views.get(name);
  if (!p || !view || !atVersion(view.version, p.to)) return undefined;
  setMemberState(t.status, name, 'replacing', t.now, `${name} already runs ${p.to}: no drain`);
  p.replaceCalls += 1;
  return act(t, { kind: 'replace', member: name, version: p.to });
}

/** Whether a member is still to be moved in this pass (neither done nor given up on). */
export function unfinished(m: MemberProgress | undefined): boolean {
  return m !== undefined && m.state !== 'done' && m.state !== 'failed';
}

/** Members given up on in this pass (of `component` only, when given), by name. */
export function failedMembers(status: UpgradeStatus, component?: string): string[] {
  return Object.entries(status.members)
    .filter(([, m]) => m.state === 'failed' && (component === undefined || m.component === component))
    .map(([n]) => n);
}
