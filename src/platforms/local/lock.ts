/**
 * Baton's one inter-process lock on this machine: a file holding its holder's identity (host, PID,
 * process start time, boot id, and a token unique to this acquisition). Used for a cluster
 * directory (two Baton processes never stop or start the same member at once), for each upgrade's
 * journal files (platforms/local/journal.ts), and for the one foreground driver of an upgrade
 * (cli/driver.ts). A lock whose holder is gone (killed with -9, crashed, its PID reused after a
 * reboot or a wrap-around) is taken over at once instead of after a timeout, because a PID plus
 * start time and boot id cannot be confused with a live process; a live holder's never is.
 *
 * Taking a stale lock over is atomic: among contenders that all judged the same lock file stale,
 * exactly one replaces it. The contender first takes the lock's takeover marker (`<lock>.takeover-
 * <digest of the stale content>`, itself a lock taken the same way, so a contender that dies
 * holding it is taken over too), checks the lock still holds exactly that content, and renames its
 * own file over it: the lock path never goes missing during a takeover, so a third process cannot
 * slip in, and a late contender finds a live holder instead of deleting its lock.
 */
import { createHash, randomUUID } from 'node:crypto';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../core/clock.js';
import { OperationalError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { waitUntil } from '../../core/wait.js';
import type { ProcessIdentity } from './process.js';
import { identify, isAlive } from './process.js';

/** Name of the lock file inside a cluster directory. */
export const LOCK_FILE = '.lock';

/** Takeover markers of a marker, and so on: each level needs a contender to die mid-takeover. */
const MAX_TAKEOVER_DEPTH = 3;

/** Who holds a lock: the process, where it runs, and this one acquisition. */
export interface LockHolder extends ProcessIdentity {
  /** Host name of the holder; a holder on another host is never taken over from this one. */
  host?: string;
  /** Unique per acquisition, so a takeover replaces exactly the lock file it judged stale. */
  token?: string;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const h = JSON.parse(text) as LockHolder;
    return typeof h?.pid === 'number' ? h : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `held` still holds its lock: its process runs (same PID, start time and boot). A holder
 * recorded on another host cannot be checked from here and counts as live.
 */
async function holderAlive(held: LockHolder): Promise<boolean> {
  if (held.host !== undefined && held.host !== hostname()) return true;
  return isAlive(held);
}

/** "process 123" (and its host when it is not this one), for messages. */
export function describeHolder(held: LockHolder | undefined): string {
  if (!held) return 'an unknown process';
  return `process ${held.pid}${held.host !== undefined && held.host !== hostname() ? ` on host ${held.host}` : ''}`;
}

/** The outcome of {@link tryLock}: held (release it when done), or held by someone else. */
export type LockAttempt = { release: () => Promise<void> } | { holder: LockHolder | undefined };

/**
 * Take `path` with the file `draft` (holding `text`): `true` when taken, else the live holder in
 * the way (undefined when it could not be read). A stale holder's file is replaced under its
 * takeover marker (see the module comment).
 */
async function acquire(
  path: string,
  draft: string,
  text: string,
  token: string,
  depth: number,
): Promise<true | LockHolder | undefined> {
  let held: LockHolder | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await link(draft, path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const seen = await readText(path);
    if (seen === undefined) continue; // released meanwhile: try again
    held = parseHolder(seen);
    if (held && (await holderAlive(held))) return held;
    // Stale (or unreadable, left by an older writer): replace exactly this content, or nothing.
    if (depth >= MAX_TAKEOVER_DEPTH) return held;
    const marker = `${path}.takeover-${createHash('sha256').update(seen).digest('hex').slice(0, 16)}`;
    const taking = await acquire(marker, draft, text, token, depth + 1);
    // Another contender is taking it over: it is the holder to report.
    if (taking !== true) return taking ?? held;
    try {
      if ((await readText(path)) !== seen) continue; // replaced or released already
      const swap = `${path}.${token}.${depth}.swap`;
      await writeFile(swap, text, { mode: 0o644, flag: 'wx' });
      try {
        await rename(swap, path);
      } catch (err) {
        await unlink(swap).catch(() => undefined);
        throw err;
      }
      return true;
    } finally {
      await unlink(marker).catch(() => undefined);
    }
  }
  return held;
}

/**
 * Try once, without waiting, to take the lock file `path` for this process. The file holds the
 * holder's identity ({@link LockHolder}), so a lock whose holder is gone is taken over at once -
 * by exactly one of several contenders - and a live holder's never is. The file appears with its
 * content in one step (written beside it, then hard-linked or renamed into place), so a holder
 * killed while taking the lock leaves no empty file: a lock file that cannot be read was left by an
 * older writer and is taken over too.
 */
export async function tryLock(path: string): Promise<LockAttempt> {
  const token = randomUUID();
  const me: LockHolder = {
    ...((await identify(process.pid)) ?? { pid: process.pid, startTicks: -1, bootId: '' }),
    host: hostname(),
    token,
  };
  const text = JSON.stringify(me);
  const draft = `${path}.${token}.tmp`;
  await writeFile(draft, text, { mode: 0o644, flag: 'wx' });
  try {
    const got = await acquire(path, draft, text, token, 0);
    if (got !== true) return { holder: got };
    return {
      // Ours until released: nobody takes over a live holder's lock.
      release: async () => {
        if ((await readText(path).catch(() => undefined)) === text) await unlink(path).catch(() => undefined);
      },
    };
  } finally {
    await unlink(draft).catch(() => undefined);
  }
}

/** The holder in lock file `path` when it still holds it (see {@link tryLock}). */
export async function liveHolder(path: string): Promise<LockHolder | undefined> {
  const text = await readText(path);
  const held = text === undefined ? undefined : parseHolder(text);
  return held && (await holderAlive(held)) ? held : undefined;
}

/**
 * Run `fn` holding the lock file `path` (see {@link tryLock}). Waits (core/wait.ts, on `clock`,
 * checking every `pollMs`, the holder shown through `logger`) while a live process holds it, for
 * at most `timeoutMs`, then fails with OperationalError `code` naming the holder.
 */
export async function withFileLock<T>(
  path: string,
  clock: Clock,
  fn: () => Promise<T>,
  opts: { timeoutMs: number; pollMs: number; code: string; what: string; logger?: Logger },
): Promise<T> {
  let holder: LockHolder | undefined;
  let lock: { release: () => Promise<void> };
  try {
    lock = await waitUntil(
      () => `${opts.what} to be unlocked (held by ${describeHolder(holder)})`,
      async () => {
        const attempt = await tryLock(path);
        if ('release' in attempt) return attempt;
        holder = attempt.holder;
        return undefined;
      },
      {
        clock,
        deadline: clock.now() + opts.timeoutMs,
        pollMs: opts.pollMs,
        code: 'lock-wait-timeout',
        ...(opts.logger ? { logger: opts.logger, fields: { lock: path } } : {}),
      },
    );
  } catch (err) {
    if (!(err instanceof OperationalError) || err.code !== 'lock-wait-timeout') throw err;
    throw new OperationalError(
      opts.code,
      `${opts.what} is locked by ${describeHolder(holder)} for more than ${opts.timeoutMs} ms; wait for it to finish`,
    );
  }
  try {
    return await fn();
  } finally {
    await lock.release();
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
