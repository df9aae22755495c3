import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { systemClock } from '../../core/clock.js';
import { LOCK_FILE, withClusterLock } from './lock.js';
import type { ProcessIdentity } from './process.js';
import { identify, spawnDetached, stopProcess } from './process.js';

const dir = await mkdtemp(join(tmpdir(), 'baton-lock-'));
const started: ProcessIdentity[] = [];
after(async () => {
  for (const id of started) await stopProcess(id, { timeoutMs: 100, clock: systemClock });
  await rm(dir, { recursive: true, force: true });
});

test('holders never overlap and the lock file is gone afterwards', async () => {
  let inside = 0;
  let most = 0;
  const work = async () => {
    inside++;
    most = Math.max(most, inside);
    await systemClock.sleep(20);
    inside--;
  };
  await Promise.all([1, 2, 3, 4].map(() => withClusterLock(dir, systemClock, work)));
  assert.equal(most, 1);
  await assert.rejects(stat(join(dir, LOCK_FILE)), /ENOENT/);
});

test('a lock left by a dead process is broken at once', async () => {
  const me = await identify(process.pid);
  assert.ok(me);
  await writeFile(join(dir, LOCK_FILE), JSON.stringify({ ...me, startTicks: me.startTicks + 1 }));
  assert.equal(await withClusterLock(dir, systemClock, async () => 'ran', 1_000), 'ran');
});

test('an empty lock file (its writer killed while creating it) is taken over at once, no draft left', async () => {
  await writeFile(join(dir, LOCK_FILE), '');
  // A timeout shorter than any wait: the lock must be taken over, not waited for.
  assert.equal(await withClusterLock(dir, systemClock, async () => 'ran', 100), 'ran');
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.startsWith(LOCK_FILE)),
    [],
  );
});

test('a lock held by a live process makes others wait, then fail naming the holder', async () => {
  const holder = await spawnDetached({
    command: process.execPath,
    args: ['-e', 'setInterval(() => {}, 1000)'],
    env: {},
    logFile: join(dir, 'holder.log'),
  });
  started.push(holder);
  await writeFile(join(dir, LOCK_FILE), JSON.stringify(holder));
  await assert.rejects(
    withClusterLock(dir, systemClock, async () => 'ran', 200),
    (e: Error & { code?: string }) => e.code === 'cluster-locked' && e.message.includes(String(holder.pid)),
  );
  await stopProcess(holder, { timeoutMs: 2_000, clock: systemClock });
  assert.equal(await withClusterLock(dir, systemClock, async () => 'ran', 1_000), 'ran');
});
