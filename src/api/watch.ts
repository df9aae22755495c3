/**
 * A list+watch informer on top of client-node's `Watch`, treating watches as lossy (Pepr's
 * kubernetes-fluent-client style): list, then watch from the list's resourceVersion; relist on
 * 410 Gone and on a timer; a last-event watchdog restarts a watch that went silent (bookmarks
 * count as events); errors back off exponentially with a cap. The cache holds the latest object
 * per `namespace/name`; handlers get ADDED / MODIFIED / DELETED with the previous object.
 */
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Clock } from '../core/clock.js';
import { describeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/** The part of a Kubernetes object the informer reads. */
export interface ObjectMeta {
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[];
    deletionTimestamp?: Date | string;
  };
}

/** Change kinds delivered to handlers. */
export type InformerEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** Receives every change of the cache. */
export type InformerHandler<T> = (type: InformerEventType, obj: T, old: T | undefined) => void;

/** Options of {@link Informer}. */
export interface InformerOptions<T> {
  kc: KubeConfig;
  /** What the informer watches, for logs ("pods"). */
  what: string;
  /** Watch path, e.g. `/api/v1/pods` or `/apis/baton.dev/v1alpha1/namespaces/db/upgrades`. */
  path: string;
  /**
   * List the same collection (same namespace and selector as `path` and `labelSelector`), one page
   * per call: `cont` is the previous page's continue token (undefined: the first page; a lister
   * that never returns one lists in one page). Each page goes into the cache as it arrives, so a
   * relist of thousands holds the old cache and one page, not the old cache and a second copy.
   */
  list: PageLister<T>;
  labelSelector?: string;
  clock: Clock;
  logger: Logger;
  /** Full relist period even when the watch is healthy (default 5 min). */
  relistMs?: number;
  /** A watch silent for this long is restarted (default 60 s; the server sends bookmarks). */
  watchdogMs?: number;
  /**
   * What of each object to keep (client-go's SetTransform): applied to listed and watched objects
   * before they are cached, so a cache of thousands keeps only the fields read. Default: all.
   */
  transform?: (obj: T) => T;
  /** Ask the server to end each watch after this long (`timeoutSeconds`); it is then resumed. */
  watchTimeoutSeconds?: number;
  /** First back-off after an error (default 200 ms), doubled up to `maxBackoffMs` (default 30 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
}

/** `namespace/name` of an object. */
export function keyOf(o: ObjectMeta): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

/**
 * Drop what no reader of a cache uses and a cache of thousands would hold many times over (the
 * informers' `transform`): the server-side apply bookkeeping (`metadata.managedFields`, on a pod
 * about as big as the rest of it, on an Upgrade an entry per member) and kubectl's last-applied
 * copy. Changes `obj` in place and returns it.
 */
export function dropBookkeeping<T extends ObjectMeta>(obj: T): T {
  const m = obj.metadata as (ObjectMeta['metadata'] & { managedFields?: unknown }) | undefined;
  if (m) {
    delete m.managedFields;
    if (m.annotations?.['kubectl.kubernetes.io/last-applied-configuration'] !== undefined) {
      const { 'kubectl.kubernetes.io/last-applied-configuration': _dropped, ...rest } = m.annotations;
      m.annotations = rest;
    }
  }
  return obj;
}

/** One page of a list: `cont` is the continue token of the previous page (undefined: the first). */
export type PageLister<T> = (
  cont: string | undefined,
) => Promise<{ items: T[]; metadata?: { resourceVersion?: string; _continue?: string } }>;

/** Objects listed per request: a list of thousands is read, parsed and cached a page at a time. */
export const LIST_PAGE = 500;

/** The query of page `cont` ({@link LIST_PAGE} objects). */
export function pageQuery(cont: string | undefined): { limit: number; _continue?: string } {
  return { limit: LIST_PAGE, ...(cont ? { _continue: cont } : {}) };
}

/** Counters an informer keeps (exposed for tests and metrics). */
export interface InformerStats {
  lists: number;
  watches: number;
  /** Relists caused by 410 Gone. */
  expired: number;
  /** Watches restarted by the watchdog. */
  watchdogRestarts: number;
  errors: number;
}

/** Keeps a cache of one collection in step with the API server. */
export class Informer<T extends ObjectMeta> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private readonly stopper = new AbortController();
  private resourceVersion = '';
  private lastEventAt = 0;
  private hasSynced = false;
  private loop?: Promise<void>;
  private syncWaiters: (() => void)[] = [];
  /** Counters since start. */
  readonly stats: InformerStats = { lists: 0, watches: 0, expired: 0, watchdogRestarts: 0, errors: 0 };
  private changeCount = 0;

