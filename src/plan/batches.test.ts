import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BadInputError } from '../core/errors.js';
import type { BatchPolicy } from '../core/types.js';
import { batchSize, splitBatches, validateBatchPolicy } from './batches.js';

const names = (n: number) => Array.from({ length: n }, (_, i) => `node-${i}`);
const sizes = (batches: string[][]) => batches.map((b) => b.length);

test('batchSize per policy', () => {
  const cases: [BatchPolicy, number, number, number][] = [
    [{ kind: 'serial' }, 10, 0, 1],
    [{ kind: 'serial' }, 10, 5, 1],
    [{ kind: 'fixed', size: 3 }, 10, 0, 3],
    [{ kind: 'fixed', size: 30 }, 10, 0, 10],
    [{ kind: 'percent', percent: 25 }, 10, 0, 2],
    [{ kind: 'percent', percent: 5 }, 10, 0, 1],
    [{ kind: 'percent', percent: 100 }, 7, 3, 7],
    [{ kind: 'exponential', capPercent: 10 }, 100, 0, 1],
    [{ kind: 'exponential', capPercent: 10 }, 100, 1, 2],
    [{ kind: 'exponential', capPercent: 10 }, 100, 2, 4],
    [{ kind: 'exponential', capPercent: 10 }, 100, 3, 8],
    [{ kind: 'exponential', capPercent: 10 }, 100, 4, 10],
    [{ kind: 'exponential', capPercent: 10 }, 100, 400, 10],
    [{ kind: 'exponential', capPercent: 10 }, 5, 3, 1],
    [{ kind: 'exponential', capPercent: 50 }, 9, 9, 4],
  ];
  for (const [policy, count, since, expected] of cases) {
    assert.equal(
      batchSize(policy, count, since),
      expected,
      `${JSON.stringify(policy)} count=${count} since=${since}`,
    );
  }
});

test('splitBatches covers names in order; exponential grows 1, 2, 4 up to its cap', () => {
  assert.deepEqual(sizes(splitBatches({ kind: 'serial' }, names(3))), [1, 1, 1]);
  assert.deepEqual(sizes(splitBatches({ kind: 'fixed', size: 4 }, names(10))), [4, 4, 2]);
  assert.deepEqual(sizes(splitBatches({ kind: 'percent', percent: 30 }, names(10))), [3, 3, 3, 1]);
  assert.deepEqual(
    sizes(splitBatches({ kind: 'exponential', capPercent: 10 }, names(40))),
    [1, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 1],
  );
  assert.deepEqual(splitBatches({ kind: 'fixed', size: 2 }, ['a', 'b', 'c']), [['a', 'b'], ['c']]);
  assert.deepEqual(splitBatches({ kind: 'serial' }, []), []);
});

test('splitBatches restarts exponential sizing after each scheduled pause', () => {
  const policy: BatchPolicy = { kind: 'exponential', capPercent: 20 };
  assert.deepEqual(sizes(splitBatches(policy, names(30))), [1, 2, 4, 6, 6, 6, 5]);
  assert.deepEqual(sizes(splitBatches(policy, names(30), { afterFirst: true })), [1, 1, 2, 4, 6, 6, 6, 4]);
  assert.deepEqual(sizes(splitBatches(policy, names(5), { afterEach: true })), [1, 1, 1, 1, 1]);
});

test('validateBatchPolicy refuses unusable policies with one clear line', () => {
  const bad: BatchPolicy[] = [
    { kind: 'fixed', size: 0 },
    { kind: 'fixed', size: 1.5 },
    { kind: 'percent', percent: 0 },
    { kind: 'percent', percent: 101 },
    { kind: 'percent', percent: Number.NaN },
    { kind: 'exponential', capPercent: -5 },
    { kind: 'exponential', capPercent: 150 },
    { kind: 'random' } as unknown as BatchPolicy,
  ];
  for (const policy of bad) {
    assert.throws(
      () => validateBatchPolicy(policy),
      (err: unknown) =>
        err instanceof BadInputError && err.code === 'bad-batch-policy' && !err.message.includes('\n'),
      JSON.stringify(policy),
    );
    assert.throws(() => splitBatches(policy, names(3)), BadInputError);
  }
  for (const policy of [
    { kind: 'serial' },
    { kind: 'fixed', size: 1 },
    { kind: 'percent', percent: 100 },
    { kind: 'exponential', capPercent: 0.5 },
  ] as BatchPolicy[]) {
    assert.doesNotThrow(() => validateBatchPolicy(policy));
  }
});
