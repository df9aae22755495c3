/**
 * The SQL half of the CockroachDB admin client, through the PostgreSQL wire protocol (`pg`): the
 * cluster version and `cluster.preserve_downgrade_option`, the statements the CockroachDB upgrade
 * documentation has an operator type (docs: "Upgrade CockroachDB on Kubernetes", the
 * `cluster.preserve_downgrade_option` cluster setting; validation in pkg/clusterversion/setting.go:
 * the option can only be set to the active cluster version). Every statement is a simple query
 * on a fresh connection to one node, so a node that restarted between two calls costs nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { BadInputError, OperationalError, describeError } from '../../core/errors.js';
import type { CockroachTls } from './http.js';

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
  /**
   * A secure cluster: TLS verifying the node's certificate with `ca` (`sslmode=verify-full`, as
   * `cockroach sql --certs-dir` connects), the client certificate authenticating the user.
   */
  tls?: CockroachTls;
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

  /** One statement Baton composed itself (never user input) on a fresh connection. */
  run(address: string, text: string): Promise<pg.QueryResult> {
    return this.query(address, text);
  }

  private async query(address: string, text: string): Promise<pg.QueryResult> {
    const client = new pg.Client({
      ...hostPort(address),
      user: this.opts.user ?? 'root',
      password: this.opts.password,
      database: this.opts.database ?? 'defaultdb',
      connectionTimeoutMillis: this.timeoutMs,
      query_timeout: this.timeoutMs,
      ...(this.opts.tls
        ? {
            ssl: {
              ca: this.opts.tls.ca,
              ...(this.opts.tls.cert && this.opts.tls.key
                ? { cert: this.opts.tls.cert, key: this.opts.tls.key }
                : {}),
            },
          }
        : {}),
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

/** SQL user names Baton puts in a statement: CockroachDB's normalised names, nothing to quote. */
const SQL_USER = /^[a-z_][a-z0-9_.-]*$/;

/** Protobuf varint of a non-negative integer. */
function varint(n: bigint): Buffer {
  const out: number[] = [];
  let v = n;
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}

/**
 * The value of the DB Console's `session` cookie (and of the `X-Cockroach-API-Session` header) for
 * web session `id` with `secret`: `serverpb.SessionCookie{id: 1, secret: 2}` marshalled and
 * base64-encoded, as `EncodeSessionCookie` (pkg/server/authentication.go) writes it.
 */
export function encodeSessionCookie(id: bigint, secret: Buffer): string {
  return Buffer.concat([
    Buffer.from([0x08]),
    varint(id),
    Buffer.from([0x12]),
    varint(BigInt(secret.length)),
    secret,
  ]).toString('base64');
}

/**
 * What `cockroach auth-session login <user>` does (pkg/cli/auth.go `createAuthSessionToken`),
 * for clusters where Baton authenticates by client certificate and has no password to log in to
 * the DB Console with: a random 16-byte secret, its SHA-256 inserted into `system.web_sessions`
 * for `user` with an expiry, and the session cookie built from the returned id.
 */
export async function createWebSession(
  sql: CockroachSql,
  address: string,
  user: string,
  validForMs = 3_600_000,
): Promise<string> {
  if (!SQL_USER.test(user)) {
    throw new BadInputError(
      'cockroachdb-user',
      `"${user}" is not a CockroachDB user name Baton can log in as`,
    );
  }
  const secret = randomBytes(16);
  const hashed = createHash('sha256').update(secret).digest('hex');
  const seconds = Math.max(1, Math.round(validForMs / 1000));
  const res = await sql.run(
    address,
    `INSERT INTO system.web_sessions ("hashedSecret", username, "expiresAt") VALUES (x'${hashed}', '${user}', now() + INTERVAL '${seconds} seconds') RETURNING id`,
  );
  const id = (res.rows[0] as Record<string, unknown> | undefined)?.id;
  if (id === undefined || id === null || !/^\d+$/.test(String(id))) {
    throw new OperationalError('cockroachdb-sql', `CockroachDB at ${address} returned no web session id`);
  }
  return encodeSessionCookie(BigInt(String(id)), secret);
}