  constructor(private readonly opts: InformerOptions<T>) {}

  /** Register a change handler (call before {@link start}). */
  on(handler: InformerHandler<T>): void {
    this.handlers.push(handler);
  }

  /** True once the first list has filled the cache. */
  get synced(): boolean {
    return this.hasSynced;
  }

  /** Start listing and watching; resolves once the cache is synced (or the informer stopped). */
  start(): Promise<void> {
    this.loop ??= this.run();
    return this.waitForSync();
  }

  /** Resolves once the first list succeeded (or the informer stopped). */
  waitForSync(): Promise<void> {
    if (this.hasSynced || this.stopper.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** Stop watching; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.stopper.abort(new Error('informer stopped'));
    this.releaseSyncWaiters();
    await this.loop;
  }

  /** The cached object by `namespace/name`. */
  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  /** Every cached object. */
  list(): T[] {
    return [...this.cache.values()];
  }

  /**
   * How many changes (added, modified, deleted objects) the cache has taken: equal numbers mean
   * the same contents, so what was computed from them can be reused.
   */
  get changes(): number {
    return this.changeCount;
  }

  private releaseSyncWaiters(): void {
    const w = this.syncWaiters;
    this.syncWaiters = [];
    for (const f of w) f();
  }

  private emit(type: InformerEventType, obj: T, old: T | undefined): void {
    this.changeCount += 1;
    for (const h of this.handlers) {
      try {
        h(type, obj, old);
      } catch (err) {
        this.opts.logger.error('informer handler failed', {
          what: this.opts.what,
          error: describeError(err),
        });
      }
    }
  }

  /**
   * Replace the cache with a fresh list, emitting the differences. Page by page: each listed object
   * replaces its cached one as its page arrives; what no page held is deleted at the end.
   */
  private async relist(): Promise<void> {
    const seen = new Set<string>();
    const trim = this.opts.transform;
    let rv: string | undefined;
    let cont: string | undefined;
    do {
      const page = await this.opts.list(cont);
      // A paged list is one snapshot, at the first page's resourceVersion.
      rv ??= page.metadata?.resourceVersion ?? '';
      for (const listed of page.items) {
        const item = trim ? trim(listed) : listed;
        const key = keyOf(item);
        seen.add(key);
        const old = this.cache.get(key);
        this.cache.set(key, item);
        if (!old) this.emit('ADDED', item, undefined);
        else if (old.metadata?.resourceVersion !== item.metadata?.resourceVersion)
          this.emit('MODIFIED', item, old);
      }
      cont = page.metadata?._continue || undefined;
    } while (cont);
    this.stats.lists += 1;
    for (const [key, old] of [...this.cache]) {
      if (seen.has(key)) continue;
      this.cache.delete(key);
      this.emit('DELETED', old, old);
    }
    this.resourceVersion = rv;
    if (!this.hasSynced) {
      this.hasSynced = true;
      this.releaseSyncWaiters();
    }
  }

  private async run(): Promise<void> {
    const { clock, logger, what } = this.opts;
    const signal = this.stopper.signal;
    const relistMs = this.opts.relistMs ?? 300_000;
    const watchdogMs = this.opts.watchdogMs ?? 60_000;
    const base = this.opts.backoffMs ?? 200;
    const cap = this.opts.maxBackoffMs ?? 30_000;
    let failures = 0;
    let needList = true;
    let listedAt = 0;
    while (!signal.aborted) {
      try {
        if (needList || clock.now() - listedAt >= relistMs) {
          needList = true;
          await this.relist();
          listedAt = clock.now();
          needList = false;
        }
        const end = await this.watchOnce(Math.max(1, relistMs - (clock.now() - listedAt)), watchdogMs);
        if (end === 'expired') {
          this.stats.expired += 1;
          logger.info('watch expired (410): relisting', { what });
          needList = true;
        } else if (end === 'watchdog') {
          this.stats.watchdogRestarts += 1;
          logger.warn('watch silent: restarting', { what, silentMs: watchdogMs });
          needList = true;
        } else if (end === 'relist') {
          needList = true;
        }
        failures = 0;
      } catch (err) {
        if (signal.aborted) break;
        this.stats.errors += 1;
        failures += 1;
        // A failed watch resumes from the last resourceVersion (a 410 then forces the relist);
        // a failed list stays due.
        const delay = Math.min(cap, base * 2 ** Math.min(failures - 1, 20));
        logger.warn('list/watch failed: backing off', { what, error: describeError(err), delayMs: delay });
        await clock.sleep(delay, signal).catch(() => undefined);
      }
    }
  }

  /**
   * One watch from the current resourceVersion until it ends (server closed it: `closed`), the
   * server says 410 (`expired`), it is silent for `watchdogMs` (`watchdog`), `untilMs` passes
   * (`relist`) or the informer stops. Rejects on watch errors.
   */
  private async watchOnce(
    untilMs: number,
    watchdogMs: number,
  ): Promise<'closed' | 'expired' | 'watchdog' | 'relist' | 'stopped'> {
    const { clock, kc, path, labelSelector } = this.opts;
    const signal = this.stopper.signal;
    this.stats.watches += 1;
    this.lastEventAt = clock.now();
    const timers = new AbortController();
    let settle: (r: 'closed' | 'expired' | 'watchdog' | 'relist' | 'stopped' | Error) => void = () => {};
    const ended = new Promise<'closed' | 'expired' | 'watchdog' | 'relist' | 'stopped' | Error>(
      (resolve) => (settle = resolve),
    );
    const onStop = () => settle('stopped');
    signal.addEventListener('abort', onStop, { once: true });
    const query: Record<string, string | boolean> = {
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: true,
    };
    if (labelSelector) query.labelSelector = labelSelector;
    if (this.opts.watchTimeoutSeconds) query.timeoutSeconds = String(this.opts.watchTimeoutSeconds);
    let req: AbortController | undefined;
    try {
      req = await new Watch(kc).watch(
        path,
        query,
        (type: string, obj: unknown) => {
          this.lastEventAt = clock.now();
          this.onEvent(type, obj, settle);
        },
        (err: unknown) => settle(err ? (err instanceof Error ? err : new Error(String(err))) : 'closed'),
      );
      const deadline = clock.now() + untilMs;
      void (async () => {
        while (!timers.signal.aborted) {
          const left = deadline - clock.now();
          if (left <= 0) return settle('relist');
          const silent = clock.now() - this.lastEventAt;
          if (silent >= watchdogMs) return settle('watchdog');
          await clock.sleep(Math.min(left, watchdogMs - silent), timers.signal).catch(() => undefined);
        }
      })();
      const r = await ended;
      if (r instanceof Error) throw r;
      return r;
    } finally {
      timers.abort();
      signal.removeEventListener('abort', onStop);
      req?.abort();
    }
  }

  private onEvent(type: string, raw: unknown, settle: (r: 'expired' | Error) => void): void {
    if (type === 'ERROR') {
      const status = raw as { code?: number; message?: string };
      if (status.code === 410) settle('expired');
      else settle(new Error(`watch error ${status.code ?? ''}: ${status.message ?? 'unknown'}`));
      return;
    }
    const obj = this.opts.transform ? this.opts.transform(raw as T) : (raw as T);
    const rv = obj.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (type === 'BOOKMARK') return;
    const key = keyOf(obj);
    const old = this.cache.get(key);
    if (type === 'DELETED') {
      this.cache.delete(key);
      this.emit('DELETED', obj, old);
      return;
    }
    if (type !== 'ADDED' && type !== 'MODIFIED') return;
    this.cache.set(key, obj);
    this.emit(old ? 'MODIFIED' : 'ADDED', obj, old);
  }
}
