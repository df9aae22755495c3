/**
 * How many members go at once: serial, a fixed count, a percent of the component, or exponential
 * (1, 2, 4, ... capped at a percent, back to 1 after every pause, as ACK rolls node pools).
 */
import { BadInputError } from '../core/errors.js';
import type { BatchPolicy } from '../core/types.js';
import type { StopTally } from './safety.js';

/** Cap of exponential batches when a user asks for exponential without one (ACK: 10%). */
export const DEFAULT_EXPONENTIAL_CAP_PERCENT = 10;

/** Where pauses fall, so exponential sizing restarts at 1 after each (see {@link splitBatches}). */
export interface PauseSchedule {
  /** A pause follows the first batch. */
  afterFirst?: boolean;
  /** A pause follows every batch. */
  afterEach?: boolean;
}

/**
 * Size of the next batch of a component with `memberCount` members (the basis of percents), when
 * `batchesSincePause` batches have started since the upgrade started or was last resumed.
 *
 * serial: 1. fixed: min(size, memberCount). percent: max(1, floor(memberCount * percent / 100)).
 * exponential: 2^batchesSincePause capped at max(1, floor(memberCount * capPercent / 100)).
 * Never below 1, so a caller always makes progress; the caller takes at most what remains.
 */
export function batchSize(policy: BatchPolicy, memberCount: number, batchesSincePause: number): number {
  const count = Math.max(0, Math.floor(memberCount));
  switch (policy.kind) {
    case 'serial':
      return 1;
    case 'fixed':
      return Math.max(1, Math.min(Math.floor(policy.size), count));
    case 'percent':
      return Math.max(1, Math.floor((count * policy.percent) / 100));
    case 'exponential': {
      const cap = Math.max(1, Math.floor((count * policy.capPercent) / 100));
      const step = Math.max(0, Math.floor(batchesSincePause));
      // 2^31 already exceeds any member count; avoids huge exponents.
      return Math.min(cap, 2 ** Math.min(step, 31));
    }
  }
}

/**
 * `names` (already in safe order) cut into consecutive batches by `policy`. Every name appears in
 * exactly one batch, in order. Exponential sizing counts batches from the first one and restarts at
 * 1 after each pause in `pauses` (none by default). Throws BadInputError for an invalid policy.
 */
export function splitBatches(policy: BatchPolicy, names: string[], pauses: PauseSchedule = {}): string[][] {
  validateBatchPolicy(policy);
  const batches: string[][] = [];
  let sincePause = 0;
  for (let i = 0; i < names.length;) {
    const size = batchSize(policy, names.length, sincePause);
    batches.push(names.slice(i, i + size));
    i += size;
    sincePause += 1;
    if (pauses.afterEach || (pauses.afterFirst && batches.length === 1)) sincePause = 0;
  }
  return batches;
}

/** A denial by a named check, as the safety predicates give it. */
export interface BatchDenial {
  check: string;
  reason: string;
}

/** The checks a batch must pass, tried one member at a time (built from the safety tallies). */
export interface BatchGate {
  /** Adds `name` to the batch held when every check allows the batch with it; false (and nothing added) otherwise. */
  admit(name: string): boolean;
  /** The first check that refuses the batch held with `name` added, and why (nothing changes). */
  denial(name: string): BatchDenial;
  /** Takes `name` out of the batch held. */
  release(name: string): void;
}

/** A {@link BatchGate} over `tallies`, in order: the first that refuses a member is its denial. */
export function batchGate(tallies: StopTally[]): BatchGate {
  const add = (name: string) => tallies.forEach((t) => t.add(name));
  const release = (name: string) => tallies.forEach((t) => t.remove(name));
  return {
    admit(name) {
      add(name);
      if (tallies.every((t) => t.allows())) return true;
      release(name);
      return false;
    },
    denial(name) {
      add(name);
      const verdict = tallies.find((t) => !t.allows())?.verdict();
      release(name);
      return verdict
        ? { check: verdict.check, reason: verdict.reason }
        : { check: 'internal', reason: `${name} was refused by no check` };
    },
    release,
  };
}

