/**
 * Probe client for PostgreSQL through `pg`: rows of `baton_probe(id, v, at)` on the current
 * primary. The primary is whichever endpoint answers `pg_is_in_recovery() = false`; it is looked
 * up again after a connection error or when the server says it is read-only (a switchover moved
 * the primary away).
 */
import pg from 'pg';
import { describeError, OperationalError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { EndpointSource, ProbeClient } from '../types.js';
import { currentEndpoints, parseEndpoint } from './endpoint.js';

/** Options of {@link PostgresProbeClient}. */
export interface PostgresProbeClientOptions {
  /** `host:port` of every member, primary and standbys. */
  endpoints: EndpointSource;
  logger: Logger;
  /** Default `postgres`. */
  user?: string;
  /** Default `postgres`. */
  database?: string;
  password?: string;
  /** Default 2000 ms. */
  connectTimeoutMs?: number;
  /** Client-side limit of one query. Default 2000 ms. */
  queryTimeoutMs?: number;
  /** Table name; default `baton_probe`. Must be a plain SQL identifier. */
  table?: string;
}

/**
 * SQLSTATEs after which the connection no longer leads to a writable primary: read-only
 * transaction (25006), admin/crash shutdown (57P01, 57P02), cannot connect now (57P03), and the
 * connection exception class (08...).
 */
function losesPrimary(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return true;
  return code === '25006' || code.startsWith('57P') || code.startsWith('08') || !/^[0-9A-Z]{5}$/.test(code);
}

/** {@link ProbeClient} for PostgreSQL; writes and reads go to the current primary. */
export class PostgresProbeClient implements ProbeClient {
  readonly engine = 'postgres';
  private readonly table: string;
  private primary: pg.Client | undefined;
  private primaryEndpoint: string | undefined;

  constructor(private readonly opts: PostgresProbeClientOptions) {
    this.table = opts.table ?? 'baton_probe';
    if (!/^[a-z_][a-z0-9_]*$/.test(this.table)) {
      throw new OperationalError(
        'probe-table',
        `probe table "${this.table}" must be a lower-case SQL identifier`,
      );
    }
  }

  /**
   * Finds the primary and creates the probe table there when missing. Each worker of a load has a
   * client of its own, and concurrent `CREATE TABLE IF NOT EXISTS` of one name is not safe in
   * PostgreSQL: the sessions that lose the race fail with a unique violation on the catalog
   * (23505, `pg_type_typname_nsp_index`), duplicate object (42710, its row type) or duplicate
   * table (42P07). Each means the table now exists, which is all connect needs.
   */
  async connect(): Promise<void> {
    await this.rediscover();
    try {
      await this.query(
        `CREATE TABLE IF NOT EXISTS ${this.table} (id text PRIMARY KEY, v text, at timestamptz DEFAULT now())`,
        [],
      );
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code !== '23505' && code !== '42710' && code !== '42P07') throw err;
    }
  }

  async write(id: string, value: string): Promise<void> {
    await this.query(
      `INSERT INTO ${this.table} (id, v) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v, at = now()`,
      [id, value],
    );
  }

  async read(id: string): Promise<string | undefined> {
    const res = await this.query(`SELECT v FROM ${this.table} WHERE id = $1`, [id]);
    return res.rows[0]?.v ?? undefined;
  }

  async readMany(ids: readonly string[]): Promise<(string | undefined)[]> {
    const res = await this.query(`SELECT id, v FROM ${this.table} WHERE id = ANY($1::text[])`, [[...ids]]);
    const byId = new Map(res.rows.map((row) => [row.id as string, row.v as string]));
    return ids.map((id) => byId.get(id));
  }

  /**
   * Connects to every endpoint, keeps the one that is not in recovery and closes the others.
   * Throws OperationalError `probe-no-primary` when no endpoint is a primary right now.
   */
  async rediscover(): Promise<void> {
    this.dropPrimary();
    const endpoints = await currentEndpoints(this.opts.endpoints, this.engine);
    const probes = await Promise.allSettled(endpoints.map((e) => this.openAndAsk(e)));
    let chosen: { endpoint: string; client: pg.Client } | undefined;
    const problems: string[] = [];
    probes.forEach((p, i) => {
      const endpoint = endpoints[i] ?? '';
      if (p.status === 'rejected') {
        problems.push(`${endpoint}: ${describeError(p.reason)}`);
        return;
      }
      if (!p.value.inRecovery && !chosen) {
        chosen = { endpoint, client: p.value.client };
        return;
      }
      if (!p.value.inRecovery) problems.push(`${endpoint}: also claims to be primary`);
      void p.value.client.end().catch(() => undefined);
    });
    if (!chosen) {
      throw new OperationalError(
        'probe-no-primary',
        `no PostgreSQL primary among ${endpoints.join(', ')}${problems.length ? ` (${problems.join('; ')})` : ''}`,
      );
    }
    if (problems.length > 0) this.opts.logger.debug('probe postgres discovery', { problems });
    this.primary = chosen.client;
    this.primaryEndpoint = chosen.endpoint;
    this.opts.logger.debug('probe postgres primary', { endpoint: chosen.endpoint });
  }

  async close(): Promise<void> {
    const client = this.primary;
    this.primary = undefined;
    this.primaryEndpoint = undefined;
    await client?.end().catch(() => undefined);
  }

  /** The endpoint of the primary in use, when there is one. */
  get currentPrimary(): string | undefined {
    return this.primaryEndpoint;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private async query(sql: string, params: unknown[]): Promise<pg.QueryResult<any>> {
    if (!this.primary) await this.rediscover();
    const client = this.primary;
    if (!client) throw new OperationalError('probe-no-primary', 'no PostgreSQL primary connection');
    try {
      return await client.query(sql, params);
    } catch (err) {
      if (losesPrimary(err) && this.primary === client) this.dropPrimary();
      throw err;
    }
  }

  private dropPrimary(): void {
    const client = this.primary;
    this.primary = undefined;
    this.primaryEndpoint = undefined;
    void client?.end().catch(() => undefined);
  }

  private async openAndAsk(endpoint: string): Promise<{ client: pg.Client; inRecovery: boolean }> {
    const { host, port } = parseEndpoint(endpoint);
    const client = new pg.Client({
      host,
      port,
      user: this.opts.user ?? 'postgres',
      database: this.opts.database ?? 'postgres',
      password: this.opts.password,
      connectionTimeoutMillis: this.opts.connectTimeoutMs ?? 2000,
      query_timeout: this.opts.queryTimeoutMs ?? 2000,
      application_name: 'baton-probe',
    });
    // An idle connection that breaks emits 'error'; without a listener that would crash the process.
    client.on('error', (err) => {
      this.opts.logger.debug('probe postgres connection error', { endpoint, error: describeError(err) });
      if (this.primary === client) this.dropPrimary();
    });
    try {
      await client.connect();
      const res = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      return { client, inRecovery: res.rows[0]?.r !== false };
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
  }
}
