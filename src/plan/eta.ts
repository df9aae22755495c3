/**
 * Time estimates from observed step durations (the median of recent ones), falling back on the
 * engine's typical durations before anything has been observed.
 */
import type { StepKind } from '../core/types.js';
import type { EngineRules } from '../core/rules.js';

/** Typical step durations in ms when neither observations nor the engine give one. */
export const DEFAULT_STEP_ESTIMATES_MS: Readonly<Record<StepKind, number>> = {
  precheck: 5_000,
  hook: 5_000,
  drain: 10_000,
  replace: 30_000,
  verify: 15_000,
  soak: 0,
  finalize: 10_000,
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Expected duration of one step of `kind` in ms: the median of the observed `durations` of that
 * kind (ignoring negative or non-finite entries) when there are any, else
 * `rules.stepEstimatesMs[kind]`, else {@link DEFAULT_STEP_ESTIMATES_MS}.
 */
export function stepEstimate(
  kind: StepKind,
  durations: Partial<Record<StepKind, number[]>> | undefined,
  rules: EngineRules,
): number {
  const observed = (durations?.[kind] ?? []).filter((d) => Number.isFinite(d) && d >= 0);
  if (observed.length > 0) return median(observed);
  return rules.stepEstimatesMs[kind] ?? DEFAULT_STEP_ESTIMATES_MS[kind];
}

/**
 * Remaining time in ms for `members` replacements (each replace + verify), `leaders` drains and
 * `batches` soaks of `soakMs` each, rounded to a whole millisecond. When the engine's members take
 * each step together per batch (`rules.steps.batchTogether`, node pools), each batch costs one
 * drain, replace, verify and soak.
 */
export function estimateRemainingMs(
  remaining: { members: number; leaders: number; batches: number },
  soakMs: number,
  durations: Partial<Record<StepKind, number[]>> | undefined,
  rules: EngineRules,
): number {
  const perMember = stepEstimate('replace', durations, rules) + stepEstimate('verify', durations, rules);
  if (rules.steps?.batchTogether) {
    // The members of a batch are drained, replaced and verified together: a batch lasts one member.
    const perBatch = perMember + stepEstimate('drain', durations, rules) + soakMs;
    return Math.round(Math.min(remaining.batches, remaining.members) * perBatch);
  }
  const total =
    remaining.members * perMember +
    remaining.leaders * stepEstimate('drain', durations, rules) +
    remaining.batches * soakMs;
  return Math.round(total);
}
