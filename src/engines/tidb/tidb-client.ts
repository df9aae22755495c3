/**
 * Typed client of a TiDB server: its status port (default 10080) and its SQL port (default 4000)
 * through mysql2. Followed, in pingcap/tidb at v8.5.x:
 * - `pkg/server/http_status.go`: the routes `/status`, `/info`, `/upgrade/{op}`,
 *   `/ddl/owner/resign`;
 * - `pkg/server/handler/...`: `/status` answers `{connections, version, git_hash}` with `version`
 *   like `8.0.11-TiDB-v8.5.0`; `/info` answers the server info (`version`, `ip`,
 *   `listening_port`, `status_port`, `ddl_id`, `is_owner`); `ClusterUpgradeHandler` (POST only,
 *   `/upgrade/start` and `/upgrade/finish`: `"success!"`, or "It's a duplicated operation ..."
 *   when the cluster already is in that state; `/upgrade/show`: "The cluster state is normal." or
 *   the upgrade info object); errors are 400 with the message as text;
 * - `ADMIN SHOW DDL JOBS` (columns `JOB_ID`, `DB_NAME`, `TABLE_NAME`, `JOB_TYPE`, `STATE`, ...:
 *   every running or queued job plus the latest finished ones) and `SELECT tidb_version()`
 *   (`Release Version: v8.5.0` on its first line).
 *
 * Smooth upgrade (`/upgrade/start` before the first TiDB restarts, `/upgrade/finish` after the
 * last) exists from v7.1.2 in the v7.1 series and from v7.4.0 on ({@link supportsSmoothUpgrade}).
 */
import mysql from 'mysql2/promise';
import { describeError, OperationalError } from '../../core/errors.js';
import { parseVersion, compareVersions } from '../../core/version.js';
import { DEFAULT_HTTP_TIMEOUT_MS, baseUrl, expectOk, getJson, messageOf, request } from './http.js';

/** `/status` of a TiDB server. */
export interface TidbStatus {
  connections: number;
  /** `v8.5.0`, normalised from the MySQL-compatible version string. */
  version: string;
  gitHash: string;
}

/** `/info` of a TiDB server (what Baton uses of it). */
export interface TidbInfo {
  version: string;
  ip: string;
  listeningPort: number;
  statusPort: number;
  ddlId: string;
  isOwner: boolean;
}

/** Whether the cluster is in TiDB's upgrading state (`/upgrade/show`). */
export type UpgradeState = 'normal' | 'upgrading';

/** One job of `ADMIN SHOW DDL JOBS`. */
export interface DdlJob {
  id: number;
  db: string;
  table: string;
  type: string;
  state: string;
}

/** DDL job states that mean the job is over (everything else is running, queued or paused). */
export const FINISHED_DDL_STATES: readonly string[] = ['synced', 'done', 'cancelled', 'rollback done'];

/** True when `job` is running, queued or paused rather than finished. */
export function isPendingDdl(job: DdlJob): boolean {
  return !FINISHED_DDL_STATES.includes(job.state.toLowerCase());
}

/**
 * `v8.5.0` from any of TiDB's version spellings: `8.0.11-TiDB-v8.5.0` (MySQL-compatible, from
 * `/status`), `v8.5.0`, `8.5.0` (PD and TiKV store versions). A string without a version stays as is.
 */
export function normalizeTidbVersion(raw: string): string {
  const s = raw.trim();
  const v = /-TiDB-(v?\d+\.\d+\.\d+\S*)$/.exec(s)?.[1] ?? s;
  return /^\d+\.\d+/.test(v) ? `v${v}` : v;
}

/**
 * Whether TiDB `version` answers `/upgrade/start` and `/upgrade/finish` (smooth upgrade): v7.1.2 and
 * later v7.1 patches, and v7.4.0 and later.
 */
export function supportsSmoothUpgrade(version: string): boolean {
  const v = parseVersion(version);
  if (v.major === 7 && v.minor === 1) return compareVersions(v, 'v7.1.2') >= 0;
  return compareVersions(v, 'v7.4.0') >= 0;
}

/** Credentials of the SQL user Baton connects as (default `root` without password). */
export interface SqlCredentials {
  user?: string;
  password?: string;
}

/** Options of {@link TidbClient}. */
export interface TidbClientOptions {
  timeoutMs?: number;
  credentials?: SqlCredentials;
}

