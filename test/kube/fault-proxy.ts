/**
 * An HTTPS proxy between the code under test and the real kube-apiserver that injects faults and
 * counts requests: the only part of the test stack that is not a real Kubernetes program besides
 * the kubelet. It presents the apiserver's own serving certificate (valid for 127.0.0.1), so a
 * kubeconfig only swaps the port; bearer tokens pass through untouched, so RBAC still decides.
 *
 * Faults, each on demand and for matching requests only (method and path prefix):
 * - {@link FaultProxy.failNext}: answer with a Kubernetes `Status` error (5xx, 409, 429 with
 *   Retry-After, ...) instead of forwarding;
 * - {@link FaultProxy.setLatency}: delay before forwarding;
 * - {@link FaultProxy.dropWatches}: end every open watch stream, as an apiserver restart or a
 *   watch timeout does;
 * - {@link FaultProxy.compact}: from now on a watch from a resourceVersion below the
 *   compaction point gets the `ERROR` event with a 410 Expired Status that the real apiserver sends
 *   after an etcd compaction (k8s.io/apiserver/pkg/storage/cacher/watch_cache.go
 *   "too old resource version"), and so does a list continued with an older token; a relist
 *   (fresh resourceVersion) works again.
 *
 * Requests are counted per `<verb> <resource>` the way the apiserver's RequestInfo names them
 * (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go): get, list, watch, create, update,
 * patch, delete, deletecollection; resource with subresource (`statefulsets/status`).
 */
import { Agent, createServer, request, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { readFile } from 'node:fs/promises';

/** A fault to inject: the next `times` matching requests fail with `status`. */
export interface FaultSpec {
  /** HTTP method to match (any when absent). */
  method?: string;
  /** Path prefix to match, e.g. `/apis/apps/v1/namespaces/db/statefulsets` (any when absent). */
  pathPrefix?: string;
  status: number;
  /** How many requests fail (default 1). */
  times?: number;
  message?: string;
  /** Status reason (default: the real apiserver's reason for `status`). */
  reason?: string;
}

/** Extra latency for matching requests. */
export interface LatencyRule {
  ms: number;
  method?: string;
  pathPrefix?: string;
}

/** One request that passed the proxy. */
export interface RequestEntry {
  method: string;
  path: string;
  /** Kubernetes verb, or `nonresource` for paths such as /version and discovery. */
  verb: string;
  /** Resource with subresource (`pods`, `statefulsets/status`, `pods/eviction`); '' for non-resource paths. */
  resource: string;
  group: string;
  namespace?: string;
  name?: string;
  /** HTTP status answered (0 while a watch is still streaming). */
  status: number;
  /** True when the answer came from an injected fault. */
  injected?: boolean;
  /** When the request arrived (ms since the epoch). */
  at: number;
  /** When the upstream's answer headers came back (ms since the epoch; undefined before). */
  answeredAt?: number;
}

/** Request counters since start or the last reset. */
export interface RequestStats {
  total: number;
  byVerb: Record<string, number>;
  byResource: Record<string, number>;
  /** Count per `<verb> <resource>` (`patch statefulsets`: 2). */
  byVerbResource: Record<string, number>;
  entries: RequestEntry[];
}

/** A running proxy (see the module comment). */
export interface FaultProxy {
  /** `https://127.0.0.1:<port>`. */
  readonly url: string;
  failNext(fault: FaultSpec): void;
  /** Drop every fault not yet used up. */
  clearFaults(): void;
  /** Replace the rule with the same method and prefix; `ms: 0` removes it. */
  setLatency(rule: LatencyRule): void;
  /** End every open watch stream; returns how many were open. */
  dropWatches(): number;
  /**
   * As an etcd compaction at `resourceVersion`: watches from an older resourceVersion, and lists
   * continued with an older token, get 410 Expired from now on.
   */
  compact(resourceVersion: string): void;
  requests(): RequestStats;
  resetRequests(): void;
  close(): Promise<void>;
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  410: 'Expired',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** A Kubernetes `Status` failure body. */
export function statusBody(code: number, message: string, reason?: string): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: reason ?? REASONS[code] ?? '',
    code,
  };
}

/** Verb, group, resource (with subresource), namespace and name of an API path. */
export function requestInfo(
  method: string,
  url: URL,
): Pick<RequestEntry, 'verb' | 'resource' | 'group' | 'namespace' | 'name'> {
  const parts = url.pathname.split('/').filter(Boolean);
  let rest: string[];
  let group: string;
  if (parts[0] === 'api' && parts.length >= 2) {
    group = '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1]!;
    rest = parts.slice(3);
  } else {
    return { verb: 'nonresource', resource: '', group: '' };
  }
  let legacyWatch = false;
  if (rest[0] === 'watch') {
    legacyWatch = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length === 0) return { verb: 'nonresource', resource: '', group };
  const [res, name, sub] = rest as [string, string | undefined, string | undefined];
  // `/api/v1/namespaces/<ns>` itself: the namespace object.
  const resource = sub ? `${res}/${sub}` : res;
  const objName = namespace !== undefined || name ? name : undefined;
  const isWatch =
    legacyWatch || url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
  let verb: string;
  switch (method) {
    case 'GET':
      verb = isWatch ? 'watch' : name ? 'get' : 'list';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = name ? 'delete' : 'deletecollection';
      break;
    default:
      verb = method.toLowerCase();
  }
  return {
    verb,
    resource,
    group,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(objName ? { name: objName } : {}),
  };
}

function matches(rule: { method?: string; pathPrefix?: string }, method: string, path: string): boolean {
  return (!rule.method || rule.method === method) && (!rule.pathPrefix || path.startsWith(rule.pathPrefix));
}

