import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, cpSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { nullLogger } from '../../core/logger.js';
import { describeError } from '../../core/errors.js';
import { PostgresProbeClient } from './postgres.js';
import {
  ackedWrites,
  assertCleanRun,
  assertRetriedThroughOutage,
  newTestProbe,
} from '../../../test/probe/probe.js';
import { recordingClient } from '../../../test/probe/recording.js';
import {
  chownTree,
  freePort,
  logTail,
  pause,
  removeDir,
  ServerProcess,
  tempDir,
  waitFor,
} from '../../../test/probe/servers.js';

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

function giveToServerUser(path: string): void {
  if (USER.uid !== undefined && USER.gid !== undefined) chownTree(path, USER.uid, USER.gid);
}

/** One PostgreSQL 17.5 server in `root/<name>` on a free port. */
class PgNode {
  readonly data: string;
  readonly server: ServerProcess;

  private constructor(
    readonly root: string,
    readonly name: string,
    readonly port: number,
  ) {
    this.data = join(root, name);
    this.server = new ServerProcess(
      join(NATIVE, 'bin/postgres'),
      [
        '-D',
        this.data,
        '-p',
        String(port),
        '-k',
        root,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
      ],
      join(root, `${name}.log`),
      { env: ENV, cwd: root, ...USER },
    );
  }