/**
 * The next batch: up to `size` names of `ordered` (already in safe order) from index `from`, each
 * admitted only when `gate` finds nothing against the batch with it added. Without `skip` the batch
 * ends at the first refusal, so the safety order holds (leader last); with `skip` a refused name is
 * passed over and later ones are tried (a node pool, where the order carries no leadership). The
 * first denial is returned, so a caller with an empty batch can say what blocks it. The gate holds
 * the batch chosen when this returns. O(names tried) gate calls, one denial at most.
 */
export function chooseBatch(
  ordered: readonly string[],
  size: number,
  gate: BatchGate,
  skip: boolean,
  from = 0,
): { batch: string[]; denial?: BatchDenial } {
  const batch: string[] = [];
  let denial: BatchDenial | undefined;
  for (let i = from; i < ordered.length && batch.length < size; i++) {
    const name = ordered[i]!;
    if (gate.admit(name)) {
      batch.push(name);
      continue;
    }
    denial ??= gate.denial(name);
    if (!skip) break;
  }
  return { batch, ...(denial ? { denial } : {}) };
}

/**
 * {@link splitBatches} with the same choice the runner makes for each batch: `gate` may refuse a
 * name in a batch (database members hosted together), and with `skip` a refused name waits for a
 * later batch instead of ending this one. A name refused even alone gets a batch of its own.
 */
export function planBatches(
  policy: BatchPolicy,
  names: string[],
  pauses: PauseSchedule,
  gate: BatchGate,
  skip: boolean,
): string[][] {
  validateBatchPolicy(policy);
  const batches: string[][] = [];
  let left = [...names];
  // Names before `start` are taken: a batch that is a prefix of what is left (no name passed over,
  // the usual case) moves `start` on instead of copying what is left.
  let start = 0;
  let sincePause = 0;
  while (start < left.length) {
    const size = batchSize(policy, names.length, sincePause);
    let { batch } = chooseBatch(left, size, gate, skip, start);
    // Each batch is checked on its own: the gate is emptied for the next one.
    for (const name of batch) gate.release(name);
    if (batch.length === 0) batch = [left[start]!];
    batches.push(batch);
    if (batch.every((n, i) => left[start + i] === n)) start += batch.length;
    else {
      const taken = new Set(batch);
      left = left.slice(start).filter((n) => !taken.has(n));
      start = 0;
    }
    sincePause += 1;
    if (pauses.afterEach || (pauses.afterFirst && batches.length === 1)) sincePause = 0;
  }
  return batches;
}

/** The largest batch `policy` ever makes in a component of `memberCount` members. */
export function largestBatch(policy: BatchPolicy, memberCount: number): number {
  return batchSize(policy, memberCount, 31);
}

function inPercentRange(value: number): boolean {
  return Number.isFinite(value) && value > 0 && value <= 100;
}

/**
 * Throws BadInputError (`bad-batch-policy`) unless the policy is usable: a known kind, a fixed
 * size that is an integer of at least 1, a percent or capPercent in (0, 100].
 */
export function validateBatchPolicy(policy: BatchPolicy): void {
  const kind = (policy as { kind?: unknown }).kind;
  switch (policy.kind) {
    case 'serial':
      return;
    case 'fixed':
      if (!Number.isInteger(policy.size) || policy.size < 1) {
        throw new BadInputError(
          'bad-batch-policy',
          `fixed batch size ${policy.size} is invalid: use a whole number of members, at least 1`,
        );
      }
      return;
    case 'percent':
      if (!inPercentRange(policy.percent)) {
        throw new BadInputError(
          'bad-batch-policy',
          `batch percent ${policy.percent} is invalid: use a number above 0 and at most 100`,
        );
      }
      return;
    case 'exponential':
      if (!inPercentRange(policy.capPercent)) {
        throw new BadInputError(
          'bad-batch-policy',
          `exponential batch capPercent ${policy.capPercent} is invalid: use a number above 0 and at most 100 (default ${DEFAULT_EXPONENTIAL_CAP_PERCENT})`,
        );
      }
      return;
    default:
      throw new BadInputError(
        'bad-batch-policy',
        `unknown batch policy kind ${JSON.stringify(kind)}: use serial, fixed, percent or exponential`,
      );
  }
}
