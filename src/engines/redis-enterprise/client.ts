/**
 * One typed client for the Redis Enterprise Software REST API (port 9443 of any cluster node, or
 * the REC's API Service on Kubernetes), as Redis documents it (redis/docs,
 * content/operate/rs/references/rest-api/): `GET /v1/nodes`, `GET /v1/nodes/status` (each node's
 * cluster role, `master`/`slave`, its primary and replica shards), `GET /v1/shards`,
 * `GET /v1/bdbs`, `POST /v1/shards/actions/failover` (`shard_uids` of one database),
 * `POST /v1/nodes/{uid}/actions/maintenance_on|maintenance_off`, `POST /v1/bdbs/{uid}/upgrade`
 * and `GET /v1/actions/{action_uid}`. Basic authentication; every call has a deadline, is tried
 * once, and fails with an OperationalError naming the call and the `error_code` the API returned.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { OperationalError, describeError } from '../../core/errors.js';

/** `GET /v1/nodes` entry (the fields Baton reads). */
export interface RecNode {
  uid: number;
  addr: string;
  status: string;
  software_version: string;
  shard_count?: number;
}

/** `GET /v1/nodes/status` value per node uid. */
export interface RecNodeStatus {
  role: 'master' | 'slave';
  hostname: string;
  node_status: string;
  master_shards: string[];
  slave_shards: string[];
  software_version: string;
  maintenance_snapshot?: { name: string };
}

/** `GET /v1/shards` entry (objects/shard). */
export interface RecShard {
  uid: string;
  bdb_uid: number;
  node_uid: string;
  role: 'master' | 'slave';
  status: 'active' | 'inactive' | 'trimming';
  detailed_status?: string;
  sync?: { status: string; progress?: number };
}

/** `GET /v1/bdbs` entry (objects/bdb, the fields Baton reads). */
export interface RecBdb {
  uid: number;
  name: string;
  status: string;
  redis_version: string;
  shards_count: number;
  replication: boolean;
}

/** objects/action: `status` is `pending`, `active`, `completed` or `failed`. */
export interface RecAction {
  action_uid: string;
  name: string;
  status: string;
  progress: number | string;
  node_uid?: string;
  object_name?: string;
  error?: string;
}

/** The calls the Redis Enterprise engine makes. */
export interface RedisEnterpriseApi {
  nodes(): Promise<RecNode[]>;
  nodesStatus(): Promise<Record<string, RecNodeStatus>>;
  shards(): Promise<RecShard[]>;
  bdbs(): Promise<RecBdb[]>;
  action(uid: string): Promise<RecAction>;
  /** Promote the replicas of these primary shards (all of one database); returns the action uid. */
  failoverShards(shardUids: string[]): Promise<string>;
  /** `maintenance_on` / `maintenance_off` on a node; returns the action uid. */
  nodeAction(
    nodeUid: number,
    action: 'maintenance_on' | 'maintenance_off',
    body: Record<string, unknown>,
  ): Promise<string>;
  /** Upgrade a database to `redisVersion`; returns the action uid. */
  upgradeBdb(bdbUid: number, redisVersion: string): Promise<string>;
}

/** Options of {@link RedisEnterpriseRestClient}. */
export interface RedisEnterpriseRestOptions {
  /** `https://rec.ns.svc:9443` (or `http://...` for the test double). */
  baseUrl: string;
  username?: string;
  password?: string;
  /** PEM of the cluster's CA; without it the REC's self-signed certificate is not verified. */
  ca?: string;
  /** Deadline of each call; default 10 s. */
  timeoutMs?: number;
}

interface Answer {
  status: number;
  body: unknown;
}

/** {@link RedisEnterpriseApi} over HTTPS (or HTTP) with basic authentication. */
export class RedisEnterpriseRestClient implements RedisEnterpriseApi {
  private readonly base: URL;

  constructor(private readonly opts: RedisEnterpriseRestOptions) {
    this.base = new URL(opts.baseUrl);
  }

  private call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> {
    const url = new URL(path, this.base);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    if (this.opts.username !== undefined) {
      const token = Buffer.from(`${this.opts.username}:${this.opts.password ?? ''}`).toString('base64');
      headers.authorization = `Basic ${token}`;
    }
    const https = url.protocol === 'https:';
    const send = https ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(
        url,
        {
          method,
          headers,
          timeout: this.opts.timeoutMs ?? 10_000,
          ...(https ? (this.opts.ca ? { ca: this.opts.ca } : { rejectUnauthorized: false }) : {}),
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              // Not JSON: keep the text for the error message.
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.opts.timeoutMs ?? 10_000} ms`)));
      req.on('error', (err) =>
        reject(
          new OperationalError(
            'redis-enterprise-unreachable',
            `Redis Enterprise REST API at ${this.base.host}: ${method} ${path}: ${describeError(err)}`,
          ),
        ),
      );
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  private async json<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const res = await this.call(method, path, body);
    if (res.status >= 200 && res.status < 300) return res.body as T;
    const b = (res.body ?? {}) as { error_code?: string; description?: string; message?: string };
    const why = b.error_code
      ? `${b.error_code}${b.description || b.message ? `: ${b.description ?? b.message}` : ''}`
      : typeof res.body === 'string'
        ? res.body.slice(0, 200)
        : JSON.stringify(res.body ?? '').slice(0, 200);
    throw new OperationalError(
      res.status === 401 ? 'redis-enterprise-auth' : 'redis-enterprise-api',
      `Redis Enterprise REST API: ${method} ${path} answered ${res.status}${why ? ` (${why})` : ''}`,
    );
  }

  nodes(): Promise<RecNode[]> {
    return this.json('GET', '/v1/nodes');
  }
  nodesStatus(): Promise<Record<string, RecNodeStatus>> {
    return this.json('GET', '/v1/nodes/status');
  }
  shards(): Promise<RecShard[]> {
    return this.json('GET', '/v1/shards');
  }
  bdbs(): Promise<RecBdb[]> {
    return this.json('GET', '/v1/bdbs');
  }
  action(uid: string): Promise<RecAction> {
    return this.json('GET', `/v1/actions/${encodeURIComponent(uid)}`);
  }
  async failoverShards(shardUids: string[]): Promise<string> {
    const r = await this.json<{ action_uid: string }>('POST', '/v1/shards/actions/failover', {
      shard_uids: shardUids,
    });
    return r.action_uid;
  }
  async nodeAction(
    nodeUid: number,
    action: 'maintenance_on' | 'maintenance_off',
    body: Record<string, unknown>,
  ): Promise<string> {
    const r = await this.json<{ action_uid?: string; task_id?: string }>(
      'POST',
      `/v1/nodes/${nodeUid}/actions/${action}`,
      body,
    );
    return r.action_uid ?? r.task_id ?? '';
  }
  async upgradeBdb(bdbUid: number, redisVersion: string): Promise<string> {
    const r = await this.json<{ action_uid?: string }>('POST', `/v1/bdbs/${bdbUid}/upgrade`, {
      redis_version: redisVersion,
      preserve_roles: true,
    });
    return r.action_uid ?? '';
  }
}
