/**
 * The PostgreSQL wire protocol of one CockroachDB double node, through pg-gateway (startup,
 * authentication and message framing are the library's). It answers exactly the statements Baton
 * sends, with CockroachDB's results and errors:
 * - `SHOW CLUSTER SETTING version` / `SHOW CLUSTER SETTING cluster.preserve_downgrade_option`:
 *   one row, one text column named after the setting (pkg/sql/show_cluster_setting.go);
 * - `SET CLUSTER SETTING cluster.preserve_downgrade_option = '<v>'`, with the validation error of
 *   pkg/clusterversion/setting.go (SQLSTATE 22023);
 * - `RESET CLUSTER SETTING cluster.preserve_downgrade_option`;
 * - `INSERT INTO system.web_sessions ("hashedSecret", username, "expiresAt") VALUES (...) RETURNING
 *   id`, the statement of `cockroach auth-session login` (pkg/cli/auth.go), with the hashed secret as
 *   a hex bytes literal and the expiry as `now() + INTERVAL '<n> seconds'`: one INT8 row `id`.
 * With TLS (a secure cluster), the connection must be upgraded with `SSLRequest` and the client
 * must present a certificate signed by the cluster CA whose CN is the user
 * (pkg/sql/pgwire/auth_methods.go `authCert`): pg-gateway's `cert` method, plus the chain check.
 * A draining node refuses statements with SQLSTATE 57P01 "server is not accepting clients"
 * (pkg/sql/pgwire/server.go). Anything else is refused with 0A000 naming the statement, so a test
 * fails loudly when Baton starts sending something the double does not know.
 */
import { X509Certificate } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { BackendError, type PostgresConnectionOptions } from 'pg-gateway';
import { fromNodeSocket } from 'pg-gateway/node';
import type { CockroachDoubleCluster } from './cluster.js';

const PRESERVE = 'cluster.preserve_downgrade_option';

function message(code: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(code, 0, 'ascii');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function cstring(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}

/** RowDescription of one column (text, or INT8 with `oid` 20), DataRow, CommandComplete. */
function textRow(column: string, value: string, oid = 25, tag = 'SHOW 1'): Buffer[] {
  const field = Buffer.alloc(18);
  field.writeInt32BE(0, 0); // table oid
  field.writeInt16BE(0, 4); // column number
  field.writeInt32BE(oid, 6); // type oid: text (25) or int8 (20)
  field.writeInt16BE(oid === 20 ? 8 : -1, 10); // type size
  field.writeInt32BE(-1, 12); // type modifier
  field.writeInt16BE(0, 16); // text format
  const count = Buffer.alloc(2);
  count.writeInt16BE(1);
  const data = Buffer.from(value, 'utf8');
  const len = Buffer.alloc(4);
  len.writeInt32BE(data.length);
  return [
    message('T', Buffer.concat([count, cstring(column), field])),
    message('D', Buffer.concat([count, len, data])),
    message('C', cstring(tag)),
  ];
}

function done(tag: string): Buffer[] {
  return [message('C', cstring(tag))];
}

function error(code: string, text: string): Buffer[] {
  return [Buffer.from(BackendError.create({ severity: 'ERROR', code, message: text }).flush())];
}

const READY = message('Z', Buffer.from('I'));

/** Normalise a statement: trim, drop the trailing semicolon, collapse blanks. */
function normalise(sql: string): string {
  return sql.trim().replace(/;\s*$/, '').replace(/\s+/g, ' ');
}

/** Answer one simple-protocol query against the cluster state, as node `nodeId`. */
export function answer(cluster: CockroachDoubleCluster, nodeId: number, sql: string): Buffer[] {
  const stmt = normalise(sql);
  cluster.statements.push(stmt);
  const node = cluster.node(nodeId);
  if (node.draining) return error('57P01', 'server is not accepting clients, try another node');
  let m: RegExpExecArray | null;
  if (/^SHOW CLUSTER SETTING version$/i.test(stmt)) return textRow('version', cluster.clusterVersionString());
  if (new RegExp(`^SHOW CLUSTER SETTING ${PRESERVE}$`, 'i').test(stmt)) {
    return textRow(PRESERVE, cluster.preserveDowngrade);
  }
  if ((m = new RegExp(`^SET CLUSTER SETTING ${PRESERVE} = '([^']*)'$`, 'i').exec(stmt))) {
    try {
      cluster.setPreserveDowngrade(m[1]!);
    } catch (err) {
      return error('22023', (err as Error).message);
    }
    return done('SET CLUSTER SETTING');
  }
  if (
    (m =
      /^INSERT INTO system\.web_sessions \("hashedSecret", username, "expiresAt"\) VALUES \(x'([0-9a-f]{64})', '([a-z_][a-z0-9_.-]*)', now\(\) \+ INTERVAL '(\d+) seconds'\) RETURNING id$/i.exec(
        stmt,
      ))
  ) {
    const id = cluster.addWebSession(m[1]!, m[2]!, Date.now() + Number(m[3]) * 1000);
    return textRow('id', String(id), 20, 'INSERT 0 1');
  }
  if (new RegExp(`^RESET CLUSTER SETTING ${PRESERVE}$`, 'i').test(stmt)) {
    cluster.resetPreserveDowngrade();
    return done('SET CLUSTER SETTING');
  }
  return error('0A000', `the CockroachDB test double does not support: ${stmt}`);
}

/** A secure node's TLS: the cluster CA and the node's certificate (PEM). */
export interface NodeTls {
  ca: string;
  cert: string;
  key: string;
}

const arrayBuffer = (pem: string): ArrayBuffer => {
  const b = Buffer.from(pem);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
};

/**
 * A pgwire listener for one node: with `tls`, TLS and client certificates (CN = user, signed by the
 * CA); else with `password`, password authentication; else trust (an `--insecure` cluster).
 */
export function createSqlServer(
  cluster: CockroachDoubleCluster,
  nodeId: number,
  password?: string,
  tls?: NodeTls,
): Server {
  const ca = tls ? new X509Certificate(tls.ca) : undefined;
  const auth: PostgresConnectionOptions['auth'] = tls
    ? { method: 'cert' }
    : password
      ? { method: 'password', getClearTextPassword: () => password }
      : { method: 'trust' };
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    void fromNodeSocket(socket, {
      serverVersion: '13.0.0',
      auth,
      ...(tls
        ? {
            tls: { key: arrayBuffer(tls.key), cert: arrayBuffer(tls.cert), ca: arrayBuffer(tls.ca) },
            // The chain: a certificate the cluster CA did not sign fails the handshake.
            onTlsUpgrade(state) {
              const raw = state.tlsInfo?.clientCertificate;
              const cert = raw ? new X509Certificate(Buffer.from(raw)) : undefined;
              if (cert && !(cert.checkIssued(ca!) && cert.verify(ca!.publicKey))) {
                socket.destroy();
                throw new Error('client certificate not signed by the cluster CA');
              }
            },
          }
        : {}),
      onMessage(data, state) {
        if (state.step !== 'ReadyForQuery' || data[0] !== 0x51 /* Q */) return undefined;
        const text = Buffer.from(data.subarray(5, data.length - 1)).toString('utf8');
        return [...answer(cluster, nodeId, text), READY];
      },
    }).catch(() => socket.destroy());
  });
  // Closing a node drops its clients too, as a stopped process does.
  const close = server.close.bind(server);
  server.close = (cb?: (err?: Error) => void) => {
    for (const s of sockets) s.destroy();
    return close(cb);
  };
  return server;
}
