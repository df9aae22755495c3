/**
 * CockroachDB's HTTP endpoints, as the real server serves them (cockroachdb/cockroach):
 * - `GET /health?ready=1` (`Admin.Health`, pkg/server/serverpb/admin.proto, bound by grpc-gateway;
 *   `checkReadinessForHealthCheck` in pkg/server/admin.go): 200 `{}` when the node is live and not
 *   draining, 503 with `{"error": "node is shutting down"}` or `"node is not healthy"` otherwise;
 * - `GET /_status/vars` (pkg/server/status.go, `statusServer.handleVars`): Prometheus text of the
 *   node's and its stores' metrics, dots turned to underscores (`ranges_underreplicated`,
 *   `ranges_unavailable`, `replicas_leaseholders`);
 * - `GET /_status/details/local` (`Status.Details`): the answering node's `node_id` and `build_info.tag`;
 * - `GET /api/v2/nodes/` (pkg/server/api_v2.go `listNodes`): every node with `node_id`, `build_tag`,
 *   `ServerVersion` and `liveness_status` (livenesspb.NodeLivenessStatus as an integer);
 * - `POST /api/v2/login/` (pkg/server/api_v2_auth.go): form `username`, `password` -> `{"session"}`,
 *   sent back as the `X-Cockroach-API-Session` header (and the `session` cookie the `/_status`
 *   endpoints read) on secure clusters. Without a password (a client certificate only) the session
 *   comes from {@link CockroachHttpOptions.createSession} instead.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { OperationalError, describeError } from '../../core/errors.js';

/**
 * TLS material of a secure cluster (the files `cockroach cert` writes and the operator's and Helm
 * chart's client Secrets hold): `ca` verifies the node's certificate; `cert`/`key` are the client
 * certificate of the SQL user (`client.root.crt`/`client.root.key`), presented on every surface.
 */
export interface CockroachTls {
  /** PEM of the cluster CA (`ca.crt`). */
  ca: string;
  /** PEM of the client certificate (`client.<user>.crt`). */
  cert?: string;
  /** PEM of its key (`client.<user>.key`). */
  key?: string;
}

/** livenesspb.NodeLivenessStatus (pkg/kv/kvserver/liveness/livenesspb/liveness.proto). */
export const LIVENESS: Readonly<Record<number, string>> = {
  0: 'UNKNOWN',
  1: 'DEAD',
  2: 'UNAVAILABLE',
  3: 'LIVE',
  4: 'DECOMMISSIONING',
  5: 'DECOMMISSIONED',
  6: 'DRAINING',
  7: 'STARTING',
};

/** One node as `/api/v2/nodes/` lists it. */
export interface CockroachNodeStatus {
  nodeId: number;
  /** `v24.1.3`. */
  buildTag: string;
  /** RPC address the node advertises (`host:port`). */
  address: string;
  /** SQL address the node advertises (`host:port`). */
  sqlAddress: string;
  /** livenesspb name: `LIVE`, `DEAD`, `DRAINING`, ... */
  liveness: string;
}

/** The metrics of one node's `/_status/vars` that upgrades care about, summed over its stores. */
export interface CockroachNodeVars {
  underReplicated: number;
  unavailable: number;
  /** Range leases this node's stores hold. */
  leaseholders: number;
  /** Replicas this node's stores hold. */
  replicas: number;
}

/** Answer of `/health?ready=1`. */
export interface CockroachReadiness {
  ready: boolean;
  /** Why not, as the node said it. */
  reason?: string;
}

/** Options of {@link CockroachHttp}. */
export interface CockroachHttpOptions {
  /** `http` (insecure clusters, the default) or `https`. */
  scheme?: 'http' | 'https';
  /** SQL user with the admin role, for secure clusters; unset: no login. */
  username?: string;
  password?: string;
  /** Deadline of each request. Default 5 s. */
  timeoutMs?: number;
  /** A secure cluster's CA and client certificate; implies `https`. */
  tls?: CockroachTls;
  /**
   * Without a password: a DB Console session for the node at an HTTP address, made some other way
   * (with a client certificate, through SQL as `cockroach auth-session login` does).
   */
  createSession?: (httpAddress: string) => Promise<string>;
}

/** What one HTTP exchange returned (the body read whole: these answers are small). */
interface Answer {
  ok: boolean;
  status: number;
  text: string;
}

function parseJson<T>(a: Answer, address: string, path: string): T {
  try {
    return JSON.parse(a.text) as T;
  } catch {
    throw new OperationalError(
      'cockroachdb-http',
      `CockroachDB at ${address} answered ${path} with something that is not JSON: ${a.text.slice(0, 200)}`,
    );
  }
}

/** Sum every sample of each metric in a Prometheus text exposition, over all label sets. */
export function parsePrometheusText(text: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(trimmed);
    if (!m) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    sums.set(m[1]!, (sums.get(m[1]!) ?? 0) + value);
  }
  return sums;
}

interface RawNode {
  node_id?: number;
  build_tag?: string;
  address?: { address_field?: string };
  sql_address?: { address_field?: string };
  liveness_status?: number;
}

/** HTTP half of the CockroachDB admin client. Each call targets one node's HTTP address. */
export class CockroachHttp {
  private readonly timeoutMs: number;
  private readonly sessions = new Map<string, string>();

