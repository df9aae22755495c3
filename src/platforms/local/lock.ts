/**
 * An inter-process lock on a cluster directory, so two Baton processes (the runner and a CLI verb)
 * never stop or start the same member at once. The lock file holds the holder's process identity;
 * a lock whose holder is gone (killed with -9, crashed) is broken at once instead of after a
 * timeout, because a PID plus start time cannot be confused with a live process.
 */
import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../core/clock.js';
import { OperationalError } from '../../core/errors.js';
import type { ProcessIdentity } from './process.js';
import { identify, isAlive } from './process.js';

/** Name of the lock file inside a cluster directory. */
export const LOCK_FILE = '.lock';

async function holder(path: string): Promise<ProcessIdentity | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as ProcessIdentity;
  } catch {
    return undefined;
  }
}

/**
 * Run `fn` holding `<dir>/.lock`. Waits (polling every 50 ms of `clock` time) while a live process
 * holds it, for at most `timeoutMs` (default 60 s), then fails with OperationalError naming the
 * holder's PID. A lock left by a dead process, or one that cannot be parsed after a grace period,
 * is removed.
 */
export async function withClusterLock<T>(
  dir: string,
  clock: Clock,
  fn: () => Promise<T>,
  timeoutMs = 60_000,
): Promise<T> {
  const path = join(dir, LOCK_FILE);
  const me = await identify(process.pid);
  const deadline = clock.now() + timeoutMs;
  let unreadableSince: number | undefined;
  for (;;) {
    try {
      const fh = await open(path, 'wx', 0o644);
      try {
        await fh.writeFile(JSON.stringify(me ?? { pid: process.pid }));
      } finally {
        await fh.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const held = await holder(path);
    if (held && !(await isAlive(held))) {
      await unlink(path).catch(() => undefined);
      continue;
    }
    if (!held) {
      // Written by open('wx') and filled right after: empty only for an instant, unless its
      // writer died in between.
      unreadableSince ??= clock.now();
      if (clock.now() - unreadableSince > 1_000) {
        await unlink(path).catch(() => undefined);
        unreadableSince = undefined;
        continue;
      }
    }
    if (clock.now() >= deadline) {
      throw new OperationalError(
        'cluster-locked',
        `cluster directory ${dir} is locked by process ${held?.pid ?? '?'} for more than ${timeoutMs} ms; wait for it to finish`,
      );
    }
    await clock.sleep(50);
  }
  try {
    return await fn();
  } finally {
    await unlink(path).catch(() => undefined);
  }
}
