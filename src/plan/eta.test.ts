import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EngineRules } from '../core/rules.js';
import { DEFAULT_STEP_ESTIMATES_MS, estimateRemainingMs, stepEstimate } from './eta.js';

const rules: EngineRules = {
  name: 'etcd',
  title: 'etcd',
  components: [{ name: 'etcd', topology: 'raft', stage: 'cluster', prerequisites: [], quorum: true }],
  versions: { direct: () => ({ ok: true }), allowDowngrade: () => ({ ok: true }) },
  prechecks: [],
  hooks: [],
  drainTimeoutProceedSafe: false,
  stepEstimatesMs: { replace: 4_000, verify: 1_000, drain: 300 },
};

test('stepEstimate: median of observations, else the engine figure, else the default', () => {
  assert.equal(stepEstimate('replace', { replace: [9_000, 1_000, 5_000] }, rules), 5_000);
  assert.equal(stepEstimate('replace', { replace: [1_000, 2_000, 6_000, 100_000] }, rules), 4_000);
  assert.equal(stepEstimate('replace', { replace: [Number.NaN, -5, 700] }, rules), 700);
  assert.equal(stepEstimate('replace', { replace: [] }, rules), 4_000);
  assert.equal(stepEstimate('replace', undefined, rules), 4_000);
  assert.equal(stepEstimate('finalize', { replace: [1] }, rules), DEFAULT_STEP_ESTIMATES_MS.finalize);
});

test('estimateRemainingMs: members * (replace + verify) + leaders * drain + batches * soak', () => {
  assert.equal(
    estimateRemainingMs({ members: 3, leaders: 1, batches: 3 }, 2_000, undefined, rules),
    3 * 5_000 + 300 + 6_000,
  );
  assert.equal(
    estimateRemainingMs(
      { members: 2, leaders: 0, batches: 1 },
      0,
      { replace: [100, 200], verify: [50] },
      rules,
    ),
    2 * (150 + 50),
  );
  assert.equal(estimateRemainingMs({ members: 0, leaders: 0, batches: 0 }, 10_000, undefined, rules), 0);
});
