/**
 * A faithful fake Kubernetes API server for tests and benchmarks. It speaks real HTTP on
 * 127.0.0.1 (port 0) so `@kubernetes/client-node` is exercised end to end: discovery, CRUD with
 * optimistic concurrency, the four patch types, watches with resourceVersion replay and 410
 * Expired, the status and scale subresources, CRDs served generically, Eviction with
 * PodDisruptionBudgets, and in-process StatefulSet, kubelet, disruption and garbage-collection
 * controllers. Faults (error statuses) and latency can be injected per method and path.
 *
 * ```ts
 * const server = await startFakeApiServer({ readinessDelayMs: 20 });
 * const core = server.kubeConfig().makeApiClient(CoreV1Api);
 * ...
 * await server.close();
 * ```
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { systemClock, type Clock } from '../../src/core/clock.js';
import { nullLogger, type Logger } from '../../src/core/logger.js';
import { Cluster, type DeleteOptions, type PatchType } from './cluster.js';
import { crdResourceType, establishedStatus, validateCrd } from './crd.js';
import { DisruptionController } from './disruption.js';
import { ApiError, badRequest, conflict, invalid, reasonForCode, statusBody } from './errors.js';
import { FAKE_NODE, Kubelet, type KubeletSettings } from './kubelet.js';
import { jsonPatch, mergePatch, strategicMergePatch } from './patch.js';
import { apiVersionOf, type ResourceType } from './resources.js';
import { Scheduler } from './scheduler.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import { defaultStatefulSet, StatefulSetController, validateStatefulSet } from './statefulset-controller.js';
import { toTable, wantsTable } from './table.js';
import { clone, isObject, type JsonObject, type KubeObject } from './types.js';
import type { StoreEvent } from './store.js';
import { WatchStream } from './watch.js';

// Names tests need alongside the server (documented where they are defined).
export { NEVER_READY_ANNOTATION, READY_DELAY_ANNOTATION, isPodReady } from './kubelet.js';
export { REVISION_LABEL, templateHash } from './statefulset-controller.js';

/** Options of {@link startFakeApiServer}. */
export interface FakeApiServerOptions {
  /** Time from Running to Ready of a new pod (default 30 ms). */
  readinessDelayMs?: number;
  /** How long a deleted pod stays Terminating (default 20 ms). */
  podTerminationMs?: number;
  /** Images that never start (exact string or pattern). */
  badImages?: (string | RegExp)[];
  /** Clock for timestamps and controller delays (default: the system clock). */
  clock?: Clock;
  logger?: Logger;
  /** Change events kept for watch replay (default 1000); older resourceVersions get 410. */
  historyLimit?: number;
  /** Interval of BOOKMARK events on watches that allow them (default 1000 ms; 0 disables). */
  bookmarkIntervalMs?: number;
  /** Bearer token the server accepts (default `fake-token`); a different token is always 401. */
  token?: string;
  /**
   * Also refuse requests without a token (default false: anonymous requests are served, because
   * kubectl does not send bearer tokens over plain HTTP).
   */
  requireToken?: boolean;
  /** Latency added to every request (default 0). */
  latencyMs?: number;
  /** `gitVersion` reported by `/version` (default `v1.31.0`). */
  kubernetesVersion?: string;
}

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
  /** Status reason (default: the real server's reason for `status`). */
  reason?: string;
}

/** Extra latency for matching requests. */
export interface LatencyRule {
  ms: number;
  method?: string;
  pathPrefix?: string;
}

/** One served request. */
export interface RequestEntry {
  method: string;
  path: string;
  /** Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection, or `discovery`/`nonresource`. */
  verb: string;
  /** Resource with subresource (`pods`, `statefulsets/status`, `pods/eviction`), '' for non-resource paths. */
  resource: string;
  group: string;
  namespace?: string;
  name?: string;
  status: number;
  /** Patch content type for patches. */
  patchType?: string;
  /** True when the response came from {@link FakeApiServer.failNext}. */
  injected?: boolean;
  /** Wall-clock time the request arrived (ms since the epoch), and how long it took to answer. */
  at: number;
  ms?: number;
}

