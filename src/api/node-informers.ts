/**
 * What a node upgrade reads from the API server, kept by list+watch informers ({@link Informer})
 * instead of listed on every observation: Nodes, pods, PodDisruptionBudgets, StatefulSets,
 * ReplicaSets, and the upgrade's own Jobs. One set serves the node platform (members, Jobs) and the
 * node engine (drain progress, budgets, workloads), built by the composition root, so an observation
 * of a 1,000-node pool costs no request at all; requests grow with the writes (cordon, evictions,
 * Jobs), not with the polls.
 *
 * Watches are lossy and late: an observation must never decide on a cache older than Baton's own
 * last write to a Node (a cordon not yet seen would read as "nothing left to drain"). Every Node
 * write is reported with {@link NodeInformers.wrote}; {@link NodeInformers.fresh} waits until the
 * cache holds at least that resourceVersion of each written Node, and says false when it does not
 * within its bound (the caller then reads the API server directly).
 */
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  PolicyV1Api,
  type KubeConfig,
  type V1Job,
  type V1Node,
  type V1Pod,
  type V1PodDisruptionBudget,
  type V1ReplicaSet,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { httpStatus } from './client.js';
import { isReady } from './conditions.js';
import { NODE_ANNOTATIONS } from './nodes.js';
import { dropBookkeeping, Informer, pageQuery, type ObjectMeta, type PageLister } from './watch.js';

/** Options of {@link NodeInformers}. */
export interface NodeInformersOptions {
  kc: KubeConfig;
  clock: Clock;
  logger: Logger;
  /** The upgrade's Jobs: their namespace and label selector. */
  jobs: { namespace: string; labelSelector: string };
  /** How long {@link NodeInformers.fresh} waits for the cache to see a write (default 5 s). */
  freshMs?: number;
}

/** A resourceVersion's order, when it is a number (etcd's revision); undefined otherwise. */
function revision(rv: string | undefined): bigint | undefined {
  if (!rv || !/^\d+$/.test(rv)) return undefined;
  return BigInt(rv);
}

function informer<T extends ObjectMeta>(
  o: NodeInformersOptions,
  what: string,
  path: string,
  list: PageLister<T>,
  labelSelector?: string,
): Informer<T> {
  return new Informer<T>({
    kc: o.kc,
    clock: o.clock,
    logger: o.logger,
    what,
    path,
    transform: dropBookkeeping,
    ...(labelSelector ? { labelSelector } : {}),
    list,
  });
}

/** The informers of one node upgrade, started on first use. */
export class NodeInformers {
  readonly nodes: Informer<V1Node>;
  readonly pods: Informer<V1Pod>;
  readonly pdbs: Informer<V1PodDisruptionBudget>;
  readonly statefulSets: Informer<V1StatefulSet>;
  readonly replicaSets: Informer<V1ReplicaSet>;
  readonly jobs: Informer<V1Job>;
  /** Node name -> the resourceVersion of Baton's last write to it not yet seen by the cache. */
  private readonly written = new Map<string, string>();
  private started?: Promise<void>;
  private stopped = false;

  constructor(private readonly o: NodeInformersOptions) {
    const core = o.kc.makeApiClient(CoreV1Api);
    const apps = o.kc.makeApiClient(AppsV1Api);
    const policy = o.kc.makeApiClient(PolicyV1Api);
    const batch = o.kc.makeApiClient(BatchV1Api);
    const { namespace, labelSelector } = o.jobs;
    this.nodes = informer(o, 'nodes', '/api/v1/nodes', (c) => core.listNode(pageQuery(c)));
    this.pods = informer(o, 'pods', '/api/v1/pods', (c) => core.listPodForAllNamespaces(pageQuery(c)));
    this.pdbs = informer(o, 'poddisruptionbudgets', '/apis/policy/v1/poddisruptionbudgets', (c) =>
      policy.listPodDisruptionBudgetForAllNamespaces(pageQuery(c)),
    );
    this.statefulSets = informer(o, 'statefulsets', '/apis/apps/v1/statefulsets', (c) =>
      apps.listStatefulSetForAllNamespaces(pageQuery(c)),
    );
    this.replicaSets = informer(o, 'replicasets', '/apis/apps/v1/replicasets', (c) =>
      apps.listReplicaSetForAllNamespaces(pageQuery(c)),
    );
    this.jobs = informer(
      o,
      'upgrade jobs',
      `/apis/batch/v1/namespaces/${namespace}/jobs`,
      // The Jobs' namespace may not exist yet: no Jobs.
      (c) =>
        batch.listNamespacedJob({ namespace, labelSelector, ...pageQuery(c) }).catch((err: unknown) => {
          if (httpStatus(err) === 404) return { items: [] as V1Job[], metadata: {} };
          throw err;
        }),
      labelSelector,
    );
  }

