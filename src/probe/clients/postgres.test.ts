import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { systemClock } from '../../core/clock.js';
import { nullLogger } from '../../core/logger.js';
import { Probe } from '../probe.js';
import type { ProbeClient } from '../types.js';
import { PostgresProbeClient } from './postgres.js';
import { recordingClient } from './testing/recording.js';
import { chownTree, freePort, pause, removeDir, ServerProcess, tempDir, waitFor } from './testing/servers.js';

const NATIVE = resolve('node_modules/pg17-5/native');
const ENV = { LD_LIBRARY_PATH: join(NATIVE, 'lib') };
/** PostgreSQL refuses to run as root; then it runs as nobody. */
const USER =
  process.getuid?.() === 0
    ? {
        uid: Number(execFileSync('id', ['-u', 'nobody']).toString().trim()),
        gid: Number(execFileSync('id', ['-g', 'nobody']).toString().trim()),
      }
    : {};

describe('PostgresProbeClient against a real PostgreSQL 17.5', () => {
  let dir = '';
  let endpoint = '';
  let server: ServerProcess;
  let admin: pg.Client | undefined;

  const answers = async () => {
    const c = new pg.Client({ host: '127.0.0.1', port: Number(endpoint.split(':')[1]), user: 'postgres' });
    try {
      await c.connect();
      await c.query('SELECT 1');
      return true;
    } finally {
      await c.end().catch(() => undefined);
    }
  };

  before(async () => {
    dir = tempDir('pg');
    if (USER.uid !== undefined && USER.gid !== undefined) chownTree(dir, USER.uid, USER.gid);
    const data = join(dir, 'data');
    const init = spawnSync(
      join(NATIVE, 'bin/initdb'),
      ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'],
      { env: { ...process.env, ...ENV }, cwd: dir, ...USER, encoding: 'utf8' },
    );
    assert.equal(init.status, 0, `initdb failed: ${init.stderr}`);
    const port = await freePort();
    endpoint = `127.0.0.1:${port}`;
    server = new ServerProcess(
      join(NATIVE, 'bin/postgres'),
      ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
      join(dir, 'postgres.log'),
      { env: ENV, cwd: dir, ...USER },
    );
    server.start();
    await waitFor('postgres accepting connections', answers);
    admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres' });
    admin.on('error', () => undefined);
    await admin.connect();
  });

  after(async () => {
    await admin?.end().catch(() => undefined);
    await server?.stop('SIGINT');
    removeDir(dir);
  });

  const newProbe = (client: ProbeClient) =>
    new Probe({ client, clock: systemClock, logger: nullLogger, intervalMs: 2, retryDeadlineMs: 15000 });
  const newClient = () => new PostgresProbeClient({ endpoints: async () => [endpoint], logger: nullLogger });
  const acked = (probe: Probe, n: number) =>
    waitFor(`${n} acknowledged writes`, async () => probe.snapshot().acknowledgedWrites >= n);

  it('creates its table, acknowledges writes, reads them back and loses none', async () => {
    const probe = newProbe(newClient());
    await probe.start();
    await acked(probe, 100);
    const r = await probe.stop();
    assert.equal(r.failedOps, 0);
    assert.equal(r.lostWrites, 0);
    assert.equal(r.unverifiedWrites, 0);
    assert.ok(r.reads > 0);
    const rows = await admin!.query('SELECT count(*)::int AS n FROM baton_probe WHERE id LIKE $1', [
      `${r.runId}-%`,
    ]);
    assert.equal(rows.rows[0].n, r.acknowledgedWrites);
  });

  it('retries a write through a brief restart of the server, without failures or losses', async () => {
    const probe = newProbe(newClient());
    await probe.start();
    await acked(probe, 20);
    await server.stop('SIGINT');
    await pause(700);
    const before = probe.snapshot().acknowledgedWrites;
    server.start();
    await waitFor('postgres accepting connections again', answers);
    await acked(probe, before + 20);
    const r = await probe.stop();
    assert.equal(r.failedOps, 0);
    assert.equal(r.lostWrites, 0);
    assert.ok(
      r.operations.some((o) => o.attempts > 1),
      'some operation needed a retry',
    );
    assert.ok(r.maxGapMs >= 700, `longest gap ${r.maxGapMs} ms spans the outage`);
  });

  it('counts an acknowledged row deleted behind its back as lost', async () => {
    const ids: string[] = [];
    const probe = newProbe(recordingClient(newClient(), ids));
    await probe.start();
    await acked(probe, 10);
    const victim = ids[3] ?? '';
    // The admin connection did not survive the restart in the previous test.
    const c = new pg.Client({ host: '127.0.0.1', port: Number(endpoint.split(':')[1]), user: 'postgres' });
    await c.connect();
    await c.query('DELETE FROM baton_probe WHERE id = $1', [victim]);
    await c.end();
    const r = await probe.stop();
    assert.equal(r.lostWrites, 1);
    assert.equal(r.lost[0]?.id, victim);
    assert.equal(r.lost[0]?.actual, undefined);
    assert.equal(probe.verdict({}).ok, false);
  });
});
