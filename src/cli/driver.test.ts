import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { systemClock } from '../core/clock.js';
import { FileJournalStore } from '../platforms/local/journal.js';
import { identify, spawnDetached, stopProcess, type ProcessIdentity } from '../platforms/local/process.js';
import { acquireDriver, liveDriver } from './driver.js';

const dir = await mkdtemp(join(tmpdir(), 'baton-driver-'));
const started: ProcessIdentity[] = [];
after(async () => {
  for (const id of started) await stopProcess(id, { timeoutMs: 100, clock: systemClock });
  await rm(dir, { recursive: true, force: true });
});

async function journalWith(name: string, lock: unknown): Promise<FileJournalStore> {
  const journal = new FileJournalStore(join(dir, name));
  await mkdir(join(journal.dir, 'u'), { recursive: true });
  if (lock !== undefined) await writeFile(join(journal.dir, 'u', 'driver.json'), JSON.stringify(lock));
  return journal;
}

test('a driver lock whose PID now belongs to another process (start time differs) is taken over', async () => {
  const me = await identify(process.pid);
  assert.ok(me);
  // Same PID as a live process (this one), another start time: the recorded driver is dead and its
  // PID was reused, which a PID-only check would take for a live driver.
  const journal = await journalWith('reused', { ...me, pid: process.pid, startTicks: me.startTicks - 1 });
  assert.equal(await liveDriver(journal, 'u'), undefined);
  const got = await acquireDriver(journal, 'u');
  assert.ok('release' in got, 'the stale lock is taken over');
  const held = JSON.parse(await readFile(join(journal.dir, 'u', 'driver.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  // The holder's identity (PID, start time, boot id), beside the lock's own host and token.
  const identity = Object.fromEntries(Object.keys(me).map((k) => [k, held[k]]));
  assert.deepEqual(identity, me, 'the lock now names this process with its start time');
  assert.equal(typeof held.token, 'string', 'each acquisition has its token');
  await got.release();
});

test('a driver lock held by a live process is not taken over', async () => {
  const holder = await spawnDetached({
    command: process.execPath,
    args: ['-e', 'setInterval(() => {}, 1000)'],
    env: {},
    logFile: join(dir, 'holder.log'),
  });
  started.push(holder);
  const journal = await journalWith('live', holder);
  assert.equal(await liveDriver(journal, 'u'), holder.pid);
  assert.deepEqual(await acquireDriver(journal, 'u'), { heldBy: holder.pid });
  await stopProcess(holder, { timeoutMs: 2_000, clock: systemClock });
  const got = await acquireDriver(journal, 'u');
  assert.ok('release' in got, 'once the holder is gone its lock is taken over');
  await got.release();
});

test('two drivers of one upgrade: the second is told the first one PID', async () => {
  const journal = await journalWith('two', undefined);
  const first = await acquireDriver(journal, 'u');
  assert.ok('release' in first);
  assert.equal(await liveDriver(journal, 'u'), undefined, 'this process is not "another" driver');
  assert.deepEqual(await acquireDriver(journal, 'u'), { heldBy: process.pid });
  await first.release();
});
