/**
 * The operator's view of a collection over the namespaces it watches: every namespace (one
 * cluster-wide {@link Informer}) or a list of them (one namespaced Informer each, as a
 * RoleBinding per namespace allows no cluster-wide list or watch). Read as one cache: keys are
 * `namespace/name`, so the parts never share a key.
 */
import { Informer, type InformerHandler, type InformerStats, type ObjectMeta } from './watch.js';

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
