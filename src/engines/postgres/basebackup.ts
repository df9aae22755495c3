/**
 * A base backup without pg_basebackup (the npm PostgreSQL build ships only initdb, postgres and
 * pg_ctl): the low-level backup API around a plain file copy of the primary's data directory,
 * following "Making a Base Backup Using the Low Level API" in the PostgreSQL manual.
 *
 * `pg_backup_start` forces full-page writes and a checkpoint, so pages torn by the concurrent copy
 * are repaired by WAL replay; `pg_backup_stop` returns the backup_label the copy must carry so
 * recovery starts from that checkpoint. WAL is not copied: the standby streams it from the primary
 * (which keeps `wal_keep_size` of it).
 */
import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { OperationalError, describeError } from '../../core/errors.js';

/** Directories whose contents a base backup leaves out (the directory itself is kept, empty). */
export const EXCLUDED_DIR_CONTENTS: readonly string[] = [
  'pg_wal',
  'pg_stat_tmp',
  'pg_replslot',
  'pg_dynshmem',
  'pg_notify',
  'pg_serial',
  'pg_snapshots',
  'pg_subtrans',
];

/** Files a base backup leaves out wherever they appear; `pg_internal.init` and `pgsql_tmp*` by prefix. */
export const EXCLUDED_FILES: readonly string[] = [
  'postmaster.pid',
  'postmaster.opts',
  'postgresql.auto.conf.tmp',
  'current_logfiles',
  'backup_label',
  'tablespace_map',
  'backup_manifest',
  'standby.signal',
  'recovery.signal',
];

/** Whether a path inside the data directory (relative, `/`-separated) is left out of the copy. */
export function excludedFromBackup(relPath: string, isDir: boolean): boolean {
  const parts = relPath.split('/');
  const base = parts[parts.length - 1] ?? '';
  if (base.startsWith('pgsql_tmp') || base.startsWith('pg_internal.init')) return true;
  if (!isDir && parts.length === 1 && EXCLUDED_FILES.includes(base)) return true;
  // Contents (not the directory) of the excluded top-level directories.
  if (parts.length >= 2 && EXCLUDED_DIR_CONTENTS.includes(parts[0] ?? '')) return true;
  return false;
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/**
 * Copy `source` (a running cluster's data directory) to `dest`, leaving out what
 * {@link excludedFromBackup} names. Files that vanish during the copy (dropped relations, removed
 * temp files) are skipped. `global/pg_control` is copied last, as pg_basebackup does. Returns the
 * number of files copied.
 */
export async function copyDataDirectory(source: string, dest: string): Promise<number> {
  let copied = 0;
  let deferred: { from: string; to: string } | undefined;
  const walk = async (rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(join(source, rel), { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    for (const e of entries) {
      const childRel = rel === '' ? e.name : `${rel}/${e.name}`;
      const isDir = e.isDirectory();
      if (excludedFromBackup(childRel, isDir)) continue;
      if (isDir) {
        await mkdir(join(dest, childRel), { recursive: true, mode: 0o700 });
        await walk(childRel);
      } else if (e.isFile()) {
        const from = join(source, childRel);
        const to = join(dest, childRel);
        if (childRel === 'global/pg_control') {
          deferred = { from, to };
          continue;
        }
        try {
          await copyFile(from, to);
          copied++;
        } catch (err) {
          if (!isMissing(err)) throw err;
        }
      }
    }
  };
  await mkdir(dest, { recursive: true, mode: 0o700 });
  await walk('');
  for (const dir of ['pg_wal/archive_status', 'pg_wal/summaries']) {
    await mkdir(join(dest, dir), { recursive: true, mode: 0o700 });
  }
  if (deferred) {
    await copyFile(deferred.from, deferred.to);
    copied++;
  }
  return copied;
}

/** Where to take the backup from and where to put it. */
export interface BaseBackupRequest {
  /** Connection to the primary (superuser or a role with pg_backup_start rights). */
  connection: pg.ClientConfig;
  /** The primary's data directory, readable by this process. */
  sourceDir: string;
  destDir: string;
  /** Label recorded in backup_label. */
  label: string;
}

/** What a finished base backup reports. */
export interface BaseBackupResult {
  /** WAL position where the backup ends; the copy is consistent once replay passes it. */
  stopLsn: string;
  files: number;
}

/**
 * Take a base backup of a running primary into `destDir`: pg_backup_start (fast checkpoint), copy
 * the data directory, pg_backup_stop, write the returned backup_label (and tablespace_map when
 * there are tablespaces). Both calls run on one session, as the non-exclusive API requires; if the
 * copy fails the session is closed, which aborts the backup on the server.
 */
export async function takeBaseBackup(req: BaseBackupRequest): Promise<BaseBackupResult> {
  const client = new pg.Client(req.connection);
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT pg_backup_start($1, true)', [req.label]);
    const files = await copyDataDirectory(req.sourceDir, req.destDir);
    const res = await client.query<{ lsn: string; labelfile: string; spcmapfile: string | null }>(
      'SELECT lsn::text AS lsn, labelfile, spcmapfile FROM pg_backup_stop(false)',
    );
    const row = res.rows[0];
    if (!row) throw new OperationalError('backup-failed', 'pg_backup_stop returned no row');
    await writeFile(join(req.destDir, 'backup_label'), row.labelfile, { mode: 0o600 });
    if (row.spcmapfile) await writeFile(join(req.destDir, 'tablespace_map'), row.spcmapfile, { mode: 0o600 });
    return { stopLsn: row.lsn, files };
  } catch (err) {
    if (err instanceof OperationalError) throw err;
    throw new OperationalError(
      'backup-failed',
      `base backup of ${req.sourceDir} failed: ${describeError(err)}`,
      {
        cause: err,
      },
    );
  } finally {
    await client.end().catch(() => {});
  }
}
