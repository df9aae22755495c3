/** The orchestration-overhead arithmetic of `npm run bench:local`, on hand-made journals. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HistoryEntry, MemberProgress, UpgradeStatus } from '../../src/core/types.js';
import { median, orchestrationOverhead } from '../../bench/local.js';

function status(
  history: [number, string?][],
  finished: Record<string, number>,
  finishedAt: number | undefined,
): UpgradeStatus {
  const members: Record<string, MemberProgress> = {};
  for (const [name, at] of Object.entries(finished)) {
    members[name] = {
      component: 'c',
      state: 'done',
      from: '1',
      to: '2',
      since: at,
      replaceCalls: 1,
      finishedAt: at,
    };
  }
  const entries: HistoryEntry[] = history.map(([at, member]) => ({
    at,
    type: 'step',
    message: member ? `${member}: step` : 'phase',
    ...(member ? { member } : {}),
  }));
  return { history: entries, members, finishedAt } as unknown as UpgradeStatus;
}

test('overhead is the time no member interval covers, split before, between and after', () => {
  // Created at 1000; a: 1200-2000; b: 2100-3000; c starts inside b's interval at 2900 and ends 3500;
  // finished at 3600.
  const s = status(
    [[1000], [1200, 'a'], [1500, 'a'], [2100, 'b'], [2900, 'c'], [3000, 'b']],
    { a: 2000, b: 3000, c: 3500 },
    3600,
  );
  assert.deepEqual(orchestrationOverhead(s), {
    totalMs: 2600,
    overheadMs: 200 + 100 + 100,
    overheadPct: 15.4,
    beforeFirstMs: 200,
    betweenMs: 100,
    afterLastMs: 100,
  });
});

test('an unfinished upgrade or member is refused', () => {
  assert.throws(() => orchestrationOverhead(status([[0], [1, 'a']], { a: 5 }, undefined)), /not finished/);
  const s = status([[0], [1, 'a']], { a: 5 }, 10);
  delete s.members.a!.finishedAt;
  assert.throws(() => orchestrationOverhead(s), /a never finished/);
});

test('median of odd and even counts', () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

test('a later start (the probe connecting) moves the beginning of the upgrade', () => {
  const s = status([[1000], [1200, 'a']], { a: 2000 }, 2100);
  const o = orchestrationOverhead(s, 1150);
  assert.equal(o.totalMs, 950);
  assert.equal(o.beforeFirstMs, 50);
  assert.equal(o.overheadMs, 150);
  assert.equal(orchestrationOverhead(s, 900).totalMs, 1100);
});
