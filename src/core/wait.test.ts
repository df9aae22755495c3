import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from './clock.js';
import { OperationalError } from './errors.js';
import { waitUntil } from './wait.js';

test('waitUntil checks at once, then every poll on the injected clock, and returns the first answer', async () => {
  const clock = new FakeClock();
  const start = clock.now();
  const seen: number[] = [];
  const v = await waitUntil(
    'the third check',
    async () => {
      seen.push(clock.now() - start);
      return seen.length === 3 ? 'yes' : undefined;
    },
    { clock, deadline: start + 10_000, pollMs: 500 },
  );
  assert.equal(v, 'yes');
  assert.deepEqual(seen, [0, 500, 1000]);
});

test('waitUntil fails past its deadline naming what it waited for, with the given code', async () => {
  const clock = new FakeClock();
  const start = clock.now();
  let reason = 'db-0 lag 120';
  await assert.rejects(
    waitUntil(
      () => `db-0 to catch up (${reason})`,
      async () => {
        reason = `db-0 lag ${120 - (clock.now() - start) / 100}`;
        return undefined;
      },
      { clock, deadline: start + 2_000, pollMs: 500, code: 'switchover-timeout' },
    ),
    (err: unknown) =>
      err instanceof OperationalError &&
      err.code === 'switchover-timeout' &&
      err.message === 'timed out waiting for db-0 to catch up (db-0 lag 100)',
  );
  assert.equal(clock.now() - start, 2_000);
});