/** Request counters since the last reset. */
export interface RequestStats {
  total: number;
  /** Count per verb (`list`: 3). */
  byVerb: Record<string, number>;
  /** Count per resource (`pods`: 5, `statefulsets/status`: 1). */
  byResource: Record<string, number>;
  /** Count per `<verb> <resource>` (`patch statefulsets`: 2). */
  byVerbResource: Record<string, number>;
  entries: RequestEntry[];
}

/** A running fake API server. */
export interface FakeApiServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The bearer token clients must send. */
  readonly token: string;
  /** A client-node KubeConfig whose current context points at this server (namespace `default`). */
  kubeConfig(): KubeConfig;
  /** Write a kubeconfig YAML file for `--kubeconfig` / kubectl. */
  writeKubeconfig(path: string): Promise<void>;
  /** Counters and log of requests since start or the last {@link resetRequests}. */
  requests(): RequestStats;
  resetRequests(): void;
  /** Fail the next matching requests with a Status of the given code. */
  failNext(fault: FaultSpec): void;
  /** Add latency to matching requests (replaces rules with the same method and prefix; 0 removes). */
  setLatency(rule: LatencyRule): void;
  /** Kubelet settings, mutable while running (readiness delay, termination delay, bad images). */
  readonly kubelet: KubeletSettings;
  /** Drop the watch history: every resourceVersion issued so far becomes too old (410). */
  compact(): void;
  /** End every open watch stream (as an API server restart or a watch timeout does); returns how many. */
  dropWatches(): number;
  /** The latest resourceVersion. */
  resourceVersion(): string;
  /** Resolves when the controllers have no queued work and no pending timer. */
  idle(): Promise<void>;
  /** Direct read of a stored object (no request logged), for assertions. */
  peek(group: string, resource: string, namespace: string, name: string): KubeObject | undefined;
  /** Listen to every stored change, synchronously, in resourceVersion order; returns an unsubscribe. */
  subscribe(fn: (e: StoreEvent) => void): () => void;
  /** Close watches, sockets, controllers and timers. */
  close(): Promise<void>;
}

/** Where a request points after URL parsing. */
interface Target {
  group: string;
  version: string;
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  legacyWatch: boolean;
}

const PATCH_TYPES: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
};

/** Start a fake API server on 127.0.0.1 and a free port. */
export async function startFakeApiServer(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const impl = new FakeApiServerImpl(opts);
  await impl.listen();
  return impl;
}

class FakeApiServerImpl implements FakeApiServer {
  url = '';
  readonly token: string;
  readonly kubelet: KubeletSettings;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly cluster: Cluster;
  private readonly scheduler: Scheduler;
  private readonly disruption: DisruptionController;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly watches = new Set<WatchStream>();
  private readonly unsubscribe: () => void;
  private faults: (FaultSpec & { times: number })[] = [];
  private latency: LatencyRule[] = [];
  private log: RequestEntry[] = [];
  private closed = false;
  private readonly shutdown = new AbortController();