  constructor(private readonly opts: CockroachHttpOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  private url(address: string, path: string): URL {
    if (/^https?:\/\//.test(address)) return new URL(`${address.replace(/\/$/, '')}${path}`);
    const scheme = this.opts.scheme ?? (this.opts.tls ? 'https' : 'http');
    return new URL(`${scheme}://${address}${path}`);
  }

  private async login(address: string): Promise<string | undefined> {
    const { username, password } = this.opts;
    const cached = this.sessions.get(address);
    if (cached) return cached;
    if (!username) {
      if (!this.opts.createSession) return undefined;
      const session = await this.opts.createSession(address);
      this.sessions.set(address, session);
      return session;
    }
    const res = await this.fetch(address, '/api/v2/login/', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username, password: password ?? '' }).toString(),
    });
    if (!res.ok) {
      throw new OperationalError(
        'cockroachdb-login',
        `CockroachDB at ${address} refused the login of "${username}" (HTTP ${res.status}); check the credentials Secret`,
      );
    }
    const body = parseJson<{ session?: string }>(res, address, '/api/v2/login/');
    if (!body.session)
      throw new OperationalError('cockroachdb-login', `CockroachDB at ${address} returned no session`);
    this.sessions.set(address, body.session);
    return body.session;
  }

  /** One exchange over HTTP or HTTPS (with the cluster CA and the client certificate). */
  private fetch(
    address: string,
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<Answer> {
    const url = this.url(address, path);
    const https = url.protocol === 'https:';
    const tls = this.opts.tls;
    const send = https ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const fail = (err: unknown) =>
        reject(
          new OperationalError(
            'cockroachdb-unreachable',
            `CockroachDB HTTP at ${address} did not answer ${path}: ${describeError(err)}`,
          ),
        );
      const req = send(
        url,
        {
          method: init.method ?? 'GET',
          headers: init.headers ?? {},
          timeout: this.timeoutMs,
          ...(https && tls
            ? { ca: tls.ca, ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}) }
            : {}),
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('error', fail);
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            resolve({ ok: status >= 200 && status < 300, status, text });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', fail);
      if (init.body !== undefined) req.write(init.body);
      req.end();
    });
  }

  /** GET `path` with the session when there is one; a 401 drops a stale session and logs in once more. */
  private async get(address: string, path: string): Promise<Answer> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const session = await this.login(address);
      const headers: Record<string, string> = session
        ? { 'X-Cockroach-API-Session': session, cookie: `session=${session}` }
        : {};
      const res = await this.fetch(address, path, { headers });
      if (res.status === 401 && session && attempt === 0) {
        this.sessions.delete(address);
        continue;
      }
      return res;
    }
    throw new OperationalError('cockroachdb-login', `CockroachDB at ${address} keeps refusing the session`);
  }

  private async json<T>(address: string, path: string): Promise<T> {
    const res = await this.get(address, path);
    if (!res.ok) {
      throw new OperationalError(
        'cockroachdb-http',
        `CockroachDB at ${address} answered ${path} with HTTP ${res.status}: ${res.text.slice(0, 200)}`,
      );
    }
    return parseJson<T>(res, address, path);
  }

  /** `/health?ready=1`: whether the node accepts SQL clients (live, not draining, not starting). */
  async readiness(address: string): Promise<CockroachReadiness> {
    const res = await this.fetch(address, '/health?ready=1');
    if (res.ok) return { ready: true };
    let reason = `HTTP ${res.status}`;
    try {
      const body = JSON.parse(res.text) as { error?: string; message?: string };
      reason = body.error ?? body.message ?? reason;
    } catch {
      // Not JSON: the status code says enough.
    }
    return { ready: false, reason };
  }

  /** The node's range and lease gauges from `/_status/vars`. */
  async vars(address: string): Promise<CockroachNodeVars> {
    const res = await this.get(address, '/_status/vars');
    if (!res.ok) {
      throw new OperationalError(
        'cockroachdb-http',
        `CockroachDB at ${address} answered /_status/vars with HTTP ${res.status}`,
      );
    }
    const m = parsePrometheusText(res.text);
    return {
      underReplicated: m.get('ranges_underreplicated') ?? 0,
      unavailable: m.get('ranges_unavailable') ?? 0,
      leaseholders: m.get('replicas_leaseholders') ?? 0,
      replicas: m.get('replicas') ?? 0,
    };
  }

  /** The answering node's ID and build tag (`/_status/details/local`). */
  async details(address: string): Promise<{ nodeId: number; buildTag: string }> {
    const body = await this.json<{ node_id?: number; build_info?: { tag?: string } }>(
      address,
      '/_status/details/local',
    );
    if (typeof body.node_id !== 'number') {
      throw new OperationalError('cockroachdb-http', `CockroachDB at ${address} returned no node_id`);
    }
    return { nodeId: body.node_id, buildTag: body.build_info?.tag ?? '' };
  }

  /** Every node the cluster knows, with its build tag and liveness (`/api/v2/nodes/`). */
  async nodes(address: string): Promise<CockroachNodeStatus[]> {
    const body = await this.json<{ nodes?: RawNode[] }>(address, '/api/v2/nodes/');
    return (body.nodes ?? []).map((n) => ({
      nodeId: n.node_id ?? 0,
      buildTag: n.build_tag ?? '',
      address: n.address?.address_field ?? '',
      sqlAddress: n.sql_address?.address_field ?? '',
      liveness: LIVENESS[n.liveness_status ?? 0] ?? `status ${n.liveness_status}`,
    }));
  }
}
