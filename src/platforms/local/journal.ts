/**
 * File-backed journal: one directory per upgrade holding `spec.json` (written by control verbs) and
 * `status.json` (written by the runner). Every write is atomic (temp file, fsync, rename, fsync of
 * the directory) and guarded by a lock file, so a `kill -9` at any instant leaves either the old or
 * the new document, never a torn one, and two processes never lose each other's writes.
 */
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BadInputError, ConflictError, OperationalError } from '../../core/errors.js';
import type { JournalStore, UpgradeRecord } from '../../core/ports.js';
import type { UpgradeSpec, UpgradeStatus } from '../../core/types.js';
import { isTerminal } from '../../core/types.js';
import { systemClock } from '../../core/clock.js';
import { withFileLock } from './lock.js';

interface StatusFile {
  revision: number;
  status: UpgradeStatus;
}

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Write `data` to `path` atomically: temp file, fsync, rename over, fsync the directory. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const dir = join(path, '..');
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/** The text of `path`, or undefined when it does not exist (other read errors throw). */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  const text = await readTextIfExists(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new OperationalError('journal-corrupt', `journal file ${path} is not valid JSON: ${String(err)}`);
  }
}

/** Journal of one cluster's upgrades under `dir`. */
export class FileJournalStore implements JournalStore {
  constructor(readonly dir: string) {}

  private upgradeDir(name: string): string {
    if (!NAME_RE.test(name)) {
      throw new BadInputError(
        'bad-upgrade-name',
        `upgrade name "${name}" is not valid: use lowercase letters, digits and '-', at most 63 characters`,
      );
    }
    return join(this.dir, name);
  }

  private async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return withFileLock(join(this.upgradeDir(name), '.lock'), systemClock, fn, {
      timeoutMs: 10_000,
      pollMs: 10,
      code: 'journal-locked',
      what: `journal of upgrade ${name}`,
    });
  }

  async create(spec: UpgradeSpec, status: UpgradeStatus): Promise<UpgradeRecord> {
    const dir = this.upgradeDir(spec.name);
    await mkdir(dir, { recursive: true });
    return this.withLock(spec.name, async () => {
      const existing = await readJson<StatusFile>(join(dir, 'status.json'));
      if (existing && !isTerminal(existing.status.phase)) {
        throw new BadInputError(
          'upgrade-exists',
          `upgrade "${spec.name}" already exists and is ${existing.status.phase}: resume, cancel it, or choose another --name`,
        );
      }
      const revision = (existing?.revision ?? 0) + 1;
      await writeFileAtomic(join(dir, 'spec.json'), JSON.stringify(spec, null, 2));
      await writeFileAtomic(join(dir, 'status.json'), JSON.stringify({ revision, status }, null, 2));
      return { spec: structuredClone(spec), status: structuredClone(status), revision: String(revision) };
    });
  }

  async get(name: string): Promise<UpgradeRecord | undefined> {
    const dir = this.upgradeDir(name);
    const spec = await readJson<UpgradeSpec>(join(dir, 'spec.json'));
    const st = await readJson<StatusFile>(join(dir, 'status.json'));
    if (!spec || !st) return undefined;
    return { spec, status: st.status, revision: String(st.revision) };
  }

  async list(): Promise<UpgradeRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const records = await Promise.all(names.filter((n) => NAME_RE.test(n)).map((n) => this.get(n)));
    return records
      .filter((r): r is UpgradeRecord => r !== undefined)
      .sort(
        (a, b) => (a.status.startedAt ?? a.status.updatedAt) - (b.status.startedAt ?? b.status.updatedAt),
      );
  }

  async writeStatus(name: string, status: UpgradeStatus, revision: string): Promise<string> {
    const dir = this.upgradeDir(name);
    return this.withLock(name, async () => {
      const current = await readJson<StatusFile>(join(dir, 'status.json'));
      if (!current)
        throw new OperationalError('journal-missing', `upgrade "${name}" has no journal in ${dir}`);
      if (String(current.revision) !== revision) {
        throw new ConflictError(
          `status of upgrade "${name}" changed (revision ${current.revision}, expected ${revision})`,
        );
      }
      const next = current.revision + 1;
      await writeFileAtomic(join(dir, 'status.json'), JSON.stringify({ revision: next, status }, null, 2));
      return String(next);
    });
  }

  async updateSpec(name: string, change: (spec: UpgradeSpec) => UpgradeSpec): Promise<UpgradeSpec> {
    const dir = this.upgradeDir(name);
    return this.withLock(name, async () => {
      const spec = await readJson<UpgradeSpec>(join(dir, 'spec.json'));
      if (!spec) throw new BadInputError('no-such-upgrade', `no upgrade named "${name}" in ${this.dir}`);
      const next = { ...change(structuredClone(spec)), generation: spec.generation + 1 };
      await writeFileAtomic(join(dir, 'spec.json'), JSON.stringify(next, null, 2));
      return next;
    });
  }

  async delete(name: string): Promise<void> {
    await rm(this.upgradeDir(name), { recursive: true, force: true });
  }
}
