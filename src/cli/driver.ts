/**
 * At most one foreground driver per upgrade on one machine: `baton apply` and `baton resume` take a
 * driver file next to the journal (`driver.json` with the PID); a second command that finds a live
 * driver only changes the spec and lets that driver act. A driver killed with -9 leaves a file whose
 * PID is dead, which the next driver takes over.
 */
import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { JournalStore } from '../core/ports.js';
import { FileJournalStore } from '../platforms/local/journal.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The PID of a live driver of `name`, if any. */
export async function liveDriver(journal: JournalStore, name: string): Promise<number | undefined> {
  if (!(journal instanceof FileJournalStore)) return undefined;
  try {
    const { pid } = JSON.parse(await readFile(join(journal.dir, name, 'driver.json'), 'utf8')) as {
      pid: number;
    };
    return pid !== process.pid && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Become the driver of `name`. Returns a release function, or the PID of the live driver that
 * already holds it. Journals that are not files (Kubernetes, memory) need no driver file.
 */
export async function acquireDriver(
  journal: JournalStore,
  name: string,
): Promise<{ release: () => Promise<void> } | { heldBy: number }> {
  if (!(journal instanceof FileJournalStore)) return { release: async () => {} };
  const path = join(journal.dir, name, 'driver.json');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(JSON.stringify({ pid: process.pid, since: new Date().toISOString() }));
      await fh.close();
      return {
        release: async () => {
          await unlink(path).catch(() => {});
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = await liveDriver(journal, name);
      if (holder !== undefined) return { heldBy: holder };
      await unlink(path).catch(() => {});
    }
  }
  return { release: async () => {} };
}
