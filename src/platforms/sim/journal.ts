/**
 * An in-memory {@link JournalStore} with real optimistic concurrency: every status write must name
 * the revision it read, a stale one throws ConflictError, and records are deep-copied in and out so
 * no caller can change stored state by mutating an object it holds.
 */
import { BadInputError, ConflictError, OperationalError } from '../../core/errors.js';
import type { JournalStore, UpgradeRecord } from '../../core/ports.js';
import { isTerminal, type UpgradeSpec, type UpgradeStatus } from '../../core/types.js';

interface Stored {
  spec: UpgradeSpec;
  status: UpgradeStatus;
  revision: number;
}

/** The journal of the simulated platform (and of tests): one process, no persistence. */
export class MemoryJournalStore implements JournalStore {
  private readonly records = new Map<string, Stored>();
  private revision = 0;

  async create(spec: UpgradeSpec, status: UpgradeStatus): Promise<UpgradeRecord> {
    const existing = this.records.get(spec.name);
    if (existing && !isTerminal(existing.status.phase)) {
      throw new BadInputError(
        'upgrade-exists',
        `upgrade "${spec.name}" already exists and is ${existing.status.phase}; cancel it or pick another name`,
      );
    }
    const stored: Stored = {
      spec: structuredClone(spec),
      status: structuredClone(status),
      revision: ++this.revision,
    };
    this.records.set(spec.name, stored);
    return this.out(stored);
  }

  async get(name: string): Promise<UpgradeRecord | undefined> {
    const stored = this.records.get(name);
    return stored ? this.out(stored) : undefined;
  }

  async list(): Promise<UpgradeRecord[]> {
    return [...this.records.values()].map((s) => this.out(s));
  }

  async writeStatus(name: string, status: UpgradeStatus, revision: string): Promise<string> {
    const stored = this.mustGet(name);
    if (String(stored.revision) !== revision) {
      throw new ConflictError(
        `upgrade "${name}" changed since it was read (revision ${revision}, now ${stored.revision}); re-read and retry`,
      );
    }
    stored.status = structuredClone(status);
    stored.revision = ++this.revision;
    return String(stored.revision);
  }

  async updateSpec(name: string, change: (spec: UpgradeSpec) => UpgradeSpec): Promise<UpgradeSpec> {
    const stored = this.mustGet(name);
    const next = structuredClone(change(structuredClone(stored.spec)));
    next.generation = stored.spec.generation + 1;
    stored.spec = next;
    return structuredClone(next);
  }

  async delete(name: string): Promise<void> {
    this.records.delete(name);
  }

  private mustGet(name: string): Stored {
    const stored = this.records.get(name);
    if (!stored) throw new OperationalError('upgrade-not-found', `no upgrade named "${name}" in the journal`);
    return stored;
  }

  private out(stored: Stored): UpgradeRecord {
    return {
      spec: structuredClone(stored.spec),
      status: structuredClone(stored.status),
      revision: String(stored.revision),
    };
  }
}
