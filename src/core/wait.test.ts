import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from './clock.js';
import { OperationalError } from './errors.js';
import { nullLogger } from './logger.js';
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

test('waitUntil shows its reason while it waits: when the wait starts and each time it reads differently', async () => {
  const clock = new FakeClock();
  const start = clock.now();
  const lines: { msg: string; fields?: Record<string, unknown> }[] = [];
  const logger = {
    ...nullLogger,
    info: (msg: string, fields?: Record<string, unknown>) => lines.push({ msg, fields }),
  };
  let checks = 0;
  const v = await waitUntil(
    () => `db-1 to be promoted (${checks < 3 ? 'still a standby' : 'leaving recovery'})`,
    async () => (++checks === 5 ? 'done' : undefined),
    { clock, deadline: start + 10_000, pollMs: 100, logger, fields: { member: 'db-1' } },
  );
  assert.equal(v, 'done');
  assert.deepEqual(lines, [
    {
      msg: 'waiting for db-1 to be promoted (still a standby)',
      fields: { member: 'db-1', waitedMs: 0, leftMs: 10_000 },
    },
    {
      msg: 'waiting for db-1 to be promoted (leaving recovery)',
      fields: { member: 'db-1', waitedMs: 200, leftMs: 9_800 },
    },
  ]);
});

test('waitUntil checks one last time at its deadline, never past it, and an answer at once logs nothing', async () => {
  const clock = new FakeClock();
  const start = clock.now();
  const seen: number[] = [];
  await assert.rejects(
    waitUntil(
      'nothing',
      async () => {
        seen.push(clock.now() - start);
        return undefined;
      },
      { clock, deadline: start + 250, pollMs: 100 },
    ),
    (err: unknown) => err instanceof OperationalError && err.code === 'wait-timeout',
  );
  assert.deepEqual(seen, [0, 100, 200, 250]);
  const lines: string[] = [];
  const logger = { ...nullLogger, info: (msg: string) => lines.push(msg) };
  assert.equal(await waitUntil('x', async () => 1, { clock, deadline: clock.now(), pollMs: 100, logger }), 1);
  assert.deepEqual(lines, []);
});

test('waitUntil checks again at once when its wake event settles, then goes back to polling', async () => {
  const clock = new FakeClock();
  // A clock whose sleeps end only when aborted: only the wake event can bring another check.
  const stalled = {
    now: () => clock.now(),
    sleep: (_ms: number, signal?: AbortSignal) =>
      new Promise<void>((_resolve, reject) =>
        signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true }),
      ),
  };
  const stop = new AbortController();
  let fire: () => void = () => {};
  const wake = new Promise<void>((resolve) => (fire = resolve));
  let checks = 0;
  const waiting = waitUntil('the exit', async () => void (checks += 1), {
    clock: stalled,
    deadline: clock.now() + 10_000,
    pollMs: 60_000,
    wake,
    signal: stop.signal,
  });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  await settle();
  assert.equal(checks, 1);
  fire();
  await settle();
  assert.equal(checks, 2, 'the wake brought one check at once');
  await settle();
  assert.equal(checks, 2, 'and then the wait polls again instead of spinning');
  stop.abort(new Error('test over'));
  await assert.rejects(waiting, /test over/);
});
