/**
 * The history's limit: past {@link HISTORY_LIMIT} entries the oldest are folded into one summary
 * entry that counts every entry it stands for, through later folds too.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UpgradeSpec } from '../core/types.js';
import { HISTORY_LIMIT, newStatus, record } from './status.js';

describe('record: the history limit', () => {
  it('folds the oldest entries into one summary that keeps counting across folds', () => {
    const status = newStatus({ name: 'u', engine: 'kv', version: '2.0.0', generation: 1 } as UpgradeSpec, 0);
    const extra = 1_500;
    for (let i = 1; i < HISTORY_LIMIT + extra; i++) {
      record(status, { at: i, type: 'step', member: `m-${i}`, message: `step ${i}` });
    }
    // 1 creation entry + HISTORY_LIMIT + extra - 1 steps, of which HISTORY_LIMIT - 1 are kept.
    assert.equal(status.history.length, HISTORY_LIMIT);
    const [summary, first] = status.history;
    assert.equal(summary!.type, 'summary');
    assert.equal(summary!.message, `${extra + 1} older history entries folded`);
    assert.equal(summary!.at, 0, 'the summary starts where the oldest folded entry did');
    assert.equal(first!.message, `step ${extra + 1}`);
    assert.equal(status.history.at(-1)!.message, `step ${HISTORY_LIMIT + extra - 1}`);
  });
});
