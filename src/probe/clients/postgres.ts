/**
 * Probe client for PostgreSQL through `pg`: rows of `baton_probe(id, v, at)` on the current
 * primary. The primary is whichever endpoint answers `pg_is_in_recovery() = false`; it is looked
 * up again after a connection error or when the server says it is read-only (a switchover moved
 * the primary away). The workers of one probe share a {@link PostgresPrimaryLocator}, so that
 * losing the primary costs one round of questions to the members, not one per worker.
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
  /**
   * Finds the primary; share one between the clients of a probe's workers. Default: one of this
   * client's own.
   */
  locator?: PostgresPrimaryLocator;
}

/** How to reach a member: everything {@link PostgresProbeClientOptions} says but the table. */
export type PostgresConnectOptions = Pick<
  PostgresProbeClientOptions,
  'endpoints' | 'logger' | 'user' | 'database' | 'password' | 'connectTimeoutMs' | 'queryTimeoutMs'
>;

/** Opens a connection to `endpoint`; an idle connection that breaks calls `onBroken`. */
async function openConnection(
  endpoint: string,
  opts: PostgresConnectOptions,
  onBroken: (client: pg.Client) => void,
): Promise<pg.Client> {
  const { host, port } = parseEndpoint(endpoint);
  const client = new pg.Client({
    host,
    port,
    user: opts.user ?? 'postgres',
    database: opts.database ?? 'postgres',
    password: opts.password,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 2000,
    query_timeout: opts.queryTimeoutMs ?? 2000,
    application_name: 'baton-probe',
  });
  // An idle connection that breaks emits 'error'; without a listener that would crash the process.
  client.on('error', (err) => {
    opts.logger.debug('probe postgres connection error', { endpoint, error: describeError(err) });
    onBroken(client);
  });
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
}

async function inRecovery(client: pg.Client): Promise<boolean> {
  const res = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
  return res.rows[0]?.r !== false;
}

/**
 * Which endpoint is the primary, for every worker of a probe: one lookup at a time (a worker
 * asking while one runs gets its answer), each asking every member `pg_is_in_recovery()` over a
 * connection the locator keeps. Without it, 32 workers that lose their primary together would
 * each open a connection to every member (every one a backend forked by the server) on every
 * retry, just while the standby is being promoted on the same machine.
 */
export class PostgresPrimaryLocator {
  private readonly conns = new Map<string, Promise<pg.Client>>();
  private lookup: Promise<string> | undefined;
  private users = 0;

  constructor(private readonly opts: PostgresConnectOptions) {}

  /** A client starts using the locator. */
  retain(): void {
    this.users += 1;
  }

  /** A client is done with it; the last one closes its connections. */
  async release(): Promise<void> {
    this.users -= 1;
    if (this.users > 0) return;
    const conns = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(conns.map(async (c) => (await c.catch(() => undefined))?.end().catch(() => undefined)));
  }

  /**
   * The endpoint that answers as the primary now. Throws OperationalError `probe-no-primary`
   * when none does (naming why each endpoint did not), or when two claim to be.
   */
  locate(): Promise<string> {
    this.lookup ??= this.find().finally(() => (this.lookup = undefined));
    return this.lookup;
  }

  private async find(): Promise<string> {
    const endpoints = await currentEndpoints(this.opts.endpoints, 'postgres');
    for (const e of [...this.conns.keys()]) if (!endpoints.includes(e)) this.forget(e);
    const answers = await Promise.allSettled(endpoints.map((e) => this.ask(e)));
    const primaries: string[] = [];
    const problems: string[] = [];
    answers.forEach((a, i) => {
      const endpoint = endpoints[i] ?? '';
      if (a.status === 'rejected') problems.push(`${endpoint}: ${describeError(a.reason)}`);
      else if (!a.value) primaries.push(endpoint);
    });
    if (primaries.length !== 1) {
      const why = primaries.length > 1 ? [`${primaries.join(' and ')} all claim to be primary`] : problems;
      throw new OperationalError(
        'probe-no-primary',
        `no PostgreSQL primary among ${endpoints.join(', ')}${why.length ? ` (${why.join('; ')})` : ''}`,
      );
    }
    if (problems.length > 0) this.opts.logger.debug('probe postgres discovery', { problems });
    return primaries[0]!;
  }

