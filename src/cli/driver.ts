/**
 * At most one foreground driver per upgrade on one machine: `baton apply` and `baton resume` take a
 * driver lock next to the journal (`driver.json`, the local platform's lock file: host, PID, process start
 * time and boot id); a second command that finds a live driver only changes the spec and lets that
 * driver act. A driver killed with -9 - or one whose PID now belongs to another process - leaves a
 * lock that the next driver takes over.
 */
import { join } from 'node:path';
import type { JournalStore } from '../core/ports.js';
import { FileJournalStore } from '../platforms/local/journal.js';
import { liveHolder, tryLock } from '../platforms/local/lock.js';

function driverFile(journal: FileJournalStore, name: string): string {
  return join(journal.dir, name, 'driver.json');
}

/** The PID of a live driver of `name` other than this process, if any. */
export async function liveDriver(journal: JournalStore, name: string): Promise<number | undefined> {
  if (!(journal instanceof FileJournalStore)) return undefined;
  const held = await liveHolder(driverFile(journal, name));
  return held && held.pid !== process.pid ? held.pid : undefined;
}

/**
 * Become the driver of `name`. Returns a release function, or the PID of the live driver that
 * already holds it. Journals that are not files (Kubernetes, memory) need no driver lock.
 */
export async function acquireDriver(
  journal: JournalStore,
  name: string,
): Promise<{ release: () => Promise<void> } | { heldBy: number }> {
  if (!(journal instanceof FileJournalStore)) return { release: async () => {} };
  const attempt = await tryLock(driverFile(journal, name));
  if ('release' in attempt) return attempt;
  return { heldBy: attempt.holder?.pid ?? 0 };
}
