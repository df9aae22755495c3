/**
 * A journal that makes the Baton process "die" at one chosen status write: it wraps a real
 * {@link JournalStore}, counts `writeStatus` calls, and at the chosen one throws
 * {@link JournalCrash} either before the write reaches the store or right after it did. The
 * runner never catches that error ({@link isProcessCrash}), so the harness drops the Runner and
 * starts a fresh one on the same journal and cluster, as a restarted process would.
 */
import type { JournalStore, UpgradeRecord } from '../../src/core/ports.js';
import type { UpgradeSpec, UpgradeStatus } from '../../src/core/types.js';

/** Where the process dies: around the `nth` status write (1-based). */
export interface JournalCrashPoint {
  nth: number;
  /** `after`: the write is stored, then the process dies; `before`: it dies instead of writing. */
  when: 'before' | 'after';
}

/** The simulated death of the Baton process at a journal write. */
export class JournalCrash extends Error {
  /** Recognised by `isProcessCrash`: never caught as an action failure. */
  readonly processCrash = true;

  constructor(readonly point: JournalCrashPoint) {
    super(`simulated crash ${point.when} journal write #${point.nth}`);
    this.name = 'JournalCrash';
  }
}

/** A journal counting status writes and crashing at most once, at `crashAt`. */
export class CrashingJournal implements JournalStore {
  /** Status writes attempted so far (including the one that crashed). */
  writes = 0;
  /** Whether the crash has happened. */
  crashed = false;

  constructor(
    private readonly inner: JournalStore,
    private readonly crashAt?: JournalCrashPoint,
    /** Turns of the event loop each write takes (a runner writing behind goes on meanwhile). */
    private readonly writeTurns = 0,
  ) {}

  create(spec: UpgradeSpec, status: UpgradeStatus): Promise<UpgradeRecord> {
    return this.inner.create(spec, status);
  }

  get(name: string): Promise<UpgradeRecord | undefined> {
    return this.inner.get(name);
  }

  list(): Promise<UpgradeRecord[]> {
    return this.inner.list();
  }

  async writeStatus(name: string, status: UpgradeStatus, revision: string): Promise<string> {
    this.writes += 1;
    const due = !this.crashed && this.crashAt?.nth === this.writes ? this.crashAt : undefined;
    if (due?.when === 'before') {
      this.crashed = true;
      throw new JournalCrash(due);
    }
    for (let i = 0; i < this.writeTurns; i++) await new Promise((r) => setImmediate(r));
    const next = await this.inner.writeStatus(name, status, revision);
    if (due?.when === 'after') {
      this.crashed = true;
      throw new JournalCrash(due);
    }
    return next;
  }

  updateSpec(name: string, change: (spec: UpgradeSpec) => UpgradeSpec): Promise<UpgradeSpec> {
    return this.inner.updateSpec(name, change);
  }

  async delete(name: string): Promise<void> {
    await this.inner.delete?.(name);
  }
}