  /** `pg_is_in_recovery()` of `endpoint`; a kept connection that fails is replaced once. */
  private async ask(endpoint: string): Promise<boolean> {
    const kept = this.conns.get(endpoint);
    if (kept) {
      const client = await kept.catch(() => undefined);
      if (client) {
        try {
          return await inRecovery(client);
        } catch {
          this.forget(endpoint, kept);
        }
      } else {
        this.forget(endpoint, kept);
      }
    }
    const opened = openConnection(endpoint, this.opts, () => this.forget(endpoint, opened));
    this.conns.set(endpoint, opened);
    try {
      return await inRecovery(await opened);
    } catch (err) {
      this.forget(endpoint, opened);
      throw err;
    } finally {
      // A lookup that outlived its probe (cut off by the operation timeout) keeps nothing open.
      if (this.users <= 0) this.forget(endpoint, opened);
    }
  }

  private forget(endpoint: string, which?: Promise<pg.Client>): void {
    const conn = this.conns.get(endpoint);
    if (!conn || (which && conn !== which)) return;
    this.conns.delete(endpoint);
    void conn.then((c) => c.end()).catch(() => undefined);
  }
}

/**
 * The kinds of PostgreSQL's own errors, by SQLSTATE (appendix "PostgreSQL Error Codes" of its
 * manual): a write on a standby (25006 read_only_sql_transaction), the sessions a fast shutdown
 * ends (57P01 admin_shutdown, `terminating connection due to administrator command`; 57P02
 * crash_shutdown), and a server refusing new sessions while it shuts down or starts up (57P03
 * cannot_connect_now). The connection exception class (08) counts as `reset`.
 */
const SQLSTATE_KINDS: Record<string, string> = {
  '25006': 'read-only',
  '57P01': 'shutdown',
  '57P02': 'shutdown',
  '57P03': 'unavailable',
};

/**
 * What `pg` itself says when a client's connection is gone: the server closed it (`Connection
 * terminated unexpectedly`), or the client was used after it broke or was ended.
 */
const PG_GONE = /Connection terminated|not queryable|Client was closed/i;

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
  private readonly locator: PostgresPrimaryLocator;
  private primary: pg.Client | undefined;
  private primaryEndpoint: string | undefined;
  private closed = false;

  constructor(private readonly opts: PostgresProbeClientOptions) {
    this.table = opts.table ?? 'baton_probe';
    if (!/^[a-z_][a-z0-9_]*$/.test(this.table)) {
      throw new OperationalError(
        'probe-table',
        `probe table "${this.table}" must be a lower-case SQL identifier`,
      );
    }
    this.locator = opts.locator ?? new PostgresPrimaryLocator(opts);
    this.locator.retain();
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
   * Asks the locator which endpoint is the primary and opens this client's connection there,
   * checking on it that the server is still out of recovery. Throws OperationalError
   * `probe-no-primary` when no endpoint is a primary right now.
   */
  async rediscover(): Promise<void> {
    this.dropPrimary();
    const endpoint = await this.locator.locate();
    const client = await openConnection(endpoint, this.opts, (broken) => {
      if (this.primary === broken) this.dropPrimary();
    });
    let standby: boolean;
    try {
      standby = await inRecovery(client);
    } catch (err) {
      void client.end().catch(() => undefined);
      throw err;
    }
    if (standby) {
      void client.end().catch(() => undefined);
      throw new OperationalError(
        'probe-no-primary',
        `${endpoint} was the primary a moment ago but is in recovery`,
      );
    }
    this.primary = client;
    this.primaryEndpoint = endpoint;
    this.opts.logger.debug('probe postgres primary', { endpoint });
  }

  /** The kind of a PostgreSQL error by its SQLSTATE, or of `pg` losing its connection. */
  errorKind(err: unknown): string | undefined {
    const code = (err as { code?: unknown } | undefined)?.code;
    if (typeof code === 'string') {
      if (SQLSTATE_KINDS[code]) return SQLSTATE_KINDS[code];
      if (code.startsWith('08')) return 'reset';
    }
    if (err instanceof Error && PG_GONE.test(err.message)) return 'reset';
    return undefined;
  }

  async close(): Promise<void> {
    const client = this.primary;
    this.primary = undefined;
    this.primaryEndpoint = undefined;
    await client?.end().catch(() => undefined);
    if (!this.closed) {
      this.closed = true;
      await this.locator.release();
    }
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
}
