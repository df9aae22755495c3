/**
 * The SQL half of the CockroachDB admin client, through the PostgreSQL wire protocol (`pg`): the
 * cluster version and `cluster.preserve_downgrade_option`, the statements the CockroachDB upgrade
 * documentation has an operator type (docs: "Upgrade CockroachDB on Kubernetes", the
 * `cluster.preserve_downgrade_option` cluster setting; validation in pkg/clusterversion/setting.go:
 * the option can only be set to the active cluster version). Every statement is a simple query
 * on a fresh connection to one node, so a node that restarted between two calls costs nothing.
 */
import pg from 'pg';
import { BadInputError, OperationalError, describeError } from '../../core/errors.js';

/** The cluster setting that keeps a major upgrade reversible until it is reset. */
export const PRESERVE_DOWNGRADE_OPTION = 'cluster.preserve_downgrade_option';

/** Options of {@link CockroachSql}. */
export interface CockroachSqlOptions {
  /** SQL user; default `root`. */
  user?: string;
  password?: string;
  /** Database to connect to; default `defaultdb`. */
  database?: string;
  /** Deadline for connecting and for each statement. Default 5 s. */
  timeoutMs?: number;
}

function hostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  if (i < 0) return { host: address, port: 26257 };
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

/** A CockroachDB major, `YY.N`: the only value the option takes besides the empty string. */
function checkMajor(value: string): string {
  if (!/^\d+\.\d+$/.test(value)) {
    throw new BadInputError('cockroachdb-major', `"${value}" is not a CockroachDB major version (YY.N)`);
  }
  return value;
}

/** SQL statements against one node at a time. */
export class CockroachSql {
  private readonly timeoutMs: number;

  constructor(private readonly opts: CockroachSqlOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  private async query(address: string, text: string): Promise<pg.QueryResult> {
    const client = new pg.Client({
      ...hostPort(address),
      user: this.opts.user ?? 'root',
      password: this.opts.password,
      database: this.opts.database ?? 'defaultdb',
      connectionTimeoutMillis: this.timeoutMs,
      query_timeout: this.timeoutMs,
    });
    // A node that goes away mid-statement emits 'error' on the client; the query rejects anyway.
    client.on('error', () => undefined);
    try {
      await client.connect();
      return await client.query(text);
    } catch (err) {
      throw new OperationalError(
        'cockroachdb-sql',
        `CockroachDB SQL at ${address}: ${text}: ${describeError(err)}`,
      );
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private async show(address: string, setting: string): Promise<string> {
    const res = await this.query(address, `SHOW CLUSTER SETTING ${setting}`);
    const row = res.rows[0] as Record<string, unknown> | undefined;
    const value = row ? Object.values(row)[0] : undefined;
    if (value === undefined || value === null) {
      throw new OperationalError(
        'cockroachdb-sql',
        `CockroachDB at ${address} returned no value for ${setting}`,
      );
    }
    return String(value);
  }

  /** `SHOW CLUSTER SETTING version`: the active cluster version, e.g. `24.1`. */
  clusterVersion(address: string): Promise<string> {
    return this.show(address, 'version');
  }

  /** `SHOW CLUSTER SETTING cluster.preserve_downgrade_option`: a major, or empty when unset. */
  preserveDowngrade(address: string): Promise<string> {
    return this.show(address, PRESERVE_DOWNGRADE_OPTION);
  }

  /** `SET CLUSTER SETTING cluster.preserve_downgrade_option = '<major>'`. */
  async setPreserveDowngrade(address: string, major: string): Promise<void> {
    await this.query(address, `SET CLUSTER SETTING ${PRESERVE_DOWNGRADE_OPTION} = '${checkMajor(major)}'`);
  }

  /** `RESET CLUSTER SETTING cluster.preserve_downgrade_option`: lets the cluster finalize. */
  async resetPreserveDowngrade(address: string): Promise<void> {
    await this.query(address, `RESET CLUSTER SETTING ${PRESERVE_DOWNGRADE_OPTION}`);
  }
}
