/**
 * Versioned object storage: one global, monotonically increasing resourceVersion (like etcd's
 * revision), objects keyed by group/resource/namespace/name, and a bounded history of change
 * events from which watches replay. Events older than the window are compacted away; a watch or
 * a continue token from before the window gets 410 Expired.
 */
import { clone, type KubeObject } from './types.js';
import { typeKey } from './resources.js';

/** A change to one object, as watches see it. */
export interface StoreEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  /** `group/resource` of the object. */
  key: string;
  /** The object after the change (for DELETED: its last state with the deletion's resourceVersion); shared, read only. */
  object: KubeObject;
  /** The object before the change (MODIFIED and DELETED). */
  old?: KubeObject;
  rv: number;
}

/** Storage with a change history of at most `historyLimit` events. */
export class ObjectStore {
  private rv = 1;
  private compacted = 0;
  private readonly data = new Map<string, Map<string, KubeObject>>();
  private history: StoreEvent[] = [];
  private readonly listeners = new Set<(e: StoreEvent) => void>();

  constructor(private readonly historyLimit = 1000) {}

  /** The latest resourceVersion handed out. */
  currentRv(): number {
    return this.rv;
  }

  /** Watching from a resourceVersion below this is Expired (410). */
  compactedRv(): number {
    return this.compacted;
  }

  /** Drop the whole history: every resourceVersion issued so far is now too old to watch from. */
  compact(): void {
    this.history = [];
    this.compacted = this.rv + 1;
  }

  /** A copy of one object, or undefined. */
  get(group: string, resource: string, namespace: string, name: string): KubeObject | undefined {
    const o = this.data.get(typeKey(group, resource))?.get(objKey(namespace, name));
    return o ? clone(o) : undefined;
  }

  /** Copies of every object of a type, optionally in one namespace, sorted by namespace/name. */
  list(
    group: string,
    resource: string,
    namespace?: string,
    keep?: (o: Readonly<KubeObject>) => boolean,
  ): KubeObject[] {
    const m = this.data.get(typeKey(group, resource));
    if (!m) return [];
    const out: KubeObject[] = [];
    for (const [, o] of [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      // Filter before cloning: only the objects handed out are copied.
      if ((namespace === undefined || o.metadata.namespace === namespace) && (!keep || keep(o)))
        out.push(clone(o));
    }
    return out;
  }

  /**
   * The stored objects themselves (not copies) of a type in `namespace` that `keep` accepts, for
   * controllers that only read them: cloning every pod on every sync made the fake server, not
   * the client under test, the bottleneck. Callers must never mutate what this returns.
   */
  view(
    group: string,
    resource: string,
    namespace: string,
    keep: (o: Readonly<KubeObject>) => boolean,
  ): readonly Readonly<KubeObject>[] {
    const m = this.data.get(typeKey(group, resource));
    if (!m) return [];
    const out: Readonly<KubeObject>[] = [];
    for (const o of m.values()) if (o.metadata.namespace === namespace && keep(o)) out.push(o);
    return out;
  }

  /** Every stored type key (`group/resource`). */
  typeKeys(): string[] {
    return [...this.data.keys()];
  }

  /**
   * Copies of the objects of a type key that `keep` accepts (garbage collection across types);
   * only the objects handed out are copied.
   */
  listByKey(key: string, keep: (o: Readonly<KubeObject>) => boolean = () => true): KubeObject[] {
    return [...(this.data.get(key)?.values() ?? [])].filter(keep).map((o) => clone(o));
  }

  /** Store a new or changed object; assigns and returns its new resourceVersion. */
  put(group: string, resource: string, obj: KubeObject): KubeObject {
    const key = typeKey(group, resource);
    const m = this.data.get(key) ?? new Map<string, KubeObject>();
    this.data.set(key, m);
    const k = objKey(obj.metadata.namespace ?? '', obj.metadata.name!);
    const old = m.get(k);
    const stored = clone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    m.set(k, stored);
    // Stored objects are never changed in place (every write stores a new copy), so events may
    // share them; listeners only read.
    this.emit({
      type: old ? 'MODIFIED' : 'ADDED',
      key,
      object: stored,
      ...(old ? { old } : {}),
      rv: this.rv,
    });
    return clone(stored);
  }

  /** Remove an object; returns its last state (with the deletion's resourceVersion) or undefined. */
  remove(group: string, resource: string, namespace: string, name: string): KubeObject | undefined {
    const key = typeKey(group, resource);
    const m = this.data.get(key);
    const old = m?.get(objKey(namespace, name));
    if (!m || !old) return undefined;
    m.delete(objKey(namespace, name));
    const last = clone(old);
    last.metadata.resourceVersion = String(++this.rv);
    this.emit({ type: 'DELETED', key, object: clone(last), old: clone(old), rv: this.rv });
    return last;
  }

  /** Drop every object of a type without events (a CRD's storage after the CRD is gone). */
  dropType(group: string, resource: string): void {
    this.data.delete(typeKey(group, resource));
  }

  /**
   * Events of type `key` after `rv`, or 'expired' when `rv` is older than the retained window.
   */
  since(key: string, rv: number): StoreEvent[] | 'expired' {
    if (rv < this.compacted) return 'expired';
    return this.history
      .filter((e) => e.rv > rv && e.key === key)
      .map((e) => ({ ...e, object: clone(e.object) }));
  }

  /** Listen to every change, synchronously, in resourceVersion order. Returns an unsubscribe. */
  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(e: StoreEvent): void {
    this.history.push(e);
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.splice(0, this.history.length - this.historyLimit);
      this.compacted = dropped[dropped.length - 1]!.rv;
    }
    for (const fn of [...this.listeners]) fn(e);
  }
}

function objKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
