/**
 * The REST API of the Redis Enterprise double, on 127.0.0.1 over HTTP with basic authentication:
 * the requests Baton makes, with the documented response shapes (redis/docs,
 * content/operate/rs/references/rest-api/requests/{nodes,nodes/status,shards,
 * shards/actions/failover,nodes/actions,bdbs,bdbs/upgrade,actions}.md and objects/{shard,action}.md).
 * The real API is HTTPS on 9443; the client is the same either way.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { ApiError, type RecDoubleCluster } from './cluster.js';

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      try {
        resolve(text ? (JSON.parse(text) as Record<string, unknown>) : {});
      } catch {
        resolve({});
      }
    });
  });
}

/**
 * A REST server over `cluster`; credentials `username`/`password` are required. With `tls` it is
 * HTTPS, as the real API on 9443 is (the REC's certificate is self-signed).
 */
export function createRecApiServer(
  cluster: RecDoubleCluster,
  username: string,
  password: string,
  tls?: { cert: Buffer | string; key: Buffer | string },
): Server {
  const handler = recApiHandler(cluster, username, password);
  return tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler) : createServer(handler);
}

function recApiHandler(
  cluster: RecDoubleCluster,
  username: string,
  password: string,
): (req: IncomingMessage, res: ServerResponse) => void {
  const expected = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  return (req, res) => {
    void (async () => {
      if (req.headers.authorization !== expected)
        return send(res, 401, { error_code: 'unauthorized', description: 'Unauthorized' });
      const url = new URL(req.url ?? '/', 'http://double');
      const path = url.pathname.replace(/\/$/, '');
      cluster.requests.push(`${req.method} ${path}`);
      const now = Date.now();
      let m: RegExpExecArray | null;
      try {
        if (req.method === 'GET' && path === '/v1/nodes') {
          return send(
            res,
            200,
            cluster.nodes.map((n) => ({
              uid: n.uid,
              addr: n.addr,
              status: n.up ? 'active' : 'down',
              software_version: n.softwareVersion,
              shard_count: cluster.shards.filter((s) => s.nodeUid === n.uid).length,
            })),
          );
        }
        if (req.method === 'GET' && path === '/v1/nodes/status') {
          const out: Record<string, unknown> = {};
          for (const n of cluster.nodes) {
            const mine = cluster.shards.filter((s) => s.nodeUid === n.uid);
            const snap = n.snapshots.at(-1);
            out[String(n.uid)] = {
              hostname: n.hostname,
              role: cluster.masterNode === n.uid ? 'master' : 'slave',
              node_status: n.up ? 'active' : 'down',
              master_shards: mine.filter((s) => s.role === 'master').map((s) => s.uid),
              slave_shards: mine.filter((s) => s.role === 'slave').map((s) => s.uid),
              software_version: n.softwareVersion,
              ...(snap ? { maintenance_snapshot: { name: snap.name, node_uid: String(n.uid) } } : {}),
            };
          }
          return send(res, 200, out);
        }
        if (req.method === 'GET' && path === '/v1/shards') {
          return send(
            res,
            200,
            cluster.shards.map((s) => {
              const up = cluster.node(s.nodeUid).up;
              const syncing = now < s.syncingUntil;
              return {
                uid: s.uid,
                bdb_uid: s.bdbUid,
                node_uid: String(s.nodeUid),
                role: s.role,
                status: up ? 'active' : 'inactive',
                detailed_status: !up ? 'down' : syncing ? 'loading' : 'ok',
                sync: {
                  status: s.role === 'master' ? 'idle' : !up ? 'link_down' : syncing ? 'in_progress' : 'idle',
                },
              };
            }),
          );
        }
        if (req.method === 'GET' && path === '/v1/bdbs') {
          return send(
            res,
            200,
            cluster.bdbs.map((b) => ({
              uid: b.uid,
              name: b.name,
              status: now < b.busyUntil ? 'active-change-pending' : 'active',
              redis_version: b.redisVersion,
              shards_count: cluster.shards.filter((s) => s.bdbUid === b.uid && s.role === 'master').length,
              replication: true,
            })),
          );
        }
        if (req.method === 'GET' && (m = /^\/v1\/actions\/([^/]+)$/.exec(path))) {
          const a = cluster.actions.get(decodeURIComponent(m[1]!));
          if (!a)
            return send(res, 404, { error_code: 'action_not_found', description: 'Action does not exist' });
          return send(res, 200, {
            action_uid: a.action_uid,
            name: a.name,
            status: a.status,
            progress: cluster.progress(a, now),
            ...(a.node_uid ? { node_uid: a.node_uid } : {}),
            ...(a.object_name ? { object_name: a.object_name } : {}),
            ...(a.error ? { error: a.error } : {}),
          });
        }
        if (req.method === 'POST' && path === '/v1/shards/actions/failover') {
          const body = await readBody(req);
          const a = cluster.failover(body.shard_uids);
          return send(res, 200, { action_uid: a.action_uid, description: 'Failover was triggered' });
        }
        if (req.method === 'POST' && (m = /^\/v1\/nodes\/(\d+)\/actions\/(\w+)$/.exec(path))) {
          const body = await readBody(req);
          const a = cluster.nodeAction(Number(m[1]), m[2]!, body);
          return send(res, 200, { status: 'queued', action_uid: a.action_uid });
        }
        if (req.method === 'POST' && (m = /^\/v1\/bdbs\/(\d+)\/upgrade$/.exec(path))) {
          const body = await readBody(req);
          const a = cluster.upgrade(Number(m[1]), body.redis_version);
          const b = cluster.bdbs.find((x) => x.uid === Number(m![1]))!;
          return send(res, 200, { uid: b.uid, name: b.name, replication: true, action_uid: a.action_uid });
        }
        return send(res, 404, {
          error_code: 'not_found',
          description: `no handler for ${req.method} ${path}`,
        });
      } catch (err) {
        if (err instanceof ApiError)
          return send(res, err.status, { error_code: err.code, description: err.message });
        return send(res, 500, { error_code: 'internal_error', description: String(err) });
      }
    })();
  };
}