/** A TiDB server's status port and SQL port. */
export class TidbClient {
  private readonly timeoutMs: number;

  constructor(private readonly opts: TidbClientOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  }

  /** `GET /status`. */
  async status(statusEndpoint: string): Promise<TidbStatus> {
    const raw = await getJson<{ connections?: number; version?: string; git_hash?: string }>(
      `${baseUrl(statusEndpoint)}/status`,
      { timeoutMs: this.timeoutMs },
    );
    return {
      connections: raw.connections ?? 0,
      version: normalizeTidbVersion(raw.version ?? ''),
      gitHash: raw.git_hash ?? '',
    };
  }

  /** `GET /info`. */
  async info(statusEndpoint: string): Promise<TidbInfo> {
    const raw = await getJson<{
      version?: string;
      ip?: string;
      listening_port?: number;
      status_port?: number;
      ddl_id?: string;
      is_owner?: boolean;
    }>(`${baseUrl(statusEndpoint)}/info`, { timeoutMs: this.timeoutMs });
    return {
      version: normalizeTidbVersion(raw.version ?? ''),
      ip: raw.ip ?? '',
      listeningPort: raw.listening_port ?? 4000,
      statusPort: raw.status_port ?? 10080,
      ddlId: raw.ddl_id ?? '',
      isOwner: raw.is_owner === true,
    };
  }

  private async post(statusEndpoint: string, path: string): Promise<string> {
    const url = `${baseUrl(statusEndpoint)}${path}`;
    const answer = expectOk('POST', url, await request(url, { method: 'POST', timeoutMs: this.timeoutMs }));
    return messageOf(answer.text);
  }

  /** `POST /upgrade/start`: pause user DDL for the upgrade. Idempotent (TiDB says "duplicated"). */
  async upgradeStart(statusEndpoint: string): Promise<string> {
    return this.post(statusEndpoint, '/upgrade/start');
  }

  /** `POST /upgrade/finish`: back to normal. Idempotent. */
  async upgradeFinish(statusEndpoint: string): Promise<string> {
    return this.post(statusEndpoint, '/upgrade/finish');
  }

  /** `POST /upgrade/show`: whether the cluster is in the upgrading state. */
  async upgradeState(statusEndpoint: string): Promise<UpgradeState> {
    const text = await this.post(statusEndpoint, '/upgrade/show');
    return text.includes('normal') ? 'normal' : 'upgrading';
  }

  /** `POST /ddl/owner/resign`: the DDL owner steps down so another server takes over. */
  async resignDdlOwner(statusEndpoint: string): Promise<void> {
    await this.post(statusEndpoint, '/ddl/owner/resign');
  }

  private async withSql<T>(host: string, port: number, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
    let conn: mysql.Connection | undefined;
    try {
      conn = await mysql.createConnection({
        host,
        port,
        user: this.opts.credentials?.user ?? 'root',
        password: this.opts.credentials?.password ?? '',
        connectTimeout: this.timeoutMs,
      });
      return await fn(conn);
    } catch (err) {
      throw new OperationalError('tidb-sql', `TiDB ${host}:${port}: ${describeError(err)}`, { cause: err });
    } finally {
      await conn?.end().catch(() => conn?.destroy());
    }
  }

  /** `ADMIN SHOW DDL JOBS` through the SQL port. */
  async ddlJobs(host: string, port: number): Promise<DdlJob[]> {
    return this.withSql(host, port, async (c) => {
      const [rows] = await c.query({ sql: 'ADMIN SHOW DDL JOBS', timeout: this.timeoutMs });
      return (rows as Record<string, unknown>[]).map((r) => ({
        id: Number(r.JOB_ID ?? 0),
        db: String(r.DB_NAME ?? ''),
        table: String(r.TABLE_NAME ?? ''),
        type: String(r.JOB_TYPE ?? ''),
        state: String(r.STATE ?? ''),
      }));
    });
  }

  /** `SELECT tidb_version()`: the release version on its first line, normalised. */
  async sqlVersion(host: string, port: number): Promise<string> {
    return this.withSql(host, port, async (c) => {
      const [rows] = await c.query({ sql: 'SELECT tidb_version() AS v', timeout: this.timeoutMs });
      const text = String((rows as { v?: unknown }[])[0]?.v ?? '');
      const m = /Release Version:\s*(\S+)/.exec(text);
      return normalizeTidbVersion(m?.[1] ?? text);
    });
  }
}
