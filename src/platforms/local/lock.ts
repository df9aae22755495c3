/**
 * Baton's one inter-process lock on this machine: a file holding the holder's process identity.
 * Used for a cluster directory (two Baton processes never stop or start the same member at once),
 * for each upgrade's journal files (platforms/local/journal.ts), and for the one foreground driver of
 * an upgrade (cli/driver.ts). The lock file holds the holder's process identity;
 * a lock whose holder is gone (killed with -9, crashed) is broken at once instead of after a
 * timeout, because a PID plus start time cannot be confused with a live process.
 */
import { randomUUID } from 'node:crypto';
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
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

/** The outcome of {@link tryLock}: held (release it when done), or held by someone else. */
export type LockAttempt = { release: () => Promise<void> } | { holder: ProcessIdentity | undefined };

/**
 * Try once, without waiting, to take the lock file `path` for this process. The file holds the
 * holder's identity (PID, process start time, boot id), so a lock whose holder is gone - killed
 * with -9, or its PID reused by another process after a reboot or a wrap-around - is taken over at
 * once, and a live holder's never is. The file appears with its content in one step (written
 * beside it, then hard-linked into place), so a holder killed while taking the lock leaves no
 * empty file: a lock file that cannot be read was left by an older writer and is taken over too.
 */
export async function tryLock(path: string): Promise<LockAttempt> {
  const me = (await identify(process.pid)) ?? { pid: process.pid, startTicks: -1, bootId: '' };
  const draft = `${path}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(draft, JSON.stringify(me), { mode: 0o644 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(draft, path);
        return { release: () => unlink(path).catch(() => undefined) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const held = await holder(path);
      if (!held || !(await isAlive(held))) {
        await unlink(path).catch(() => undefined);
        continue;
      }
      return { holder: held };
    }
    return { holder: await holder(path) };
  } finally {
    await unlink(draft).catch(() => undefined);
  }
}

/** The identity in lock file `path` when that process still runs (see {@link tryLock}). */
export async function liveHolder(path: string): Promise<ProcessIdentity | undefined> {
  const held = await holder(path);
  return held && (await isAlive(held)) ? held : undefined;
}

/**
 * Run `fn` holding the lock file `path` (see {@link tryLock}). Waits, polling every `pollMs` of
 * `clock` time, while a live process holds it, for at most `timeoutMs`, then fails with
 * OperationalError `code` naming the holder's PID. A file that stays unreadable for a second is
 * left over by a writer that died while creating it, and is removed.
 */
export async function withFileLock<T>(
  path: string,
  clock: Clock,
  fn: () => Promise<T>,
  opts: { timeoutMs: number; pollMs: number; code: string; what: string },
): Promise<T> {
  const deadline = clock.now() + opts.timeoutMs;
  let unreadableSince: number | undefined;
  for (;;) {
    const attempt = await tryLock(path);
    if ('release' in attempt) {
      try {
        return await fn();
      } finally {
        await attempt.release();
      }
    }
    if (!attempt.holder) {
      unreadableSince ??= clock.now();
      if (clock.now() - unreadableSince > 1_000) {
        await unlink(path).catch(() => undefined);
        unreadableSince = undefined;
        continue;
      }
    } else unreadableSince = undefined;
    if (clock.now() >= deadline) {
      throw new OperationalError(
        opts.code,
        `${opts.what} is locked by process ${attempt.holder?.pid ?? '?'} for more than ${opts.timeoutMs} ms; wait for it to finish`,
      );
    }
    await clock.sleep(opts.pollMs);
  }
}

/**
 * Run `fn` holding `<dir>/.lock` (see {@link withFileLock}): waits while a live process holds it, for
 * at most `timeoutMs` (default 60 s), then fails with OperationalError `cluster-locked`.
 */
export async function withClusterLock<T>(
  dir: string,
  clock: Clock,
  fn: () => Promise<T>,
  timeoutMs = 60_000,
): Promise<T> {
  return withFileLock(join(dir, LOCK_FILE), clock, fn, {
    timeoutMs,
    pollMs: 50,
    code: 'cluster-locked',
    what: `cluster directory ${dir}`,
  });
}
