/**
 * The end of a pass and what follows it: leftovers restored, failed members reported, the next hop
 * of a multi-hop path, the members handed back to their owner, the last hook, finalization (or
 * waiting for `baton finalize`), the cluster health gate, Completed; and the way back (a rollback
 * starts a new pass towards the original versions).
 */
import type { MemberProgress, PlannedComponent, UpgradeStatus } from '../core/types.js';
import { atVersion } from '../core/version.js';
import { hopTarget } from '../plan/hop.js';
import { finalizedFloor, rollbackRefusal, rollbackVersion } from '../plan/rollback.js';
import {
  act,
  block,
  failedMembers,
  finish,
  pause,
  POLL_MS,
  type Step,
  transition,
  type Turn,
  wait,
} from './decision.js';
import { describeAction, formatDuration } from './describe.js';
import { hookOnce } from './starting.js';
import { record, setPhase } from './status.js';

/** Target of `comp` in the current hop and direction; `null`: it stays where it is in this hop. */
export function currentTarget(status: UpgradeStatus, comp: PlannedComponent): string | null {
  return hopTarget(status.plan?.path ?? [], status.hop, comp);
}

/**
 * A member drained (leaderships kept away from it) that a pass left without a restart and a
 * restore (drain timed out, cancelled, or already at the version): restore it before the pass ends.
 * On expiry (`expired`) also one still draining (a node cordoned and drained while the upgrade
 * paused on it), so the upgrade ends with nothing of Baton's left on it; a member left failed for
 * a human stays as it is (a node given up on stays cordoned), as does one restarting.
 */
export function restoreLeftover(t: Turn, expired = false): Step | undefined {
  const states: string[] = expired ? ['pending', 'draining', 'done'] : ['pending', 'done'];
  for (const [name, p] of Object.entries(t.status.members)) {
    if (p.drainIssued && !p.restored && states.includes(p.state)) {
      const why = expired
        ? 'drained but not upgraded when the upgrade expired'
        : 'drained but not restarted in this pass';
      return act(t, { kind: 'restore', member: name }, `restore ${name}: ${why}`);
    }
  }
  return undefined;
}

/**
 * Hand the members back to their owner once the pass is over, when they were taken over. A
 * hand-back that found the workload not at rest is tried again after a poll; past the ready
 * timeout a cancel ends with the members still held (the reason recorded, undefined returned),
 * anything else pauses. Undefined too when nothing is held.
 */
export function handBack(t: Turn): Step | undefined {
  const { status, spec, now } = t;
  if (status.custody !== 'held') return undefined;
  const w = status.handBackWait;
  if (w) {
    const limit = spec.strategy.timeouts.readySeconds * 1000;
    if (now - w.since >= limit) {
      const cause = `hand-back not possible after ${formatDuration(limit)}: ${w.reason}`;
      if (!spec.cancel) return pause(t, `${cause}; resume to try again`);
      status.custody = undefined;
      status.handBackWait = undefined;
      record(status, { at: now, type: 'error', message: `${cause}; the members stay held` });
      return undefined;
    }
    if (now - w.at < POLL_MS) return wait(t, `waiting to hand back: ${w.reason}`, POLL_MS - (now - w.at));
  }
  const how = status.plan?.custody?.handBack ?? describeAction({ kind: 'handBack' });
  return act(t, { kind: 'handBack' }, `hand back: ${how}`);
}

/**
 * The last gate before Completed and before the next hop: the database as a whole reports healthy
 * (every member caught up is necessary but not sufficient: a standby may still be reconnecting).
 * A block while it is not, a pause after the ready timeout; undefined when healthy.
 */
function healthGate(t: Turn): Step | undefined {
  const { snapshot, status, spec, now } = t;
  if (snapshot.health.healthy) {
    if (status.blockedBy?.check === 'cluster-health') status.blockedBy = undefined;
    return undefined;
  }
  const since = status.blockedBy?.check === 'cluster-health' ? status.blockedBy.since : now;
  const limit = spec.strategy.timeouts.readySeconds * 1000;
  if (now - since >= limit) {
    return pause(
      t,
      `every member is upgraded but the cluster is not healthy after ${formatDuration(limit)}: ${snapshot.health.detail}`,
    );
  }
  return block(
    t,
    'cluster-health',
    `every member is upgraded; waiting for the cluster to report healthy: ${snapshot.health.detail}`,
  );
}

