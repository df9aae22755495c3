/**
 * The probe's safety gate: whether a run's figures stay within a budget, with the figure that
 * broke it as the reason. The runner pauses the upgrade with that reason as the cause (its
 * auto-pause path), so `baton status` says e.g. "paused: probe: longest write gap 812 ms > 500 ms".
 */
import type { ProbeBudget, ProbeFigures, ProbeVerdict } from './types.js';

/** A rate as a percentage with two decimals, e.g. `3.20%`. */
export function formatRate(rate: number): string {
  return `${(rate * 100).toFixed(2)}%`;
}

/**
 * Checks `f` against `budget`. Lost and unverifiable acknowledged writes are always checked
 * (tolerance `maxLostWrites`, default 0); error rate (whole run), longest write gap (whole run)
 * and p99 (operations acknowledged in the last 10 s) only when given. The reason names every
 * exceeded limit with the measured figure.
 */
export function probeVerdict(f: ProbeFigures, budget: ProbeBudget): ProbeVerdict {
  const problems: string[] = [];
  const maxLost = budget.maxLostWrites ?? 0;
  if (f.lostWrites + f.unverifiedWrites > maxLost) {
    if (f.lostWrites > 0) problems.push(`${f.lostWrites} acknowledged writes lost (tolerated ${maxLost})`);
    if (f.unverifiedWrites > 0) {
      problems.push(
        `${f.unverifiedWrites} acknowledged writes could not be read back (tolerated ${maxLost})`,
      );
    }
  }
  if (budget.maxGapMs !== undefined && f.maxGapMs > budget.maxGapMs) {
    problems.push(`longest write gap ${f.maxGapMs} ms > ${budget.maxGapMs} ms`);
  }
  if (budget.maxErrorRate !== undefined && f.errorRate > budget.maxErrorRate) {
    problems.push(
      `error rate ${formatRate(f.errorRate)} > ${formatRate(budget.maxErrorRate)} (${f.failedOps} of ${f.ops} ops failed)`,
    );
  }
  if (budget.maxP99Ms !== undefined && f.recentP99Ms > budget.maxP99Ms) {
    problems.push(`p99 latency over the last 10 s ${f.recentP99Ms} ms > ${budget.maxP99Ms} ms`);
  }
  if (problems.length > 0) return { ok: false, reason: `probe: ${problems.join('; ')}` };
  return {
    ok: true,
    reason: `probe: ${f.ops} ops, error rate ${formatRate(f.errorRate)}, longest write gap ${f.maxGapMs} ms, p99 ${f.recentP99Ms} ms (last 10 s), ${f.lostWrites} lost writes`,
  };
}
