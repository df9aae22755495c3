/**
 * Progress in the terms users read: stage, component, member i of n, batch k of m, and an ETA
 * from the durations observed so far (engine estimates until there are some). Pure.
 */
import type { ProgressSummary, Snapshot, UpgradeSpec, UpgradeStatus } from '../core/types.js';
import { isLeaderRole } from '../core/types.js';
import type { EngineRules } from '../core/rules.js';
import { batchSize } from '../plan/batches.js';
import { estimateRemainingMs } from '../plan/eta.js';
import { componentBatchPolicy, componentRule } from '../plan/plan.js';

/** Summarise where an upgrade stands. */
export function progressOf(
  status: UpgradeStatus,
  snapshot: Snapshot,
  rules: EngineRules,
  spec: UpgradeSpec,
): ProgressSummary {
  const members = Object.entries(status.members);
  const done = members.filter(([, m]) => m.state === 'done').length;
  const failed = members.filter(([, m]) => m.state === 'failed').length;
  const summary: ProgressSummary = { done, total: members.length, ...(failed ? { failed } : {}) };
  const components = status.plan?.components ?? [];
  const current =
    components.find((c) => status.currentBatch.some((n) => status.members[n]?.component === c.name)) ??
    components.find((c) => members.some(([, m]) => m.component === c.name && m.state !== 'done'));
  if (current) {
    const own = members.filter(([, m]) => m.component === current.name);
    const ownDone = own.filter(([, m]) => m.state === 'done').length;
    const active = own.some(([, m]) => m.state !== 'done' && m.state !== 'pending');
    summary.component = current.name;
    summary.stage = current.stage;
    summary.memberTotal = own.length;
    summary.memberIndex = Math.min(own.length, ownDone + (active ? 1 : 0));
    summary.text =
      rules.describeProgress?.(current.name, Math.max(1, summary.memberIndex), ownDone, own.length) ??
      `${current.name} member ${summary.memberIndex} of ${own.length}`;
  }

  // Remaining batches if nothing pauses: walk each unfinished component with the batch policy.
  let remainingBatches = 0;
  // Exponential sizing restarts at 1 in every component but the one the last batch belongs to.
  const lastBatch = members.find(([, m]) => m.batch !== undefined && m.batch === status.batchesStarted);
  const inBatch = new Set(status.currentBatch);
  for (const c of components) {
    let sincePause = lastBatch?.[1].component === c.name ? status.batchesSincePause : 0;
    let left = members.filter(
      ([n, m]) => m.component === c.name && m.state === 'pending' && !inBatch.has(n),
    ).length;
    const size = c.members.length + c.upToDate.length;
    const policy = componentBatchPolicy(componentRule(rules, c.name), spec);
    while (left > 0) {
      left -= batchSize(policy, size, sincePause);
      sincePause += 1;
      remainingBatches += 1;
    }
  }
  summary.batchIndex = status.batchesStarted;
  summary.batchTotal = status.batchesStarted + remainingBatches;

  const leaders = new Set(snapshot.members.filter((m) => isLeaderRole(m.engine?.role)).map((m) => m.name));
  const remaining = members.filter(([, m]) => m.state !== 'done');
  summary.etaMs = estimateRemainingMs(
    {
      members: remaining.length,
      leaders: remaining.filter(([n]) => leaders.has(n)).length,
      batches: remainingBatches + (status.currentBatch.length > 0 ? 1 : 0),
    },
    spec.strategy.soakSeconds * 1000,
    status.stepDurations,
    rules,
  );
  return summary;
}
