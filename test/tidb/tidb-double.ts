/**
 * A TiDB server of the double: its status port and its SQL port.
 *
 * Status port, as pingcap/tidb v8.5.x `pkg/server/http_status.go` routes it: `/status`
 * (`{connections, version: "8.0.11-TiDB-vX", git_hash, status}`), `/info` (server info with
 * `is_owner`), `/upgrade/{op}` (`ClusterUpgradeHandler`: POST only, else 400 "This API only support
 * POST method"; start/finish answer "success!" or the "duplicated operation" sentence; show),
 * `/ddl/owner/resign` (POST), anything else 404.
 *
 * SQL port, through mysql2's server API (the MySQL protocol TiDB speaks), answering what Baton and
 * its probe send: `SELECT tidb_version()`, `ADMIN SHOW DDL JOBS` (pending jobs, then the latest
 * finished ones), `CREATE TABLE`/`ALTER TABLE` (a DDL job: CREATE finishes at once, ALTER stays
 * running until the test finishes it), and single-table reads and writes by primary key. Rows are
 * kept in the model, standing for TiKV: a statement needs a PD leader (timestamp) and the key's
 * region leader on a running store, and backs off up to `backoffMs` before failing with TiDB's
 * error (9001 PD server timeout, 9005 Region is unavailable), as TiDB's region cache retries do.
 * Stopping is graceful: the listener closes, idle connections close, busy ones finish first.
 */
import { createServer as createMysqlServer } from 'mysql2';
import { NOT_FOUND, RestartableHttp, json } from './http-server.js';
import type { ClusterModel, TidbServerState } from './model.js';

/** The part of mysql2's server-side connection the double uses. */
interface ServerConn {
  serverHandshake(args: Record<string, unknown>): void;
  on(event: string, fn: (...args: never[]) => void): void;
  writeColumns(columns: Record<string, unknown>[]): void;
  writeTextRow(row: unknown[]): void;
  writeEof(): void;
  writeOk(args?: Record<string, unknown>): void;
  writeError(args: { message: string; code: number }): void;
  end(): void;
  sequenceId: number;
}

interface MysqlServer {
  listen(port: number, host: string, cb: () => void): void;
  close(cb?: () => void): void;
  _server: import('node:net').Server;
}

const VAR_STRING = 0xfd;
const LONGLONG = 0x08;

function column(name: string, type = VAR_STRING) {
  return {
    catalog: 'def',
    schema: '',
    table: '',
    orgTable: '',
    name,
    orgName: name,
    characterSet: 33,
    columnLength: 1024,
    columnType: type,
    flags: 0,
    decimals: 0,
  };
}

const DDL_COLUMNS = [
  'JOB_ID',
  'DB_NAME',
  'TABLE_NAME',
  'JOB_TYPE',
  'SCHEMA_STATE',
  'SCHEMA_ID',
  'TABLE_ID',
  'ROW_COUNT',
  'CREATE_TIME',
  'START_TIME',
  'END_TIME',
  'STATE',
];

function strings(sql: string): string[] {
  return [...sql.matchAll(/'((?:[^'\\]|\\.)*)'/g)].map((m) => (m[1] as string).replace(/\\(.)/g, '$1'));
}

/** One TiDB server: status HTTP plus SQL. */
export class TidbServerDouble {
  readonly status: RestartableHttp;
  private sql: MysqlServer | undefined;
  private readonly conns = new Map<ServerConn, { busy: boolean; closing: boolean }>();
  private nextConnId = 1;

  constructor(
    private readonly model: ClusterModel,
    private readonly name: string,
  ) {
    this.status = new RestartableHttp((req) => this.route(req.method, req.path));
  }

  private get self(): TidbServerState {
    return this.model.tidb.find((t) => t.name === this.name) as TidbServerState;
  }

  private versionString(): string {
    return `8.0.11-TiDB-${this.self.version}`;
  }