/** Every member of the pass is through: end the pass (see the file's comment for the order). */
export function passFinished(t: Turn): Step {
  const { status, spec } = t;
  const leftover = restoreLeftover(t);
  if (leftover) return leftover;
  const failed = failedMembers(status);
  if (failed.length > 0) {
    const causes = failed.map((n) => `${n} (${status.members[n]?.lastError ?? 'failed'})`);
    return pause(
      t,
      `every other member is done; failed and left for a human: ${causes.join(', ')}; fix them and resume (they are tried again), or cancel`,
    );
  }
  const path = status.plan?.path ?? [];
  const hop = path[status.hop];
  if (status.direction === 'forward' && hop && status.hop < path.length - 1) {
    // Intermediate hop: finalize it when the engine needs that before the next, then roll again.
    if (hop.finalize && !status.hooksDone.includes(`finalize-hop:${status.hop}`))
      return act(t, { kind: 'finalize' }, `finalize intermediate hop ${hop.from} -> ${hop.to}`);
    // The next hop starts on a healthy cluster (CockroachDB: the finalization's migrations done).
    return healthGate(t) ?? nextHop(t);
  }
  const back = handBack(t);
  if (back) return back;
  const after = hookOnce(t, 'afterUpgrade');
  if (after) return after;
  if (status.direction === 'rollback') {
    const floor = finalizedFloor(status);
    const reason = floor
      ? `rolled back to ${floor}, the finalized intermediate version`
      : 'rolled back: every member runs its original version';
    return finish(t, 'Completed', reason);
  }
  if (status.plan?.finalization && !status.finalized) {
    if (spec.finalize === 'auto' || spec.finalizeRequested) return act(t, { kind: 'finalize' });
    return finish(
      t,
      'AwaitingFinalization',
      'every member runs the target version; waiting for `baton finalize`',
    );
  }
  return (
    healthGate(t) ??
    finish(
      t,
      'Completed',
      status.finalized
        ? 'upgrade finalized: rollback is no longer possible'
        : `upgrade complete: every member runs its target version`,
    )
  );
}

/** Start the next hop of the path: every member pending towards its target in it (or done, staying). */
function nextHop(t: Turn): Step {
  const { status, now } = t;
  const path = status.plan?.path ?? [];
  status.hop += 1;
  const hop = path[status.hop]!;
  const components = new Map((status.plan?.components ?? []).map((c) => [c.name, c]));
  for (const [name, p] of Object.entries(status.members)) {
    const comp = components.get(p.component);
    const to = comp ? currentTarget(status, comp) : (status.plan?.to ?? '');
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
    message: `hop ${status.hop + 1} of ${path.length}: ${hop.from} -> ${hop.to}`,
  });
  return wait(t, `starting hop ${status.hop + 1} of ${path.length} (${hop.to})`, 0);
}

/**
 * Phase AwaitingFinalization: every member runs the target and the engine's finalization (the
 * point of no return) waits for `baton finalize`; a rollback is still possible.
 */
export function awaitingFinalization(t: Turn): Step {
  const { spec, status, now } = t;
  if (spec.rollback) return startRollback(t);
  if (spec.finalizeRequested) return act(t, { kind: 'finalize' });
  if (spec.paused) setPhase(status, 'Paused', 'paused by user', now);
  return wait(
    t,
    'every member runs the target version; finalize with `baton finalize` (rollback stays possible until then)',
    2000,
  );
}

/**
 * A rollback requested: unless refused (a finalized version, an engine that cannot go back), a new
 * pass takes every member that moved back to its original version (or the last finalized hop's),
 * drained members not yet restored included; the hooks run again and the members are taken over
 * again if they were handed back.
 */
export function startRollback(t: Turn): Step {
  const { status, now, rules } = t;
  if (status.direction === 'rollback' && !status.finalized) return wait(t, status.reason);
  const runningOf = (name: string, m: MemberProgress) => t.views.get(name)?.version ?? m.to;
  const refused = rollbackRefusal(status, rules.versions, runningOf);
  if (refused) return block(t, 'rollback', refused);
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
  return transition(t, 'Running', 'rolling back to the original versions');
}
