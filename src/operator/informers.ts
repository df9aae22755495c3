/**
 * The operator's view of a collection over the namespaces it watches: every namespace (one
 * cluster-wide {@link Informer}) or a list of them (one namespaced Informer each, as a
 * RoleBinding per namespace allows no cluster-wide list or watch). Read as one cache: keys are
 * `namespace/name`, so the parts never share a key.
 */
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type V1Pod,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type UpgradeResource } from '../api/upgrade.js';
import {
  dropBookkeeping,
  Informer,
  pageQuery,
  type InformerHandler,
  type InformerOptions,
  type InformerStats,
  type ObjectMeta,
} from '../api/watch.js';

/** One or more informers of the same collection, read and driven as one. */
export class InformerSet<T extends ObjectMeta> {
  private readonly parts: Informer<T>[];

  /**
   * `make(ns)` builds the informer of one namespace, or of every namespace when `ns` is
   * undefined; `namespaces` undefined or empty means every namespace.
   */
  constructor(namespaces: readonly string[] | undefined, make: (ns: string | undefined) => Informer<T>) {
    this.parts = namespaces?.length ? namespaces.map((ns) => make(ns)) : [make(undefined)];
  }

  /** Register a change handler on every part (call before {@link start}). */
  on(handler: InformerHandler<T>): void {
    for (const p of this.parts) p.on(handler);
  }

  /** True once every part's first list has filled its cache. */
  get synced(): boolean {
    return this.parts.every((p) => p.synced);
  }

  /** Start every part; resolves once all are synced (or stopped). */
  async start(): Promise<void> {
    await Promise.all(this.parts.map((p) => p.start()));
  }

  /** Stop every part; resolves when all loops ended. */
  async stop(): Promise<void> {
    await Promise.all(this.parts.map((p) => p.stop()));
  }

  /** The cached object by `namespace/name`. */
  get(key: string): T | undefined {
    for (const p of this.parts) {
      const o = p.get(key);
      if (o) return o;
    }
    return undefined;
  }

  /** Every cached object of every part. */
  list(): T[] {
    return this.parts.flatMap((p) => p.list());
  }

  /** The parts' counters, summed. */
  get stats(): InformerStats {
    const sum: InformerStats = { lists: 0, watches: 0, expired: 0, watchdogRestarts: 0, errors: 0 };
    for (const p of this.parts)
      for (const k of Object.keys(sum) as (keyof InformerStats)[]) sum[k] += p.stats[k];
    return sum;
  }
}

/** What every informer of the operator shares (client, clock, logger, relist and watchdog). */
export type InformerCommon = Pick<
  InformerOptions<ObjectMeta>,
  'kc' | 'clock' | 'logger' | 'relistMs' | 'watchdogMs'
>;

/** The operator's three caches (Upgrades, pods, StatefulSets) over `namespaces` (empty: all). */
export function operatorInformers(
  namespaces: readonly string[],
  common: InformerCommon,
): {
  upgrades: InformerSet<UpgradeResource>;
  pods: InformerSet<V1Pod>;
  sets: InformerSet<V1StatefulSet>;
} {
  const at = (namespace: string | undefined) => (namespace ? `/namespaces/${namespace}` : '');
  const custom = common.kc.makeApiClient(CustomObjectsApi);
  const core = common.kc.makeApiClient(CoreV1Api);
  const apps = common.kc.makeApiClient(AppsV1Api);
  // Every cache drops the apply bookkeeping and lists (and relists) a page at a time: a namespace of a
  // 1,000-node upgrade holds a pod per node (and one per upgrade Job), and the Upgrade's own
  // managedFields grow an entry per member.
  const upgrades = new InformerSet(
    namespaces,
    (namespace) =>
      new Informer<UpgradeResource>({
        ...common,
        what: 'upgrades',
        path: `/apis/${GROUP}/${VERSION}${at(namespace)}/${PLURAL}`,
        transform: dropBookkeeping,
        list: async (cont) =>
          (namespace
            ? await custom.listNamespacedCustomObject({
                group: GROUP,
                version: VERSION,
                namespace,
                plural: PLURAL,
                ...pageQuery(cont),
              })
            : await custom.listClusterCustomObject({
                group: GROUP,
                version: VERSION,
                plural: PLURAL,
                ...pageQuery(cont),
              })) as {
            items: UpgradeResource[];
            metadata?: { resourceVersion?: string; _continue?: string };
          },
      }),
  );
  const pods = new InformerSet(
    namespaces,
    (namespace) =>
      new Informer<V1Pod>({
        ...common,
        what: 'pods',
        path: `/api/v1${at(namespace)}/pods`,
        transform: dropBookkeeping,
        list: (cont) =>
          namespace
            ? core.listNamespacedPod({ namespace, ...pageQuery(cont) })
            : core.listPodForAllNamespaces(pageQuery(cont)),
      }),
  );
  const sets = new InformerSet(
    namespaces,
    (namespace) =>
      new Informer<V1StatefulSet>({
        ...common,
        what: 'statefulsets',
        path: `/apis/apps/v1${at(namespace)}/statefulsets`,
        transform: dropBookkeeping,
        list: (cont) =>
          namespace
            ? apps.listNamespacedStatefulSet({ namespace, ...pageQuery(cont) })
            : apps.listStatefulSetForAllNamespaces(pageQuery(cont)),
      }),
  );
  return { upgrades, pods, sets };
}
