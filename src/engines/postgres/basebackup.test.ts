import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { copyDataDirectory, excludedFromBackup } from './basebackup.js';

async function tree(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    out.push(e.isDirectory() ? `${r}/` : r);
    if (e.isDirectory()) out.push(...(await tree(dir, r)));
  }
  return out.sort();
}

describe('low-level base backup copy', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  const cases: [string, boolean, boolean][] = [
    ['postmaster.pid', false, true],
    ['postmaster.opts', false, true],
    ['backup_label', false, true],
    ['standby.signal', false, true],
    ['postgresql.auto.conf', false, false],
    ['pg_wal', true, false],
    ['pg_wal/000000010000000000000001', false, true],
    ['pg_wal/archive_status', true, true],
    ['pg_replslot/s1', true, true],
    ['pg_stat_tmp/global.stat', false, true],
    ['base/1/pg_internal.init', false, true],
    ['base/pgsql_tmp', true, true],
    ['base/1/16384', false, false],
    ['global/pg_control', false, false],
    ['base/1/postmaster.pid', false, false],
  ];
  for (const [path, isDir, excluded] of cases) {
    it(`${excluded ? 'leaves out' : 'copies'} ${path}`, () =>
      assert.equal(excludedFromBackup(path, isDir), excluded));
  }

  it('copies a data directory without the excluded parts, keeping the empty directories', async () => {
    const root = await mkdtemp(join(tmpdir(), 'baton-pgcopy-'));
    dirs.push(root);
    const src = join(root, 'src');
    const files = [
      'PG_VERSION',
      'postgresql.conf',
      'postmaster.pid',
      'base/1/16384',
      'base/1/pg_internal.init',
      'base/pgsql_tmp/pgsql_tmp1.0',
      'global/pg_control',
      'pg_wal/000000010000000000000001',
      'pg_wal/archive_status/000000010000000000000001.ready',
      'pg_stat_tmp/db.stat',
      'pg_replslot/s1/state',
    ];
    for (const f of files) {
      await mkdir(dirname(join(src, f)), { recursive: true });
      await writeFile(join(src, f), f);
    }
    const copied = await copyDataDirectory(src, join(root, 'dst'));
    assert.equal(copied, 4);
    assert.deepEqual(await tree(join(root, 'dst')), [
      'PG_VERSION',
      'base/',
      'base/1/',
      'base/1/16384',
      'global/',
      'global/pg_control',
      'pg_replslot/',
      'pg_stat_tmp/',
      'pg_wal/',
      'pg_wal/archive_status/',
      'pg_wal/summaries/',
      'postgresql.conf',
    ]);
  });
});