  private route(method: string, path: string) {
    const m = this.model;
    if (method === 'GET' && path === '/status') {
      return json(200, {
        connections: this.conns.size,
        version: this.versionString(),
        git_hash: 'double',
        status: { init_stats_percentage: 100 },
      });
    }
    if (method === 'GET' && path === '/info') {
      const s = this.self;
      return json(200, {
        is_owner: m.ddlOwner === s.name,
        max_connections: 0,
        version: this.versionString(),
        git_hash: 'double',
        ddl_id: s.ddlId,
        ip: '127.0.0.1',
        listening_port: s.sqlPort,
        status_port: s.statusPort,
        lease: '45s',
        binlog_status: 'Off',
        start_timestamp: 0,
        labels: {},
        server_id: s.ordinal + 1,
      });
    }
    const upgrade = /^\/upgrade\/([^/]+)$/.exec(path);
    if (upgrade) {
      if (method !== 'POST') return { status: 400, text: 'This API only support POST method' };
      const op = upgrade[1];
      if (op === 'show')
        return json(
          200,
          m.upgrading ? { owner_id: m.ddlOwner ?? '', upgraded_percent: 0 } : 'The cluster state is normal.',
        );
      if (op !== 'start' && op !== 'finish') return { status: 400, text: `wrong operation:${op}` };
      const already = op === 'start' ? m.upgrading : !m.upgrading;
      if (op === 'start') m.counters.upgradeStart += 1;
      else m.counters.upgradeFinish += 1;
      if (already)
        return json(
          200,
          `It's a duplicated operation and the cluster is already in ${op === 'start' ? 'upgrading' : 'normal'} state.`,
        );
      m.upgrading = op === 'start';
      for (const j of m.ddlJobs) {
        if (op === 'start' && ['running', 'queueing'].includes(j.state)) j.state = 'paused';
        if (op === 'finish' && j.state === 'paused') j.state = 'running';
      }
      return json(200, 'success!');
    }
    if (path === '/ddl/owner/resign') {
      if (method !== 'POST') return { status: 400, text: 'This API only support POST method' };
      const others = m.tidb.filter((t) => t.up && t.name !== m.ddlOwner);
      if (m.ddlOwner === this.name && others.length > 0) m.ddlOwner = (others[0] as TidbServerState).name;
      return json(200, 'success!');
    }
    return NOT_FOUND;
  }