/** Start a proxy on 127.0.0.1 (free port) in front of `upstream` (the apiserver). */
export async function startFaultProxy(upstream: {
  server: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}): Promise<FaultProxy> {
  const [ca, cert, key] = await Promise.all([
    readFile(upstream.caFile),
    readFile(upstream.certFile),
    readFile(upstream.keyFile),
  ]);
  const target = new URL(upstream.server);
  let faults: (FaultSpec & { times: number })[] = [];
  let latency: LatencyRule[] = [];
  let log: RequestEntry[] = [];
  let compactedAt: bigint | undefined;
  const watches = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  // Connections to the API server are kept and reused, as a client talking to it directly would.
  const upstreamAgent = new Agent({ keepAlive: true, ca });

  const sendStatus = (res: ServerResponse, code: number, message: string, reason?: string) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (code === 429) headers['retry-after'] = '1';
    res.writeHead(code, headers);
    res.end(JSON.stringify(statusBody(code, message, reason)));
  };

  const tooOld = (rv: string | null): boolean => {
    if (compactedAt === undefined || !rv || rv === '0') return false;
    try {
      return BigInt(rv) < compactedAt;
    } catch {
      return false;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'https://proxy');
    const info = requestInfo(method, url);
    const entry: RequestEntry = { method, path: url.pathname, ...info, status: 0, at: Date.now() };
    log.push(entry);
    const delay = latency.filter((l) => matches(l, method, url.pathname)).reduce((a, l) => a + l.ms, 0);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));

    const fault = faults.find((f) => f.times > 0 && matches(f, method, url.pathname));
    if (fault) {
      fault.times--;
      faults = faults.filter((f) => f.times > 0);
      entry.status = fault.status;
      entry.injected = true;
      req.resume();
      sendStatus(res, fault.status, fault.message ?? `injected fault ${fault.status}`, fault.reason);
      return;
    }
    if (info.verb === 'watch' && tooOld(url.searchParams.get('resourceVersion'))) {
      const rv = url.searchParams.get('resourceVersion');
      entry.status = 200;
      entry.injected = true;
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          type: 'ERROR',
          object: statusBody(410, `too old resource version: ${rv} (${compactedAt})`, 'Expired'),
        }) + '\n',
      );
      return;
    }
    const cont = url.searchParams.get('continue');
    if (info.verb === 'list' && cont && compactedAt !== undefined && continueTooOld(cont, compactedAt)) {
      entry.status = 410;
      entry.injected = true;
      req.resume();
      sendStatus(
        res,
        410,
        'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        'Expired',
      );
      return;
    }

    const headers = { ...req.headers, host: target.host };
    const up = request(
      {
        host: target.hostname,
        port: target.port,
        method,
        path: req.url,
        headers,
        agent: upstreamAgent,
      },
      (upRes) => {
        entry.status = upRes.statusCode ?? 0;
        entry.answeredAt = Date.now();
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        if (info.verb === 'watch') {
          watches.add(res);
          res.once('close', () => watches.delete(res));
          res.flushHeaders();
        }
        upRes.pipe(res);
        upRes.on('error', () => res.destroy());
      },
    );
    up.on('error', (err) => {
      if (res.headersSent) res.destroy();
      else sendStatus(res, 503, `fault proxy: upstream failed: ${err.message}`);
    });
    res.once('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.on('error', () => up.destroy());
    res.on('error', () => up.destroy());
    req.pipe(up);
  };

  const server: Server = createServer({ cert, key }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendStatus(res, 500, `fault proxy: ${String(err)}`);
      else res.destroy();
    });
  });
  // Idle client connections stay open as long as the API server keeps them (its http.Server
  // IdleTimeout, 90 s: k8s.io/apiserver pkg/server/secure_serving.go), not Node's 5 s default, so
  // a client pays no new TLS handshake through the proxy that it would not pay without it.
  server.keepAliveTimeout = 90_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };

  return {
    url: `https://127.0.0.1:${port}`,
    failNext(fault) {
      faults.push({ ...fault, times: fault.times ?? 1 });
    },
    clearFaults() {
      faults = [];
    },
    setLatency(rule) {
      latency = latency.filter((l) => l.method !== rule.method || l.pathPrefix !== rule.pathPrefix);
      if (rule.ms > 0) latency.push(rule);
    },
    dropWatches() {
      const n = watches.size;
      for (const w of watches) w.destroy();
      watches.clear();
      return n;
    },
    compact(resourceVersion) {
      compactedAt = BigInt(resourceVersion);
    },
    requests() {
      const stats: RequestStats = {
        total: log.length,
        byVerb: {},
        byResource: {},
        byVerbResource: {},
        entries: [...log],
      };
      for (const e of log) {
        stats.byVerb[e.verb] = (stats.byVerb[e.verb] ?? 0) + 1;
        if (!e.resource) continue;
        stats.byResource[e.resource] = (stats.byResource[e.resource] ?? 0) + 1;
        const k = `${e.verb} ${e.resource}`;
        stats.byVerbResource[k] = (stats.byVerbResource[k] ?? 0) + 1;
      }
      return stats;
    },
    resetRequests() {
      log = [];
    },
    async close() {
      for (const w of watches) w.destroy();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      upstreamAgent.destroy();
      await closed;
    },
  };
}

/**
 * Whether a list `continue` token was issued before `compactedAt`. The token is base64 JSON
 * `{"v":"meta.k8s.io/v1","rv":<n>,"start":...}` (k8s.io/apiserver/pkg/storage/continue.go).
 */
function continueTooOld(token: string, compactedAt: bigint): boolean {
  try {
    const decoded = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { rv?: number };
    return decoded.rv !== undefined && BigInt(decoded.rv) < compactedAt;
  } catch {
    return false;
  }
}
