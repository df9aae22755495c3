/**
 * The HTTP endpoints of one CockroachDB double node, shaped as the real handlers answer them
 * (cockroachdb/cockroach):
 * - `GET /health[?ready=1]`: `Admin.Health` through grpc-gateway (pkg/server/admin.go
 *   `checkReadinessForHealthCheck`): `{}`; with `ready`, 503 `{"error": "node is shutting down"}`
 *   while draining and `"node is not healthy"` before the first liveness heartbeat;
 * - `GET /_status/vars` (pkg/server/status.go): Prometheus text of the store gauges, labelled by
 *   store and node as `pkg/util/metric/prometheus_exporter.go` writes them;
 * - `GET /_status/details/local` (`Status.Details`): `node_id`, `address`, `build_info.tag`;
 * - `GET /api/v2/nodes/` (pkg/server/api_v2.go `listNodes`, `nodeStatus` json tags);
 * - `POST /api/v2/login/` (pkg/server/api_v2_auth.go): form credentials -> `{"session": ...}`; on a
 *   secure cluster (a password or TLS configured) `/api/v2/nodes/` and `/_status/details` need a
 *   session (401 "invalid session header" otherwise). A session is a row of `system.web_sessions`
 *   (the cluster's, shared by every node); its cookie is `serverpb.SessionCookie{id, secret}`
 *   marshalled and base64-encoded, and is valid while SHA-256(secret) matches the row and it has
 *   not expired (pkg/server/authentication.go `verifySession`). Rows come from the login or from
 *   the SQL `INSERT` of `cockroach auth-session login`.
 * With TLS the listener is HTTPS with the node's certificate, as a secure node's DB Console is.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { encodeSessionCookie } from '../../src/engines/cockroachdb/sql.js';
import type { CockroachDoubleCluster } from './cluster.js';
import type { NodeTls } from './sql-server.js';

/** Decode a session cookie: protobuf field 1 (varint id) and field 2 (bytes secret); undefined if malformed. */
export function decodeSessionCookie(value: string): { id: bigint; secret: Buffer } | undefined {
  const b = Buffer.from(value, 'base64');
  let i = 0;
  const varint = (): bigint | undefined => {
    let v = 0n;
    for (let shift = 0n; i < b.length; shift += 7n) {
      const byte = b[i++]!;
      v |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return v;
    }
    return undefined;
  };
  let id: bigint | undefined;
  let secret: Buffer | undefined;
  while (i < b.length) {
    const tag = varint();
    if (tag === 8n) id = varint();
    else if (tag === 0x12n) {
      const len = varint();
      if (len === undefined || i + Number(len) > b.length) return undefined;
      secret = b.subarray(i, i + Number(len));
      i += Number(len);
    } else return undefined;
  }
  return id !== undefined && secret ? { id, secret } : undefined;
}

/** Addresses the double advertises for each node. */
export type AdvertiseFn = (nodeId: number) => { rpc: string; sql: string };

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function grpcError(res: ServerResponse, message: string): void {
  // grpc-gateway maps codes.Unavailable (14) to 503.
  json(res, 503, { error: message, code: 14, message, details: [] });
}