  private all(): Informer<ObjectMeta>[] {
    return [
      this.nodes,
      this.pods,
      this.pdbs,
      this.statefulSets,
      this.replicaSets,
      this.jobs,
    ] as Informer<ObjectMeta>[];
  }

  /** Start every informer once; resolves when all have listed. */
  start(): Promise<void> {
    if (this.stopped) return Promise.reject(new Error('node informers stopped'));
    this.started ??= Promise.all(this.all().map((i) => i.start())).then(() => undefined);
    return this.started;
  }

  /** Stop watching. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.started) await Promise.all(this.all().map((i) => i.stop()));
  }

  /**
   * Call `fn` on every change a node upgrade waits for: a Node's readiness, version, cordon or
   * Baton's annotations; a pod appearing, going, terminating or turning Ready; a Job, a budget, a
   * workload's available replicas. Heartbeat-only updates are not changes.
   */
  onChange(fn: () => void): void {
    const on = <T extends ObjectMeta>(i: Informer<T>, key: (o: T) => string) =>
      i.on((type, obj, old) => {
        if (type !== 'MODIFIED' || !old || key(obj) !== key(old)) fn();
      });
    on(this.nodes, (n) =>
      JSON.stringify([
        isReady(n),
        n.status?.nodeInfo?.kubeletVersion,
        n.spec?.unschedulable,
        n.metadata?.annotations?.[NODE_ANNOTATIONS.cordonedBy],
        n.metadata?.annotations?.[NODE_ANNOTATIONS.drained],
        n.metadata?.annotations?.['baton.dev/replaces'],
      ]),
    );
    on(
      this.pods,
      (p) => `${isReady(p)}:${!!p.metadata?.deletionTimestamp}:${p.status?.phase}:${p.spec?.nodeName}`,
    );
    on(this.jobs, (j) => JSON.stringify(j.status?.conditions?.map((c) => [c.type, c.status]) ?? []));
    on(this.pdbs, (b) => String(b.status?.disruptionsAllowed));
    on(this.replicaSets, (r) => `${r.spec?.replicas}:${r.status?.availableReplicas}`);
    on(this.statefulSets, (x) => `${x.spec?.replicas}:${x.status?.readyReplicas}`);
  }

  /** Baton wrote Node `name`; the API server answered with resourceVersion `rv`. */
  wrote(name: string, rv: string | undefined): void {
    if (rv) this.written.set(name, rv);
  }

  /** Whether the cache holds every Node Baton wrote at (at least) the version written. */
  private caughtUp(): boolean {
    for (const [name, rv] of this.written) {
      const seen = this.nodes.get(`/${name}`)?.metadata?.resourceVersion;
      const want = revision(rv);
      const have = revision(seen);
      // Unordered resourceVersions: only the very version written counts as seen.
      const ok = want !== undefined && have !== undefined ? have >= want : seen === rv;
      // A Node deleted since (replace) is as fresh as it gets.
      if (ok || (!seen && this.nodes.synced)) this.written.delete(name);
      else return false;
    }
    return true;
  }

  /**
   * Start if needed, then wait (at most `freshMs`) until every informer has listed and the cache
   * has seen Baton's own Node writes. False when not (an informer that cannot list, a late watch):
   * the caller reads the API server instead.
   */
  async fresh(signal?: AbortSignal): Promise<boolean> {
    if (this.stopped) return false;
    void this.start().catch(() => undefined);
    const deadline = this.o.clock.now() + (this.o.freshMs ?? 5_000);
    while (!this.all().every((i) => i.synced) || !this.caughtUp()) {
      if (this.o.clock.now() >= deadline || signal?.aborted) return false;
      // An informer whose list fails (no permission, no such resource) will not sync soon.
      if (this.all().some((i) => !i.synced && i.stats.errors > 0)) return false;
      await this.o.clock.sleep(5, signal).catch(() => undefined);
    }
    return true;
  }
}