  get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** A fresh cluster made by initdb. */
  static async init(root: string, name: string): Promise<PgNode> {
    const node = new PgNode(root, name, await freePort());
    const init = spawnSync(
      join(NATIVE, 'bin/initdb'),
      ['-D', node.data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'],
      { env: { ...process.env, ...ENV }, cwd: root, ...USER, encoding: 'utf8' },
    );
    assert.equal(init.status, 0, `initdb failed: ${init.stderr}`);
    return node;
  }

  /** A streaming standby of `primary`, cloned with the low-level backup API and a file copy. */
  static async standbyOf(primary: PgNode, name: string): Promise<PgNode> {
    const node = new PgNode(primary.root, name, await freePort());
    const c = await primary.connect();
    try {
      await c.query(`SELECT pg_backup_start('baton-probe-test', true)`);
      cpSync(primary.data, node.data, {
        recursive: true,
        filter: (src) => !/postmaster\.(pid|opts)$/.test(src),
      });
      const { rows } = await c.query<{ labelfile: string }>('SELECT labelfile FROM pg_backup_stop(false)');
      writeFileSync(join(node.data, 'backup_label'), rows[0]?.labelfile ?? '');
    } finally {
      await c.end();
    }
    chmodSync(node.data, 0o700);
    node.follow(primary);
    return node;
  }

  /** Configures this (stopped) server to start as a standby of `primary`. */
  follow(primary: PgNode): void {
    appendFileSync(
      join(this.data, 'postgresql.auto.conf'),
      `primary_conninfo = 'host=127.0.0.1 port=${primary.port} user=postgres application_name=${this.name}'\n`,
    );
    writeFileSync(join(this.data, 'standby.signal'), '');
    giveToServerUser(this.data);
  }

  async start(): Promise<void> {
    this.server.start();
    try {
      await waitFor(`${this.name} accepting connections`, async () => {
        await this.sql('SELECT 1');
        return true;
      });
    } catch (err) {
      const state = this.server.running ? 'still running' : 'exited';
      throw new Error(`${(err as Error).message} (${state}; log: ${logTail(this.server.logFile)})`);
    }
  }

  async connect(): Promise<pg.Client> {
    const c = new pg.Client({
      host: '127.0.0.1',
      port: this.port,
      user: 'postgres',
      connectionTimeoutMillis: 2000,
    });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  }

  /** Runs one statement over a short-lived connection and returns its rows. */
  async sql<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
    const c = await this.connect();
    try {
      return (await c.query<R>(text, params)).rows;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  async inRecovery(): Promise<boolean> {
    return (await this.sql<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === true;
  }

  async probeRows(runId: string): Promise<number> {
    const rows = await this.sql<{ n: number }>(
      'SELECT count(*)::int AS n FROM baton_probe WHERE id LIKE $1',
      [`${runId}-%`],
    );
    return rows[0]?.n ?? 0;
  }
}

describe('PostgresProbeClient against a real PostgreSQL 17.5', () => {
  let root = '';
  let node: PgNode;

  before(async () => {
    root = tempDir('pg');
    giveToServerUser(root);
    node = await PgNode.init(root, 'single');
    await node.start();
  });

  after(async () => {
    await node?.server.stop('SIGINT');
    removeDir(root);
  });

  const newClient = () =>
    new PostgresProbeClient({ endpoints: async () => [node.endpoint], logger: nullLogger });

  it('creates its table, acknowledges writes, reads them back and loses none', async () => {
    const probe = newTestProbe(newClient());
    await probe.start();
    await ackedWrites(probe, 100);
    const r = await probe.stop();
    assertCleanRun(r);
    assert.equal(await node.probeRows(r.runId), r.acknowledgedWrites);
  });

  it('connects many clients at once to a database without its table (one per worker of a load)', async () => {
    const table = 'baton_probe_race';
    const clients = Array.from(
      { length: 16 },
      () => new PostgresProbeClient({ endpoints: async () => [node.endpoint], logger: nullLogger, table }),
    );
    try {
      const results = await Promise.allSettled(clients.map((c) => c.connect()));
      const failed = results.flatMap((r) => (r.status === 'rejected' ? [describeError(r.reason)] : []));
      assert.deepEqual(failed, []);
      await Promise.all(clients.map((c, i) => c.write(`w${i}`, String(i))));
      assert.equal(await clients[0]!.read('w15'), '15');
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  it('retries a write through a brief restart of the server, without failures or losses', async (t) => {
    const probe = newTestProbe(newClient());
    await probe.start();
    await ackedWrites(probe, 20);
    await node.server.stop('SIGINT');
    await pause(700);
    const before = probe.snapshot().acknowledgedWrites;
    await node.start();
    await ackedWrites(probe, before + 20);
    const r = await probe.stop();
    t.diagnostic(`restart: longest write gap ${r.maxGapMs} ms, p99 ${r.p99Ms} ms`);
    assertRetriedThroughOutage(r);
  });

  it('counts an acknowledged row deleted behind its back as lost', async () => {
    const ids: string[] = [];
    const probe = newTestProbe(recordingClient(newClient(), ids));
    await probe.start();
    await ackedWrites(probe, 10);
    const victim = ids[3] ?? '';
    await node.sql('DELETE FROM baton_probe WHERE id = $1', [victim]);
    const r = await probe.stop();
    assert.equal(r.lostWrites, 1);
    assert.equal(r.lost[0]?.id, victim);
    assert.equal(r.lost[0]?.actual, undefined);
    assert.equal(probe.verdict({}).ok, false);
  });
});

describe('PostgresProbeClient through a switchover (primary + streaming standby)', () => {
  let root = '';
  let a: PgNode;
  let b: PgNode;

  before(async () => {
    root = tempDir('pg-ha');
    giveToServerUser(root);
    a = await PgNode.init(root, 'a');
    await a.start();
    b = await PgNode.standbyOf(a, 'b');
    await b.start();
    await waitFor('b streaming from a', async () => {
      const rows = await a.sql<{ state: string }>('SELECT state FROM pg_stat_replication');
      return rows[0]?.state === 'streaming';
    });
  });

  after(async () => {
    await a?.server.stop('SIGINT');
    await b?.server.stop('SIGINT');
    removeDir(root);
  });

  it('follows the primary to the promoted standby and loses no acknowledged write', async (t) => {
    const client = new PostgresProbeClient({
      endpoints: async () => [a.endpoint, b.endpoint],
      logger: nullLogger,
    });
    const probe = newTestProbe(client);
    await probe.start();
    assert.equal(client.currentPrimary, a.endpoint);
    await ackedWrites(probe, 50);
    // Clean switchover: a fast shutdown sends all WAL to the standby before the primary exits.
    await a.server.stop('SIGINT');
    await b.sql('SELECT pg_promote(true, 30)');
    a.follow(b);
    await a.start();
    const switched = probe.snapshot().acknowledgedWrites;
    await ackedWrites(probe, switched + 50);
    const r = await probe.stop();
    t.diagnostic(`switchover: longest write gap ${r.maxGapMs} ms, p99 ${r.p99Ms} ms, ${r.ops} ops`);
    assert.equal(r.failedOps, 0);
    assert.equal(r.lostWrites, 0);
    assert.equal(await b.inRecovery(), false);
    assert.equal(await a.inRecovery(), true);
    assert.equal(await b.probeRows(r.runId), r.acknowledgedWrites);
    await waitFor('a replays from b', async () => (await a.probeRows(r.runId)) === r.acknowledgedWrites);
  });

  it('finds the new primary by itself on the first call after a switchover', async () => {
    const client = new PostgresProbeClient({
      endpoints: async () => [a.endpoint, b.endpoint],
      logger: nullLogger,
    });
    await client.connect();
    const primary = client.currentPrimary === a.endpoint ? a : b;
    const standby = primary === a ? b : a;
    await client.write('switch-check-1', 'x');
    // Switch back the other way while the client holds its connection to the old primary.
    await primary.server.stop('SIGINT');
    await standby.sql('SELECT pg_promote(true, 30)');
    primary.follow(standby);
    await primary.start();
    await client.write('switch-check-2', 'y');
    assert.equal(client.currentPrimary, standby.endpoint);
    assert.deepEqual(await client.readMany(['switch-check-1', 'switch-check-2', 'absent']), [
      'x',
      'y',
      undefined,
    ]);
    await client.close();
  });
});

describe('PostgresProbeClient error kinds', () => {
  const client = new PostgresProbeClient({ endpoints: async () => [], logger: nullLogger });
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

  it('names PostgreSQL errors by SQLSTATE and pg losing its connection, leaving the rest to the generic kinds', async () => {
    assert.equal(
      client.errorKind(pgError('25006', 'cannot execute INSERT in a read-only transaction')),
      'read-only',
    );
    assert.equal(
      client.errorKind(pgError('57P01', 'terminating connection due to administrator command')),
      'shutdown',
    );
    assert.equal(client.errorKind(pgError('57P03', 'the database system is shutting down')), 'unavailable');
    assert.equal(client.errorKind(pgError('08006', 'connection failure')), 'reset');
    assert.equal(client.errorKind(new Error('Connection terminated unexpectedly')), 'reset');
    assert.equal(
      client.errorKind(new Error('Client has encountered a connection error and is not queryable')),
      'reset',
    );
    assert.equal(client.errorKind(pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1')), undefined);
    assert.equal(client.errorKind(pgError('23505', 'duplicate key value')), undefined);
    await client.close();
  });
});