  constructor(private readonly opts: FakeApiServerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? nullLogger;
    this.token = opts.token ?? 'fake-token';
    this.kubelet = {
      readinessDelayMs: opts.readinessDelayMs ?? 30,
      podTerminationMs: opts.podTerminationMs ?? 20,
      badImages: [...(opts.badImages ?? [])],
    };
    if (opts.latencyMs) this.latency.push({ ms: opts.latencyMs });
    this.cluster = new Cluster({
      clock: this.clock,
      logger: this.logger,
      historyLimit: opts.historyLimit ?? 1000,
    });
    this.scheduler = new Scheduler(this.clock, this.logger);
    const kubelet = new Kubelet(this.cluster, this.scheduler, this.clock, this.kubelet);
    const sts = new StatefulSetController(this.cluster, this.scheduler);
    this.disruption = new DisruptionController(this.cluster, this.scheduler);
    this.installHooks();
    this.unsubscribe = this.cluster.store.subscribe((e) => {
      kubelet.observe(e);
      sts.observe(e);
      this.disruption.observe(e);
    });
    this.bootstrap();
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (this.closed) {
          res.destroy();
          return;
        }
        this.logger.error('fake apiserver handler failed', {
          error: err instanceof Error ? err.message : String(err),
        });
        if (!res.headersSent) this.sendJson(res, 500, statusBody(500, 'InternalError', String(err)));
        else if (!res.writableEnded) res.end();
      });
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        const addr = this.server.address() as AddressInfo;
        this.url = `http://127.0.0.1:${addr.port}`;
        resolve();
      });
    });
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'fake-user', token: this.token }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake-user', namespace: 'default' }],
      currentContext: 'fake',
    });
    return kc;
  }

  async writeKubeconfig(path: string): Promise<void> {
    const doc = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'fake-user', user: { token: this.token } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake-user', namespace: 'default' } }],
      'current-context': 'fake',
    };
    await writeFile(path, stringifyYaml(doc), { mode: 0o600 });
  }

  requests(): RequestStats {
    const stats: RequestStats = {
      total: this.log.length,
      byVerb: {},
      byResource: {},
      byVerbResource: {},
      entries: this.log.map((e) => ({ ...e })),
    };
    for (const e of this.log) {
      stats.byVerb[e.verb] = (stats.byVerb[e.verb] ?? 0) + 1;
      if (e.resource) {
        stats.byResource[e.resource] = (stats.byResource[e.resource] ?? 0) + 1;
        const k = `${e.verb} ${e.resource}`;
        stats.byVerbResource[k] = (stats.byVerbResource[k] ?? 0) + 1;
      }
    }
    return stats;
  }

  resetRequests(): void {
    this.log = [];
  }

  failNext(fault: FaultSpec): void {
    this.faults.push({ ...fault, times: fault.times ?? 1 });
  }

  setLatency(rule: LatencyRule): void {
    this.latency = this.latency.filter(
      (r) => !(r.method === rule.method && r.pathPrefix === rule.pathPrefix),
    );
    if (rule.ms > 0) this.latency.push(rule);
  }

  compact(): void {
    this.cluster.store.compact();
  }

  resourceVersion(): string {
    return String(this.cluster.store.currentRv());
  }

  dropWatches(): number {
    const open = [...this.watches];
    for (const w of open) w.close();
    return open.length;
  }

  idle(): Promise<void> {
    return this.scheduler.idle();
  }

  subscribe(fn: (e: StoreEvent) => void): () => void {
    return this.cluster.store.subscribe(fn);
  }

  peek(group: string, resource: string, namespace: string, name: string): KubeObject | undefined {
    return this.cluster.store.get(group, resource, namespace, name);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.shutdown.abort(new Error('fake API server closed'));
    this.scheduler.close();
    this.unsubscribe();
    for (const w of [...this.watches]) w.close();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  /** Namespaces and the node every fresh cluster has. */
  private bootstrap(): void {
    const nsType = this.cluster.registry.byResource('', 'namespaces')!;
    for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      this.cluster.create(nsType, 'v1', '', {
        metadata: { name, labels: { 'kubernetes.io/metadata.name': name } },
      });
    }
    const nodeType = this.cluster.registry.byResource('', 'nodes')!;
    const node = this.cluster.create(nodeType, 'v1', '', {
      metadata: { name: FAKE_NODE, labels: { 'kubernetes.io/hostname': FAKE_NODE } },
    });
    node.status = {
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          lastTransitionTime: this.cluster.timestamp(),
        },
      ],
      addresses: [{ type: 'InternalIP', address: '10.0.0.1' }],
      nodeInfo: { kubeletVersion: this.opts.kubernetesVersion ?? 'v1.31.0' },
    };
    this.cluster.controllerWrite(nodeType, node, true);
  }

  private installHooks(): void {
    const c = this.cluster;
    let serviceIp = 0;
    c.setHooks('', 'namespaces', {
      defaults: (o) => {
        o.status ??= { phase: 'Active' };
      },
    });
    c.setHooks('', 'pods', {
      defaults: (o) => {
        const spec = (isObject(o.spec) ? o.spec : (o.spec = {})) as JsonObject;
        spec.restartPolicy ??= 'Always';
        spec.terminationGracePeriodSeconds ??= 30;
        spec.dnsPolicy ??= 'ClusterFirst';
        spec.schedulerName ??= 'default-scheduler';
        o.status ??= { phase: 'Pending', qosClass: 'BestEffort' };
      },
      validate: (o) => {
        const spec = o.spec as { containers?: unknown[] } | undefined;
        if (!Array.isArray(spec?.containers) || spec.containers.length === 0) {
          throw invalid('', 'Pod', o.metadata.name ?? '', [
            { field: 'spec.containers', message: 'Required value' },
          ]);
        }
      },
    });
    c.setHooks('', 'services', {
      defaults: (o) => {
        const spec = (isObject(o.spec) ? o.spec : (o.spec = {})) as JsonObject;
        spec.type ??= 'ClusterIP';
        if (spec.clusterIP === undefined) {
          serviceIp++;
          spec.clusterIP = `10.96.${Math.floor(serviceIp / 250)}.${(serviceIp % 250) + 1}`;
          spec.clusterIPs = [spec.clusterIP];
        }
        o.status ??= { loadBalancer: {} };
      },
    });
    c.setHooks('', 'persistentvolumeclaims', {
      defaults: (o) => {
        const spec = (isObject(o.spec) ? o.spec : {}) as {
          accessModes?: string[];
          resources?: { requests?: JsonObject };
        };
        o.status ??= {
          phase: 'Bound',
          accessModes: spec.accessModes ?? [],
          capacity: spec.resources?.requests ?? {},
        };
      },
    });
    c.setHooks('apps', 'statefulsets', { defaults: defaultStatefulSet, validate: validateStatefulSet });
    c.setHooks('apiextensions.k8s.io', 'customresourcedefinitions', {
      defaults: (o) => {
        o.status ??= establishedStatus(o, c.timestamp());
      },
      validate: (o, old) => {
        validateCrd(o);
        const t = crdResourceType(o);
        const existing = c.registry.byResource(t.group, t.resource);
        if (existing && !existing.custom) {
          throw invalid('apiextensions.k8s.io', 'CustomResourceDefinition', o.metadata.name ?? '', [
            {
              field: 'spec.names.plural',
              message: `Invalid value: "${t.resource}": conflicts with a built-in resource`,
            },
          ]);
        }
        if (old && (old.spec as JsonObject).group !== (o.spec as JsonObject).group) {
          throw invalid('apiextensions.k8s.io', 'CustomResourceDefinition', o.metadata.name ?? '', [
            { field: 'spec.group', message: 'Invalid value: field is immutable' },
          ]);
        }
      },
      afterWrite: (o) => {
        if (!o.metadata.deletionTimestamp) c.registry.add(crdResourceType(o));
      },
      afterRemove: (o) => {
        const t = crdResourceType(o);
        for (const obj of c.store.list(t.group, t.resource))
          c.store.remove(t.group, t.resource, obj.metadata.namespace ?? '', obj.metadata.name!);
        c.store.dropType(t.group, t.resource);
        c.registry.remove(t.group, t.resource);
        for (const w of [...this.watches]) if (w.typeKey === `${t.group}/${t.resource}`) w.close();
      },
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const entry: RequestEntry = {
      method,
      path,
      verb: 'nonresource',
      resource: '',
      group: '',
      status: 0,
      at: Date.now(),
    };
    this.log.push(entry);
    res.on('finish', () => {
      entry.status = res.statusCode;
      entry.ms = Date.now() - entry.at;
    });
    const send = (code: number, body: unknown, headers: Record<string, string> = {}) => {
      entry.status = code;
      this.sendJson(res, code, body, headers);
    };
    try {
      const target = this.classify(path, method, url.searchParams, entry, req);
      const auth = req.headers.authorization;
      if (auth !== undefined ? auth !== `Bearer ${this.token}` : this.opts.requireToken === true) {
        throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      }
      const fault = this.takeFault(method, path);
      if (fault) {
        entry.injected = true;
        const code = fault.status;
        const details = code === 429 ? { retryAfterSeconds: 1 } : undefined;
        const message = fault.message ?? `injected fault: ${code} ${reasonForCode(code)}`;
        send(
          code,
          statusBody(code, fault.reason ?? reasonForCode(code), message, details),
          code === 429 ? { 'Retry-After': '1' } : {},
        );
        return;
      }
      const delay = this.latency.find(
        (r) =>
          (!r.method || r.method.toUpperCase() === method) &&
          (!r.pathPrefix || path.startsWith(r.pathPrefix)),
      );
      if (delay) await this.clock.sleep(delay.ms, this.shutdown.signal);
      if (this.closed) {
        res.destroy();
        return;
      }
      const body = await readBody(req);
      if (!target) {
        this.serveNonResource(path, method, send);
        return;
      }
      await this.serveResource(target, method, url.searchParams, req, res, body, entry, send);
    } catch (err) {
      if (err instanceof ApiError)
        send(err.code, err.toStatus(), err.code === 429 ? { 'Retry-After': '1' } : {});
      else throw err;
    }
  }

  private takeFault(method: string, path: string): FaultSpec | undefined {
    const f = this.faults.find(
      (x) =>
        (!x.method || x.method.toUpperCase() === method) && (!x.pathPrefix || path.startsWith(x.pathPrefix)),
    );
    if (!f) return undefined;
    f.times--;
    if (f.times <= 0) this.faults = this.faults.filter((x) => x !== f);
    return f;
  }

  /** Parse a resource path and fill the log entry; undefined for non-resource paths. */
  private classify(
    path: string,
    method: string,
    q: URLSearchParams,
    entry: RequestEntry,
    req: IncomingMessage,
  ): Target | undefined {
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    let group = '';
    let version: string;
    let rest: string[];
    if (parts[0] === 'api' && parts.length >= 3) {
      version = parts[1]!;
      rest = parts.slice(2);
    } else if (parts[0] === 'apis' && parts.length >= 4) {
      group = parts[1]!;
      version = parts[2]!;
      rest = parts.slice(3);
    } else {
      if (parts[0] === 'api' || parts[0] === 'apis') entry.verb = 'discovery';
      return undefined;
    }
    let legacyWatch = false;
    if (rest[0] === 'watch') {
      legacyWatch = true;
      rest = rest.slice(1);
    }
    const t: Target = { group, version, resource: '', legacyWatch };
    const nested =
      rest[0] === 'namespaces' &&
      rest.length >= 3 &&
      this.cluster.registry.lookup(group, version, rest[2]!)?.namespaced;
    if (nested) {
      t.namespace = rest[1];
      rest = rest.slice(2);
    }
    t.resource = rest[0] ?? '';
    if (rest[1] !== undefined) t.name = rest[1];
    if (rest[2] !== undefined) t.subresource = rest[2];
    if (rest.length > 3)
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const isWatch = legacyWatch || q.get('watch') === 'true' || q.get('watch') === '1';
    const verbs: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'patch' };
    if (method === 'GET') entry.verb = isWatch ? 'watch' : t.name ? 'get' : 'list';
    else if (method === 'DELETE') entry.verb = t.name ? 'delete' : 'deletecollection';
    else entry.verb = verbs[method] ?? method.toLowerCase();
    entry.group = group;
    entry.resource = t.subresource ? `${t.resource}/${t.subresource}` : t.resource;
    if (t.namespace !== undefined) entry.namespace = t.namespace;
    if (t.name !== undefined) entry.name = t.name;
    if (method === 'PATCH') entry.patchType = mediaType(req.headers['content-type']);
    return t;
  }

  private serveNonResource(path: string, method: string, send: (code: number, body: unknown) => void): void {
    if (method !== 'GET')
      throw new ApiError(
        405,
        'MethodNotAllowed',
        `the server does not allow this method on the requested resource`,
      );
    const r = this.cluster.registry;
    if (path === '/healthz' || path === '/livez' || path === '/readyz') return send(200, 'ok');
    if (path === '/version') {
      const gitVersion = this.opts.kubernetesVersion ?? 'v1.31.0';
      const [major, minor] = gitVersion.replace(/^v/, '').split('.');
      return send(200, {
        major,
        minor,
        gitVersion,
        gitCommit: 'fake',
        gitTreeState: 'clean',
        buildDate: '2026-01-01T00:00:00Z',
        goVersion: 'go1.22',
        compiler: 'gc',
        platform: 'linux/amd64',
      });
    }
    if (path === '/api') {
      return send(200, {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [
          { clientCIDR: '0.0.0.0/0', serverAddress: this.url.replace('http://', '') },
        ],
      });
    }
    if (path === '/apis') return send(200, r.apiGroupList());
    const parts = path.split('/').filter(Boolean);
    if (parts[0] === 'api' && parts.length === 2) {
      const list = r.resourceList('', parts[1]!);
      if (list) return send(200, list);
    }
    if (parts[0] === 'apis' && parts.length === 2) {
      const g = r.apiGroup(parts[1]!);
      if (g) return send(200, g);
    }
    if (parts[0] === 'apis' && parts.length === 3) {
      const list = r.resourceList(parts[1]!, parts[2]!);
      if (list) return send(200, list);
    }
    throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  }

  private async serveResource(
    target: Target,
    method: string,
    q: URLSearchParams,
    req: IncomingMessage,
    res: ServerResponse,
    raw: string,
    entry: RequestEntry,
    send: (code: number, body: unknown, headers?: Record<string, string>) => void,
  ): Promise<void> {
    const t = this.cluster.registry.lookup(target.group, target.version, target.resource);
    if (!t) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (t.namespaced && target.namespace === undefined && target.name !== undefined) {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    if (target.subresource && !t.subresources.includes(target.subresource)) {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    const ns = target.namespace ?? '';
    const version = target.version;
    const present = (o: KubeObject): KubeObject => ({
      ...o,
      apiVersion: apiVersionOf(t.group, version),
      kind: o.kind ?? t.kind,
    });
    const dryRun = q.getAll('dryRun').includes('All');
    const fieldManager = q.get('fieldManager') ?? undefined;
    const contentType = mediaType(req.headers['content-type']);
    const body = () => parseBody(raw, contentType);

    if (entry.verb === 'watch') {
      const fields = parseFieldSelector(q.get('fieldSelector') ?? undefined);
      if (target.name) fields.push({ path: ['metadata', 'name'], value: target.name, negate: false });
      const timeout = Number(q.get('timeoutSeconds') ?? '');
      const w = new WatchStream(
        this.cluster.store,
        {
          type: t,
          version,
          namespace: target.namespace,
          labels: parseLabelSelector(q.get('labelSelector') ?? undefined),
          fields,
          resourceVersion: q.get('resourceVersion') ?? '',
          allowBookmarks: q.get('allowWatchBookmarks') === 'true',
          sendInitialEvents: q.get('sendInitialEvents') === 'true',
          ...(Number.isFinite(timeout) && timeout > 0 ? { timeoutSeconds: timeout } : {}),
        },
        res,
        this.opts.bookmarkIntervalMs ?? 1000,
        (x) => this.watches.delete(x),
      );
      entry.status = 200;
      if (!res.writableEnded) this.watches.add(w);
      return;
    }

    switch (entry.verb) {
      case 'get': {
        const obj = this.cluster.get(t, ns, target.name!);
        if (target.subresource === 'scale') return send(200, scaleOf(obj));
        if (wantsTable(req.headers.accept)) {
          return send(
            200,
            toTable(
              t,
              [present(obj)],
              { resourceVersion: obj.metadata.resourceVersion },
              this.clock.now(),
              q.get('includeObject'),
            ),
          );
        }
        return send(200, present(obj));
      }
      case 'list': {
        const list = this.list(t, version, target.namespace, q);
        if (wantsTable(req.headers.accept)) {
          return send(
            200,
            toTable(
              t,
              list.items as KubeObject[],
              list.metadata as JsonObject,
              this.clock.now(),
              q.get('includeObject'),
            ),
          );
        }
        return send(200, list);
      }
      case 'create': {
        if (target.subresource === 'eviction')
          return send(201, this.disruption.evict(ns, target.name!, body()));
        if (target.name)
          throw new ApiError(
            405,
            'MethodNotAllowed',
            'the server does not allow this method on the requested resource',
          );
        return send(
          201,
          present(
            this.cluster.create(t, version, ns, body(), {
              dryRun,
              ...(fieldManager ? { fieldManager } : {}),
            }),
          ),
        );
      }
      case 'update': {
        if (!target.name)
          throw new ApiError(
            405,
            'MethodNotAllowed',
            'the server does not allow this method on the requested resource',
          );
        if (target.subresource === 'scale')
          return send(
            200,
            this.writeScale(t, version, ns, target.name, (s) => replaceScale(s, body())),
          );
        const sub = target.subresource === 'status' ? ({ subresource: 'status' } as const) : {};
        return send(
          200,
          present(
            this.cluster.update(t, version, ns, target.name, body(), {
              dryRun,
              ...sub,
              ...(fieldManager ? { fieldManager } : {}),
            }),
          ),
        );
      }
      case 'patch': {
        if (!target.name)
          throw new ApiError(
            405,
            'MethodNotAllowed',
            'the server does not allow this method on the requested resource',
          );
        const type = PATCH_TYPES[contentType];
        if (!type) {
          throw new ApiError(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: ${Object.keys(PATCH_TYPES).join(', ')}`,
          );
        }
        if (target.subresource === 'scale') {
          return send(
            200,
            this.writeScale(t, version, ns, target.name, (s) => applyPatch(type, s, body())),
          );
        }
        const sub = target.subresource === 'status' ? ({ subresource: 'status' } as const) : {};
        const force = q.get('force') === 'true';
        return send(
          200,
          present(
            this.cluster.patch(t, version, ns, target.name, type, body(), {
              dryRun,
              force,
              ...sub,
              ...(fieldManager ? { fieldManager } : {}),
            }),
          ),
        );
      }
      case 'delete': {
        const r = this.cluster.delete(
          t,
          ns,
          target.name!,
          deleteOptions(q, raw ? body() : undefined, dryRun),
        );
        return send(200, r.removed ? r.body : present(r.object));
      }
      case 'deletecollection': {
        const opts = deleteOptions(q, raw ? body() : undefined, dryRun);
        const victims = this.cluster.list(
          t,
          target.namespace,
          parseLabelSelector(q.get('labelSelector') ?? undefined),
          parseFieldSelector(q.get('fieldSelector') ?? undefined),
        );
        const items = victims.map((v) =>
          present(this.cluster.delete(t, v.metadata.namespace ?? '', v.metadata.name!, opts).object),
        );
        return send(200, {
          kind: `${t.kind}List`,
          apiVersion: apiVersionOf(t.group, version),
          metadata: { resourceVersion: this.resourceVersion() },
          items,
        });
      }
      default:
        throw new ApiError(
          405,
          'MethodNotAllowed',
          'the server does not allow this method on the requested resource',
        );
    }
  }

  private list(
    t: ResourceType,
    version: string,
    namespace: string | undefined,
    q: URLSearchParams,
  ): JsonObject {
    const store = this.cluster.store;
    const rvParam = q.get('resourceVersion');
    if (rvParam && q.get('resourceVersionMatch') === 'Exact' && Number(rvParam) < store.compactedRv()) {
      throw new ApiError(410, 'Expired', `too old resource version: ${rvParam} (${store.compactedRv()})`);
    }
    let items = this.cluster.list(
      t,
      namespace,
      parseLabelSelector(q.get('labelSelector') ?? undefined),
      parseFieldSelector(q.get('fieldSelector') ?? undefined),
    );
    let listRv = store.currentRv();
    const token = q.get('continue');
    if (token) {
      const parsed = decodeContinue(token);
      if (parsed.rv < store.compactedRv()) {
        throw new ApiError(
          410,
          'Expired',
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        );
      }
      listRv = parsed.rv;
      items = items.filter((o) => itemKey(o) > parsed.after);
    }
    const limit = Number(q.get('limit') ?? '0');
    const metadata: JsonObject = { resourceVersion: String(listRv) };
    if (Number.isInteger(limit) && limit > 0 && items.length > limit) {
      const page = items.slice(0, limit);
      metadata.continue = Buffer.from(
        JSON.stringify({ rv: listRv, after: itemKey(page[page.length - 1]!) }),
      ).toString('base64url');
      metadata.remainingItemCount = items.length - limit;
      items = page;
    }
    return {
      kind: `${t.kind}List`,
      apiVersion: apiVersionOf(t.group, version),
      metadata,
      items: items.map((o) => ({ ...o, apiVersion: apiVersionOf(t.group, version), kind: t.kind })),
    };
  }

  private writeScale(
    t: ResourceType,
    version: string,
    ns: string,
    name: string,
    change: (scale: JsonObject) => unknown,
  ): JsonObject {
    const obj = this.cluster.get(t, ns, name);
    const scale = scaleOf(obj);
    const next = change(clone(scale));
    if (
      !isObject(next) ||
      !isObject(next.spec) ||
      typeof next.spec.replicas !== 'number' ||
      next.spec.replicas < 0
    ) {
      throw invalid('autoscaling', 'Scale', name, [
        { field: 'spec.replicas', message: 'Invalid value: must be a non-negative integer' },
      ]);
    }
    const rv = isObject(next.metadata) ? next.metadata.resourceVersion : undefined;
    if (rv !== undefined && rv !== obj.metadata.resourceVersion) throw conflict(t.group, t.resource, name);
    const updated = clone(obj);
    (updated.spec as JsonObject).replicas = next.spec.replicas;
    return scaleOf(this.cluster.update(t, version, ns, name, updated));
  }

  private sendJson(
    res: ServerResponse,
    code: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    if (res.headersSent) return;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(code, {
      'Content-Type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
      'Content-Length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }
}

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(raw: string, contentType: string): unknown {
  if (!raw) throw badRequest('the request body is empty');
  try {
    return contentType === 'application/apply-patch+yaml' ? parseYaml(raw) : JSON.parse(raw);
  } catch (err) {
    throw badRequest(
      `the request body could not be decoded: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

function applyPatch(type: PatchType, target: unknown, patch: unknown): unknown {
  if (type === 'json') return jsonPatch(target, patch);
  if (type === 'strategic') return strategicMergePatch(target, patch);
  return mergePatch(target, patch);
}

function replaceScale(_current: JsonObject, body: unknown): unknown {
  return body;
}

function scaleOf(obj: KubeObject): JsonObject {
  const spec = (obj.spec ?? {}) as { replicas?: number; selector?: { matchLabels?: Record<string, string> } };
  const status = (obj.status ?? {}) as { replicas?: number };
  const selector = Object.entries(spec.selector?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: obj.metadata.name,
      namespace: obj.metadata.namespace,
      uid: obj.metadata.uid,
      resourceVersion: obj.metadata.resourceVersion,
      creationTimestamp: obj.metadata.creationTimestamp,
    },
    spec: { replicas: spec.replicas ?? 1 },
    status: { replicas: status.replicas ?? 0, selector },
  };
}

function deleteOptions(q: URLSearchParams, body: unknown, dryRun: boolean): DeleteOptions {
  const opts: DeleteOptions = { dryRun };
  const b = isObject(body) ? body : {};
  const grace =
    q.get('gracePeriodSeconds') ??
    (typeof b.gracePeriodSeconds === 'number' ? String(b.gracePeriodSeconds) : null);
  if (grace !== null && grace !== '') opts.gracePeriodSeconds = Number(grace);
  const policy =
    q.get('propagationPolicy') ?? (typeof b.propagationPolicy === 'string' ? b.propagationPolicy : null);
  if (policy === 'Orphan' || policy === 'Background' || policy === 'Foreground')
    opts.propagationPolicy = policy;
  if (q.get('orphanDependents') === 'true' || b.orphanDependents === true) opts.propagationPolicy = 'Orphan';
  if (isObject(b.preconditions))
    opts.preconditions = b.preconditions as DeleteOptions['preconditions'] & object;
  if (isObject(b.dryRun) || (Array.isArray(b.dryRun) && b.dryRun.includes('All'))) opts.dryRun = true;
  return opts;
}

function itemKey(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;
}

function decodeContinue(token: string): { rv: number; after: string } {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      rv?: unknown;
      after?: unknown;
    };
    if (typeof v.rv === 'number' && typeof v.after === 'string') return { rv: v.rv, after: v.after };
  } catch {
    // fall through to the error below
  }
  throw badRequest('continue key is not valid: the continue token could not be decoded');
}
