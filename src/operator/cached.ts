/**
 * Read paths served from the operator's informer caches, the way controller-runtime clients read:
 * observations of StatefulSets and pods come from the watch caches instead of a GET and a LIST per
 * reconcile, and the runner's own journal record is remembered after each status write instead of
 * being read back. Every WRITE still goes to the API server with the resourceVersion it was based
 * on, so a stale read can only cost a conflict (and a fresh read), never a wrong write.
 */
import type { V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { UpgradeResource } from '../api/upgrade.js';
import type {
  Custody,
  JournalStore,
  Platform,
  PortContext,
  ReplaceOptions,
  UpgradeRecord,
} from '../core/ports.js';
import type { PlatformMember, PrecheckResult, Snapshot, UpgradeSpec, UpgradeStatus } from '../core/types.js';
import { missingBelowPartition, ordinalOf } from '../platforms/kubernetes/members.js';
import type { KubernetesPlatform } from '../platforms/kubernetes/statefulset.js';

/** Lookups into the informer caches by `namespace/name`. */
export interface CacheReader {
  statefulSet(key: string): V1StatefulSet | undefined;
  pod(key: string): V1Pod | undefined;
  upgrade(key: string): UpgradeResource | undefined;
}

/** Revisions remembered per upgrade to recognise our own writes in a lagging cache. */
const WRITTEN_KEPT = 32;

/**
 * A journal that remembers the record it last wrote. `get` returns that memory while the cache
 * holds nothing newer than our own writes (the cache may lag behind them); a revision we did not
 * write (a spec change by a user, another writer) sends `get` to the API server. A failed write
 * forgets the memory, so a conflict is always followed by a fresh read. Records are shared, not
 * copied: its users only read them (the runner decides on a copy of its own, and writes new
 * statuses), and copying a node upgrade's status of hundreds of members twice per reconcile was
 * a good part of the operator's time.
 */
export class RememberingJournal implements JournalStore {
  private readonly memory = new Map<string, { record: UpgradeRecord; written: string[] }>();
  /** Status writes in flight by upgrade name (a runner writing behind reads while one is). */
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(
    private readonly inner: JournalStore,
    private readonly namespace: string,
    private readonly cache: CacheReader,
  ) {}

  create(spec: UpgradeSpec, status: UpgradeStatus): Promise<UpgradeRecord> {
    return this.inner.create(spec, status);
  }

  async get(name: string): Promise<UpgradeRecord | undefined> {
    // The cache may show a write of ours in flight before its answer does: wait for that answer.
    const pending = this.inflight.get(name);
    if (pending && !this.isOurs(name)) await pending.catch(() => undefined);
    const m = this.memory.get(name);
    if (m && this.isOurs(name)) return m.record;
    const rec = await this.inner.get(name);
    if (rec) this.memory.set(name, { record: rec, written: [rec.revision] });
    else this.memory.delete(name);
    return rec;
  }

  list(): Promise<UpgradeRecord[]> {
    return this.inner.list();
  }

  /** Whether the cache holds nothing newer than our own writes of `name` (or nothing at all). */
  private isOurs(name: string): boolean {
    const m = this.memory.get(name);
    if (!m) return false;
    const cachedRv = this.cache.upgrade(`${this.namespace}/${name}`)?.metadata.resourceVersion;
    return !cachedRv || m.written.includes(cachedRv);
  }

  async writeStatus(name: string, status: UpgradeStatus, revision: string): Promise<string> {
    const m = this.memory.get(name);
    const write = this.inner.writeStatus(name, status, revision);
    this.inflight.set(name, write);
    try {
      const next = await write;
      if (m && m.record.revision === revision) {
        m.record = { spec: m.record.spec, status, revision: next };
        m.written.push(next);
        if (m.written.length > WRITTEN_KEPT) m.written.splice(0, m.written.length - WRITTEN_KEPT);
      } else {
        this.memory.delete(name);
      }
      return next;
    } catch (err) {
      this.memory.delete(name);
      throw err;
    } finally {
      if (this.inflight.get(name) === write) this.inflight.delete(name);
    }
  }

  updateSpec(name: string, change: (spec: UpgradeSpec) => UpgradeSpec): Promise<UpgradeSpec> {
    this.memory.delete(name);
    return this.inner.updateSpec(name, change);
  }

  async delete(name: string): Promise<void> {
    this.memory.delete(name);
    await this.inner.delete?.(name);
  }

  /** Drop what is remembered about `name`. */
  forget(name: string): void {
    this.memory.delete(name);
  }
}

function selects(sts: V1StatefulSet, pod: V1Pod): boolean {
  const want = sts.spec?.selector?.matchLabels ?? {};
  const have = pod.metadata?.labels ?? {};
  return Object.entries(want).every(([k, v]) => have[k] === v);
}

/**
 * The Kubernetes platform with `listMembers` answered from the informer caches (same rules as
 * {@link KubernetesPlatform.listMembers}); replacements, and observations the caches cannot
 * answer (a StatefulSet not cached yet, a pod missing below the partition whose version needs the
 * current ControllerRevision), go to the real platform.
 */
export class CachedPlatform implements Platform {
  readonly name: string;
  readonly durableActions: boolean | undefined;

  constructor(
    private readonly inner: KubernetesPlatform,
    private readonly namespace: string,
    private readonly cache: CacheReader,
    readonly journal: JournalStore,
  ) {
    this.name = inner.name;
    this.durableActions = inner.durableActions;
  }

  async listMembers(ctx: PortContext): Promise<PlatformMember[]> {
    const out: PlatformMember[] = [];
    for (const target of await this.inner.targets(ctx)) {
      const sts = this.cache.statefulSet(`${this.namespace}/${target.name}`);
      const pods = sts && this.podsOf(sts);
      if (!sts || !pods) return this.inner.listMembers(ctx);
      out.push(...(await this.inner.membersFrom(target, sts, pods, ctx)));
    }
    return out;
  }

  /**
   * The cached pods of `sts` by name, one per ordinal below its replicas; undefined when a pod
   * below a RollingUpdate partition is missing (its version needs the current ControllerRevision,
   * which only the real platform reads).
   */
  private podsOf(sts: V1StatefulSet): Map<string, V1Pod> | undefined {
    const name = sts.metadata!.name!;
    const replicas = sts.spec?.replicas ?? 1;
    const pods = new Map<string, V1Pod>();
    for (let i = 0; i < replicas; i++) {
      const pod = this.cache.pod(`${this.namespace}/${name}-${i}`);
      if (pod && selects(sts, pod) && ordinalOf(name, pod.metadata!.name!) === i)
        pods.set(pod.metadata!.name!, pod);
    }
    return missingBelowPartition(sts, pods) ? undefined : pods;
  }

  /** Replaced by the real platform, deciding on the cached StatefulSet and pods when it can. */
  replaceMember(name: string, version: string, opts: ReplaceOptions, ctx: PortContext): Promise<void> {
    return this.inner.replaceMember(name, version, opts, ctx, {
      statefulSet: (sts) => this.cache.statefulSet(`${this.namespace}/${sts}`),
      pods: (sts) => this.podsOf(sts),
    });
  }

  /** Take-over and hand-back steps: the real platform's (they write, so they never use the caches). */
  get custody(): Custody {
    return this.inner.custody;
  }

  /** The platform's own prechecks (a cluster target's owner), answered by the real platform. */
  prechecks(snapshot: Snapshot, spec: UpgradeSpec, ctx: PortContext): Promise<PrecheckResult[]> {
    return this.inner.prechecks(snapshot, spec, ctx);
  }
}