/** An HTTP listener for one node. */
export function createHttpServer(
  cluster: CockroachDoubleCluster,
  nodeId: number,
  advertise: AdvertiseFn,
  password?: string,
  tls?: NodeTls,
): Server {
  const sockets = new Set<Socket>();
  const valid = (value: string | undefined): boolean => {
    const c = value ? decodeSessionCookie(decodeURIComponent(value)) : undefined;
    const row = c ? cluster.webSessions.get(c.id) : undefined;
    return (
      !!row &&
      row.expiresAt > Date.now() &&
      createHash('sha256').update(c!.secret).digest('hex') === row.hashedSecret
    );
  };
  const authorised = (req: IncomingMessage): boolean => {
    if (!password && !tls) return true;
    const header = req.headers['x-cockroach-api-session'];
    const cookie = /(?:^|;\s*)session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    return (typeof header === 'string' && valid(header)) || valid(cookie);
  };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://double');
    const node = cluster.node(nodeId);
    if (req.method === 'POST' && url.pathname === '/api/v2/login/') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        if (password && form.get('password') !== password) {
          res.writeHead(401, { 'content-type': 'text/plain' });
          res.end('the provided credentials did not match any account on the server\n');
          return;
        }
        const secret = randomBytes(16);
        const hashed = createHash('sha256').update(secret).digest('hex');
        const id = cluster.addWebSession(hashed, form.get('username') ?? '', Date.now() + 3_600_000);
        json(res, 200, { session: encodeSessionCookie(id, secret) });
      });
      return;
    }
    if (req.method !== 'GET') return json(res, 405, { error: 'method not allowed' });
    switch (url.pathname) {
      case '/health': {
        const ready = url.searchParams.get('ready');
        if (ready === '1' || ready === 'true') {
          if (node.draining) return grpcError(res, 'node is shutting down');
          if (!cluster.isLive(node)) return grpcError(res, 'node is not healthy');
        }
        return json(res, 200, {});
      }
      case '/_status/vars': {
        const labels = `{store="${nodeId}",node_id="${nodeId}"}`;
        const g = node.gauges;
        const lines = [
          '# HELP ranges_underreplicated Number of ranges with fewer live replicas than the replication target',
          '# TYPE ranges_underreplicated gauge',
          `ranges_underreplicated${labels} ${g.underReplicated}`,
          '# HELP ranges_unavailable Number of ranges with fewer live replicas than needed for quorum',
          '# TYPE ranges_unavailable gauge',
          `ranges_unavailable${labels} ${g.unavailable}`,
          '# HELP replicas_leaseholders Number of lease holders',
          '# TYPE replicas_leaseholders gauge',
          `replicas_leaseholders${labels} ${g.leaseholders}`,
          '# HELP replicas Number of replicas',
          '# TYPE replicas gauge',
          `replicas${labels} ${g.replicas}`,
        ];
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        return res.end(lines.join('\n') + '\n');
      }
      case '/_status/details/local': {
        if (!authorised(req)) return json(res, 401, { error: 'no valid session' });
        const a = advertise(nodeId);
        return json(res, 200, {
          node_id: nodeId,
          address: { network_field: 'tcp', address_field: a.rpc },
          build_info: { go_version: 'go1.22', tag: `v${node.binary}`, type: 'release' },
          sql_address: { network_field: 'tcp', address_field: a.sql },
        });
      }
      case '/api/v2/nodes/': {
        if (!authorised(req)) {
          res.writeHead(401, { 'content-type': 'text/plain' });
          return res.end('invalid session header\n');
        }
        const now = Date.now();
        return json(res, 200, {
          nodes: cluster.nodes.map((n) => {
            const a = advertise(n.id);
            const [major, minor] = n.binary.split('.').map(Number);
            return {
              node_id: n.id,
              address: { network_field: 'tcp', address_field: a.rpc },
              attrs: {},
              locality: {},
              ServerVersion: { major_val: major, minor_val: minor, patch: 0, internal: 0 },
              build_tag: `v${n.binary}`,
              started_at: n.startedAt * 1e6,
              cluster_name: '',
              sql_address: { network_field: 'tcp', address_field: a.sql },
              liveness_status: cluster.livenessStatus(n, now),
            };
          }),
        });
      }
      default:
        return json(res, 404, { error: `no handler for ${url.pathname}` });
    }
  };
  const server: Server = tls
    ? createHttpsServer({ key: tls.key, cert: tls.cert }, handler)
    : createServer(handler);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const close = server.close.bind(server);
  server.close = (cb?: (err?: Error) => void) => {
    for (const s of sockets) s.destroy();
    return close(cb);
  };
  return server;
}
