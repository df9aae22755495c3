/**
 * The one typed client Baton uses to talk to PostgreSQL members: a small pool per endpoint, a
 * connection timeout and a statement timeout on every query, and the handful of admin queries the
 * engine needs (recovery state, WAL positions, replication views, checkpoint, promote, re-point).
 */
import pg from 'pg';
import { OperationalError, describeError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { parseEndpoint, quoteConfValue } from './conninfo.js';

/** How to connect; every field has a default. */
export interface PgAdminOptions {
  /** Role used for every connection; default `postgres`. */
  user?: string;
  password?: string;
  /** Database used for admin queries; default `postgres`. */
  database?: string;
  /** Give up connecting after this long; default 3000 ms. */
  connectTimeoutMs?: number;
  /** Server-side statement_timeout and client-side query timeout; default 5000 ms. */
  statementTimeoutMs?: number;
  logger?: Logger;
}

/** A row of pg_stat_replication (on a primary): one per connected standby. */
export interface ReplicationRow {
  applicationName: string;
  clientAddr: string | null;
  state: string;
  replayLsn: string | null;
}

/** The row of pg_stat_wal_receiver (on a standby); absent while no receiver runs. */
export interface WalReceiverRow {
  status: string;
  senderHost: string | null;
  senderPort: number | null;
  flushedLsn: string | null;
}

/** What one query round reads from a member. */
export interface MemberSqlState {
  inRecovery: boolean;
  /** pg_current_wal_lsn() on a primary, pg_last_wal_replay_lsn() on a standby. */
  lsn: string | null;
  /** pg_last_wal_receive_lsn(): WAL flushed by the receiver (standbys), null on a primary. */
  receiveLsn: string | null;
  serverVersion: string;
}

function isServerError(err: unknown): boolean {
  // PostgreSQL errors carry a five-character SQLSTATE; socket and timeout errors do not.
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

/** Pooled admin connections to PostgreSQL members, keyed by `host:port` endpoint. */
export class PgAdmin {
  private readonly pools = new Map<string, pg.Pool>();
  private readonly opts: Required<Omit<PgAdminOptions, 'password' | 'logger'>> &
    Pick<PgAdminOptions, 'password' | 'logger'>;

  constructor(opts: PgAdminOptions = {}) {
    this.opts = {
      user: opts.user ?? 'postgres',
      database: opts.database ?? 'postgres',
      connectTimeoutMs: opts.connectTimeoutMs ?? 3000,
      statementTimeoutMs: opts.statementTimeoutMs ?? 5000,
      password: opts.password,
      logger: opts.logger,
    };
  }

  /** The role every connection uses (also written into primary_conninfo). */
  get user(): string {
    return this.opts.user;
  }

  private pool(endpoint: string): pg.Pool {
    let pool = this.pools.get(endpoint);
    if (!pool) {
      const { host, port } = parseEndpoint(endpoint);
      pool = new pg.Pool({
        host,
        port,
        user: this.opts.user,
        password: this.opts.password,
        database: this.opts.database,
        max: 2,
        idleTimeoutMillis: 10_000,
        allowExitOnIdle: true,
        connectionTimeoutMillis: this.opts.connectTimeoutMs,
        statement_timeout: this.opts.statementTimeoutMs,
        query_timeout: this.opts.statementTimeoutMs + 1000,
        application_name: 'baton',
      });
      // An idle connection dies when its server stops (a switchover stops the primary on purpose).
      pool.on('error', (err) =>
        this.opts.logger?.debug('idle PostgreSQL connection closed', { endpoint, error: err.message }),
      );
      this.pools.set(endpoint, pool);
    }
    return pool;
  }

  /**
   * Run one statement on `endpoint`. A connection-level failure (not a server error) is retried
   * once on a fresh connection, since pooled connections outlive restarts of their server.
   */
  async query<R extends pg.QueryResultRow>(
    endpoint: string,
    sql: string,
    params: unknown[] = [],
  ): Promise<R[]> {
    try {
      return (await this.pool(endpoint).query<R>(sql, params)).rows;
    } catch (err) {
      if (isServerError(err)) throw err;
      return (await this.pool(endpoint).query<R>(sql, params)).rows;
    }
  }

  /**
   * Run one long statement (CHECKPOINT, promote) on its own connection with `timeoutMs` as its
   * statement timeout, so the pool's short timeout does not cut it off.
   */
  async queryLong<R extends pg.QueryResultRow>(
    endpoint: string,
    sql: string,
    params: unknown[],
    timeoutMs: number,
  ): Promise<R[]> {
    const { host, port } = parseEndpoint(endpoint);
    const client = new pg.Client({
      host,
      port,
      user: this.opts.user,
      password: this.opts.password,
      database: this.opts.database,
      connectionTimeoutMillis: this.opts.connectTimeoutMs,
      statement_timeout: timeoutMs,
      query_timeout: timeoutMs + 1000,
      application_name: 'baton',
    });
    client.on('error', () => {});
    try {
      await client.connect();
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** Recovery state and WAL positions of a member, in one round trip. */
  async state(endpoint: string): Promise<MemberSqlState> {
    const rows = await this.query<{ r: boolean; lsn: string | null; recv: string | null; v: string }>(
      endpoint,
      `SELECT pg_is_in_recovery() AS r,
              (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS lsn,
              pg_last_wal_receive_lsn()::text AS recv,
              current_setting('server_version') AS v`,
    );
    const row = rows[0];
    if (!row) throw new OperationalError('no-row', `${endpoint} returned no recovery state`);
    return { inRecovery: row.r, lsn: row.lsn, receiveLsn: row.recv, serverVersion: row.v };
  }

  /** Whether the member is in recovery, or undefined when it cannot be reached. */
  async inRecovery(endpoint: string): Promise<boolean | undefined> {
    try {
      return (await this.state(endpoint)).inRecovery;
    } catch {
      return undefined;
    }
  }

  /** pg_stat_replication of a primary. */
  async replication(endpoint: string): Promise<ReplicationRow[]> {
    const rows = await this.query<{ a: string; c: string | null; s: string; r: string | null }>(
      endpoint,
      'SELECT application_name AS a, client_addr::text AS c, state AS s, replay_lsn::text AS r FROM pg_stat_replication',
    );
    return rows.map((x) => ({ applicationName: x.a, clientAddr: x.c, state: x.s, replayLsn: x.r }));
  }

  /** pg_stat_wal_receiver of a standby, or undefined when no receiver runs. */
  async walReceiver(endpoint: string): Promise<WalReceiverRow | undefined> {
    const rows = await this.query<{ s: string; h: string | null; p: number | null; f: string | null }>(
      endpoint,
      'SELECT status AS s, sender_host AS h, sender_port AS p, flushed_lsn::text AS f FROM pg_stat_wal_receiver',
    );
    const x = rows[0];
    return x ? { status: x.s, senderHost: x.h, senderPort: x.p, flushedLsn: x.f } : undefined;
  }

  /**
   * Prove the member accepts writes: assign a transaction id and commit it, which fails on a
   * server in recovery or one that cannot write WAL. Returns undefined on success, else the error.
   */
  async writeCheck(endpoint: string): Promise<string | undefined> {
    try {
      await this.query(endpoint, 'SELECT pg_current_xact_id()::text AS x');
      return undefined;
    } catch (err) {
      return describeError(err);
    }
  }

  /** CHECKPOINT, so the shutdown checkpoint that follows has little to write. */
  async checkpoint(endpoint: string, timeoutMs: number): Promise<void> {
    await this.queryLong(endpoint, 'CHECKPOINT', [], timeoutMs);
  }

  /**
   * Ask a standby to promote itself without waiting (pg_promote(wait => false)); the caller polls
   * {@link PgAdmin.inRecovery} at its own pace (pg_promote's own wait polls only every 100 ms).
   * True when the request was delivered.
   */
  async requestPromote(endpoint: string): Promise<boolean> {
    const rows = await this.query<{ ok: boolean }>(endpoint, 'SELECT pg_promote(false) AS ok');
    return rows[0]?.ok === true;
  }

  /** The primary_conninfo a standby runs with (empty or undefined when none is set). */
  async primaryConninfo(endpoint: string): Promise<string | undefined> {
    const rows = await this.query<{ c: string }>(endpoint, "SELECT current_setting('primary_conninfo') AS c");
    return rows[0]?.c;
  }

  /**
   * Set (or with undefined, reset) primary_conninfo by ALTER SYSTEM and reload; PostgreSQL 13 and
   * later restart the WAL receiver with the new value, no server restart needed.
   */
  async setPrimaryConninfo(endpoint: string, conninfo: string | undefined): Promise<void> {
    // ALTER SYSTEM takes no bind parameters; the value is quoted as a standard string literal.
    const sql =
      conninfo === undefined
        ? 'ALTER SYSTEM RESET primary_conninfo'
        : `ALTER SYSTEM SET primary_conninfo = ${quoteConfValue(conninfo)}`;
    await this.query(endpoint, sql);
    await this.query(endpoint, 'SELECT pg_reload_conf()');
  }

  /** Close every pooled connection. */
  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.end().catch(() => {})));
  }
}
