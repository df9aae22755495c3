/**
 * Probe client for TiDB through mysql2 (TiDB speaks the MySQL protocol): rows of
 * `baton_probe(id, v)` through one TiDB server at a time. Every TiDB server serves every row, so
 * after a failed call the client moves to the next server in the list, as an application behind a
 * load balancer would when its server restarts.
 */
import mysql from 'mysql2/promise';
import { OperationalError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { EndpointSource, ProbeClient } from '../types.js';
import { currentEndpoints, parseEndpoint } from './endpoint.js';

/** Options of {@link TidbProbeClient}. */
export interface TidbProbeClientOptions {
  /** SQL endpoints (`host:port`, port 4000 by default in TiDB) of the TiDB servers. */
  endpoints: EndpointSource;
  logger: Logger;
  /** Default `root`. */
  user?: string;
  password?: string;
  /** Default `test`. */
  database?: string;
  /** Default 2000 ms. */
  connectTimeoutMs?: number;
  /** Client-side limit of one statement. Default 5000 ms (TiDB retries region errors inside). */
  queryTimeoutMs?: number;
  /** Table name; default `baton_probe`. A plain SQL identifier. */
  table?: string;
}

/** {@link ProbeClient} for TiDB. */
export class TidbProbeClient implements ProbeClient {
  readonly engine = 'tidb';
  private readonly table: string;
  private conn: mysql.Connection | undefined;
  private endpoint: string | undefined;
  /** Rotates through the servers on every rediscovery after a failure. */
  private turn = 0;

  constructor(private readonly opts: TidbProbeClientOptions) {
    this.table = opts.table ?? 'baton_probe';
    if (!/^[a-z_][a-z0-9_]*$/.test(this.table)) {
      throw new OperationalError(
        'probe-table',
        `probe table "${this.table}" must be a lower-case SQL identifier`,
      );
    }
  }

  /** Connects to a TiDB server and creates the probe table when missing. */
  async connect(): Promise<void> {
    await this.rediscover();
    await this.sql(`CREATE TABLE IF NOT EXISTS ${this.table} (id VARCHAR(128) PRIMARY KEY, v VARCHAR(255))`);
  }

  async write(id: string, value: string): Promise<void> {
    await this.sql(`INSERT INTO ${this.table} (id, v) VALUES (?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v)`, [
      id,
      value,
    ]);
  }

  async read(id: string): Promise<string | undefined> {
    const rows = (await this.sql(`SELECT v FROM ${this.table} WHERE id = ?`, [id])) as { v: string }[];
    return rows[0]?.v;
  }

  async readMany(ids: readonly string[]): Promise<(string | undefined)[]> {
    if (ids.length === 0) return [];
    const rows = (await this.sql(`SELECT id, v FROM ${this.table} WHERE id IN (?)`, [ids])) as {
      id: string;
      v: string;
    }[];
    const byId = new Map(rows.map((r) => [r.id, r.v]));
    return ids.map((id) => byId.get(id));
  }

  /** Drops the current connection and connects to the next TiDB server that answers. */
  async rediscover(): Promise<void> {
    const endpoints = await currentEndpoints(this.opts.endpoints, this.engine);
    await this.drop();
    let last: unknown;
    for (let i = 0; i < endpoints.length; i++) {
      const endpoint = endpoints[(this.turn + i) % endpoints.length] as string;
      const { host, port } = parseEndpoint(endpoint);
      try {
        this.conn = await mysql.createConnection({
          host,
          port,
          user: this.opts.user ?? 'root',
          password: this.opts.password ?? '',
          database: this.opts.database,
          connectTimeout: this.opts.connectTimeoutMs ?? 2000,
        });
        this.conn.on('error', () => void this.drop());
        this.endpoint = endpoint;
        this.turn = (this.turn + i + 1) % endpoints.length;
        this.opts.logger.debug('probe tidb server', { endpoint });
        return;
      } catch (err) {
        last = err;
      }
    }
    throw last instanceof Error
      ? last
      : new OperationalError('probe-tidb', 'no TiDB server accepts connections');
  }

  async close(): Promise<void> {
    await this.drop();
  }

  private async drop(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    this.endpoint = undefined;
    if (conn) await conn.end().catch(() => conn.destroy());
  }

  private async sql(statement: string, values?: unknown[]): Promise<unknown> {
    if (!this.conn) throw new OperationalError('probe-not-connected', 'tidb probe client has no connection');
    const [rows] = await this.conn.query(
      { sql: statement, timeout: this.opts.queryTimeoutMs ?? 5000 },
      values,
    );
    return rows;
  }
}