  /** Open both ports (the SQL port keeps its number across restarts). */
  async start(): Promise<void> {
    await this.status.start();
    const server = createMysqlServer((c) =>
      this.accept(c as unknown as ServerConn),
    ) as unknown as MysqlServer;
    const port = this.self.sqlPort;
    await new Promise<void>((resolve, reject) => {
      server._server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.self.sqlPort = (server._server.address() as import('node:net').AddressInfo).port;
    this.self.statusPort = this.status.port;
    this.sql = server;
  }

  /** Graceful shutdown: stop accepting, close idle connections, let busy ones finish. */
  async stop(): Promise<void> {
    const sql = this.sql;
    this.sql = undefined;
    await this.status.stop();
    if (!sql) return;
    const closed = new Promise<void>((resolve) => sql.close(() => resolve()));
    for (const [conn, state] of this.conns) {
      state.closing = true;
      if (!state.busy) this.drop(conn);
    }
    const deadline = Date.now() + this.model.timing.backoffMs + 1000;
    while (this.conns.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    for (const conn of this.conns.keys()) this.drop(conn);
    await closed;
  }

  private drop(conn: ServerConn): void {
    this.conns.delete(conn);
    this.self.connections = this.conns.size;
    conn.end();
  }

  private accept(conn: ServerConn): void {
    const state = { busy: false, closing: false };
    this.conns.set(conn, state);
    this.self.connections = this.conns.size;
    conn.serverHandshake({
      protocolVersion: 10,
      serverVersion: this.versionString(),
      connectionId: this.nextConnId++,
      statusFlags: 2,
      characterSet: 33,
      capabilityFlags: 0xffffff ^ 0x800,
      // Accept any user; once the OK is written the next command starts a new packet sequence.
      authCallback: (_info: unknown, done: (err: null) => void) => {
        done(null);
        conn.sequenceId = 0;
      },
    });
    conn.on('error', () => this.conns.delete(conn));
    conn.on('end', () => this.conns.delete(conn));
    const handle = (sql: string) => {
      state.busy = true;
      void this.query(conn, String(sql)).finally(() => {
        // A command's response is over: the next command starts a new packet sequence.
        conn.sequenceId = 0;
        state.busy = false;
        if (state.closing) this.drop(conn);
      });
    };
    conn.on('query', handle as never);
    conn.on('stmt_prepare', ((sql: string) => {
      conn.writeOk();
      conn.sequenceId = 0;
      void sql;
    }) as never);
  }

  private async query(conn: ServerConn, sql: string): Promise<void> {
    const m = this.model;
    const text = sql.trim();
    if (/^select\s+tidb_version\(\)/i.test(text)) {
      const alias = /\bas\s+`?(\w+)`?/i.exec(text)?.[1] ?? 'tidb_version()';
      conn.writeColumns([column(alias)]);
      conn.writeTextRow([
        `Release Version: ${this.self.version}\nEdition: Community\nGit Commit Hash: double\nStore: tikv`,
      ]);
      return conn.writeEof();
    }
    if (/^select\s+1\b/i.test(text)) {
      conn.writeColumns([column('1', LONGLONG)]);
      conn.writeTextRow(['1']);
      return conn.writeEof();
    }
    if (/^admin\s+show\s+ddl\s+jobs/i.test(text)) {
      const pending = m.ddlJobs.filter(
        (j) => !['synced', 'done', 'cancelled', 'rollback done'].includes(j.state),
      );
      const finished = m.ddlJobs
        .filter((j) => !pending.includes(j))
        .slice(-10)
        .reverse();
      conn.writeColumns(DDL_COLUMNS.map((c) => column(c)));
      for (const j of [...pending, ...finished]) {
        conn.writeTextRow([
          String(j.id),
          j.db,
          j.table,
          j.type,
          'none',
          '1',
          '1',
          '0',
          '2026-01-01 00:00:00',
          '2026-01-01 00:00:00',
          null,
          j.state,
        ]);
      }
      return conn.writeEof();
    }
    const ddl = /^(create|alter)\s+table\s+(?:if\s+not\s+exists\s+)?`?(\w+)`?(?:\.`?(\w+)`?)?/i.exec(text);
    if (ddl) {
      const [db, table] = ddl[3] ? [ddl[2] as string, ddl[3]] : ['test', ddl[2] as string];
      const create = (ddl[1] as string).toLowerCase() === 'create';
      m.ddlJobs.push({
        id: 100 + m.ddlJobs.length,
        db,
        table,
        type: create ? 'create table' : 'add index',
        state: create ? 'synced' : m.upgrading ? 'paused' : 'running',
      });
      return conn.writeOk({ affectedRows: 0 });
    }
    const insert = /^(insert|replace)\s+into\s/i.test(text);
    const select = /^select\s+(.+?)\s+from\s+`?\w+`?\s+where\s+`?id`?\s*(=|in)/i.exec(text);
    if (!insert && !select)
      return conn.writeError({
        message: `You have an error in your SQL syntax near '${text.slice(0, 40)}'`,
        code: 1064,
      });
    const values = strings(text);
    const keys = insert ? [values[0] ?? ''] : values;
    const problem = await this.waitAvailable(keys);
    if (problem) return conn.writeError(problem);
    if (insert) {
      m.kv.set(values[0] ?? '', values[1] ?? '');
      return conn.writeOk({ affectedRows: 1 });
    }
    const withId = /\bid\b/i.test((select as RegExpExecArray)[1] as string);
    conn.writeColumns(withId ? [column('id'), column('v')] : [column('v')]);
    for (const k of keys) {
      const v = m.kv.get(k);
      if (v !== undefined) conn.writeTextRow(withId ? [k, v] : [v]);
    }
    return conn.writeEof();
  }

  /** Wait (as TiDB's backoff does) until every key is servable, or the error when it gives up. */
  private async waitAvailable(keys: string[]): Promise<{ code: number; message: string } | undefined> {
    const deadline = Date.now() + this.model.timing.backoffMs;
    for (;;) {
      const problem = keys.map((k) => this.model.unavailable(k)).find((p) => p !== undefined);
      if (!problem) return undefined;
      if (Date.now() >= deadline) return problem;
      await new Promise((r) => setTimeout(r, this.model.timing.tickMs));
    }
  }
}
