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
 * - `POST /api/v2/login/` (pkg/server/api_v2_auth.go): form credentials -> `{"session": ...}`; with
 *   a password configured, `/api/v2/nodes/` and `/_status/details` need the session header (401
 *   "invalid session header" otherwise) as on a secure cluster.
 */
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { CockroachDoubleCluster } from './cluster.js';

/** Addresses the double advertises for each node. */
export type AdvertiseFn = (nodeId: number) => { rpc: string; sql: string };

function json(res: import('node:http').ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function grpcError(res: import('node:http').ServerResponse, message: string): void {
  // grpc-gateway maps codes.Unavailable (14) to 503.
  json(res, 503, { error: message, code: 14, message, details: [] });
}

/** An HTTP listener for one node. */
export function createHttpServer(
  cluster: CockroachDoubleCluster,
  nodeId: number,
  advertise: AdvertiseFn,
  password?: string,
): Server {
  const sessions = new Set<string>();
  const sockets = new Set<Socket>();
  const authorised = (req: import('node:http').IncomingMessage): boolean => {
    if (!password) return true;
    const header = req.headers['x-cockroach-api-session'];
    const cookie = /(?:^|;\s*)session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    return (typeof header === 'string' && sessions.has(header)) || (!!cookie && sessions.has(cookie));
  };
  const server = createServer((req, res) => {
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
        const session = Buffer.from(`session-${nodeId}-${sessions.size + 1}`).toString('base64');
        sessions.add(session);
        json(res, 200, { session });
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
  });
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
