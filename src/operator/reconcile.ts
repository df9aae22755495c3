/**
 * Reconciling one Upgrade resource: validate its spec (a bad one ends Failed with condition
 * Ready=False reason InvalidSpec and the one-line reason, and nothing else is touched), write the
 * runner's initial status (the plan from an observation) when the resource has none, then run
 * exactly ONE `Runner.reconcile()` and say when to look again. Every write is conditional on the
 * resourceVersion read; a conflict asks to requeue at once.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { parseResourceSpec, toUpgradeSpec, type UpgradeResource } from '../api/upgrade.js';
import type { Clock } from '../core/clock.js';
import { BadInputError, ConflictError, describeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Engine, JournalStore, Platform, PortContext } from '../core/ports.js';
import { isTerminal, type HistoryEntry, type UpgradeSpec, type UpgradeStatus } from '../core/types.js';
import { httpStatus } from '../platforms/kubernetes/api.js';
import { engineForUpgrade, withEngineStages } from '../wiring/kubernetes.js';
import type { EventSink } from '../platforms/kubernetes/events.js';
import { UpgradeResourceJournal } from '../platforms/kubernetes/journal.js';
import { KubernetesPlatform } from '../platforms/kubernetes/statefulset.js';
import { Runner, type RunnerEvent } from '../runner/runner.js';
import { POLL_MS, type Action } from '../runner/decide.js';
import { initialStatus, previewPlan } from '../runner/start.js';
import { CachedPlatform, RememberingJournal, type CacheReader } from './cached.js';
import { engineRegistry } from '../engines/registry.js';
import { nodeInformers, nodesEngine, nodesPlatform } from '../wiring/nodes.js';
import { KubernetesNodesEngine } from '../engines/kubernetes/engine.js';

/**
 * Builds the engine an Upgrade names (it may read the Secret the spec names through `kc`); throws
 * (or rejects with) BadInputError for an engine the operator cannot drive or a missing Secret.
 */
export type EngineFactory = (
  name: string,
  upgrade: UpgradeResource,
  kc: KubeConfig,
) => Engine | Promise<Engine>;

/**
 * The operator's default engines: those of {@link engineForUpgrade} (generic, etcd, redis,
 * postgres), reached at the members' admin endpoints with the credentials of
 * `spec.credentialsSecret`.
 */
export const defaultEngineFactory: EngineFactory = (name, upgrade, kc) =>
  engineForUpgrade(kc, upgrade, 'spec.engine', name);

/** What a reconcile asks of the queue. */
export interface ReconcileOutcome {
  /** Look again after this many ms (0: at once); undefined: only on the next change. */
  requeueMs?: number;
  /** Phase after this reconcile, when known. */
  phase?: string;
  /** The runner's action this time, if any. */
  action?: Action['kind'];
}

/** Observers the operator hooks metrics to. */
export interface ReconcileHooks {
  onAction?: (action: Action, ms: number, ok: boolean) => void;
  onStatus?: (key: string, status: UpgradeStatus) => void;
}

/** Dependencies of {@link UpgradeReconciler}. */
export interface ReconcilerOptions {
  kc: KubeConfig;
  clock: Clock;
  logger: Logger;
  events?: EventSink;
  engines?: EngineFactory;
  hooks?: ReconcileHooks;
  /** Informer caches to observe from (default: every observation reads the API server). */
  cache?: CacheReader;
  /**
   * How often an Upgrade whose credentials Secret is missing is looked at again (default 30 s): a
   * Secret created afterwards lets it start without a spec change.
   */
  secretRetryMs?: number;
  /**
   * Look at Upgrade `key` again soon (or after `delayMs`): a change it waits for happened outside
   * the watched pods and StatefulSets (a node upgrade's Nodes, pods, Jobs), or a deletion of its
   * Events is to be tried again.
   */
  wake?: (key: string, delayMs?: number) => void;
}

/** Error codes of a credentials Secret (or its key) that does not exist yet. */
const MISSING_SECRET = new Set(['no-secret', 'no-secret-key']);

/** Whether an InvalidSpec condition is about the credentials Secret (looked at again on a timer). */
function aboutSecret(message: string): boolean {
  return message.startsWith('spec.credentialsSecret');
}

/** What a driver needs of its real platform besides observing and acting through the port. */
interface DriverPlatform {
  readonly journal: JournalStore;
  /** The Upgrade it serves (what Events are about). */
  readonly upgrade?: UpgradeResource;
  setUpgrade(upgrade: UpgradeResource): void;
  knownTargetNames(): string[] | undefined;
}

interface Driver {
  uid: string;
  generation: number;
  runner: Runner;
  /** The real platform (replacements, the Upgrade it serves): pods, or Nodes (wiring/nodes.ts). */
  platform: DriverPlatform;
  /** What the runner observes through: the cached platform when caches are given. */
  observed: Platform;
  engine: Engine;
}

/** Whether the resource has no runner status yet (new, or re-validated after an invalid spec). */
function needsStart(u: UpgradeResource): boolean {
  const st = u.status;
  return !st?.phase || (st.phase === 'Failed' && !!st.conditions?.some((c) => c.reason === 'InvalidSpec'));
}

/** How long after a failed deletion of an expired upgrade's Events it is tried again. */
const PRUNE_RETRY_MS = 30_000;

/** Reconciles Upgrade resources, keeping one runner per resource between calls. */
export class UpgradeReconciler {
  private readonly journals = new Map<string, JournalStore>();
  private readonly resourceJournals = new Map<string, UpgradeResourceJournal>();
  private readonly drivers = new Map<string, Driver>();
  /** Per key, the `uid/generation` this reconciler planned (wrote the first status of). */
  private readonly planned = new Map<string, string>();
  /** UIDs of the Expired upgrades whose Events this reconciler has deleted. */
  private readonly pruned = new Set<string>();
  private readonly engines: EngineFactory;

  constructor(private readonly opts: ReconcilerOptions) {
    this.engines = opts.engines ?? defaultEngineFactory;
  }

  /** Forget the runner of a deleted resource. */
  forget(key: string): void {
    const d = this.drivers.get(key);
    this.drivers.delete(key);
    this.planned.delete(key);
    const [namespace, name] = key.split('/') as [string, string];
    const j = this.journals.get(namespace);
    if (j instanceof RememberingJournal) j.forget(name);
    void d?.engine.close?.();
  }

  /**
   * StatefulSets the Upgrade `key` targets, as its driver last resolved them (a cluster reference
   * included); undefined when this reconciler has not driven it yet.
   */
  targetsOf(key: string): string[] | undefined {
    return this.drivers.get(key)?.platform.knownTargetNames();
  }

  /** Finish the status writes in flight, then close every engine. */
  async close(): Promise<void> {
    const all = [...this.drivers.values()];
    this.drivers.clear();
    await Promise.all(all.map((d) => d.runner.flush().catch(() => undefined)));
    await Promise.all(all.map((d) => d.engine.close?.()));
  }

  private journal(namespace: string): JournalStore {
    let j = this.journals.get(namespace);
    if (!j) {
      const { cache } = this.opts;
      const inner = this.resourceJournal(namespace);
      j = cache ? new RememberingJournal(inner, namespace, cache) : inner;
      this.journals.set(namespace, j);
    }
    return j;
  }

  /** The namespace's Upgrade resources as a journal, without the informer cache in front. */
  private resourceJournal(namespace: string): UpgradeResourceJournal {
    let j = this.resourceJournals.get(namespace);
    if (!j) {
      const { kc, clock, logger } = this.opts;
      j = new UpgradeResourceJournal({ kc, namespace, clock, logger });
      this.resourceJournals.set(namespace, j);
    }
    return j;
  }

  /**
   * One reconcile of `upgrade` (the latest copy the caller has; it may be slightly stale: every
   * write is conditional). Throws for API failures (the caller backs off).
   */
  async reconcile(key: string, current: UpgradeResource, signal?: AbortSignal): Promise<ReconcileOutcome> {
    const { logger } = this.opts;
    let upgrade = current;
    const namespace = upgrade.metadata.namespace ?? 'default';
    const generation = upgrade.metadata.generation ?? 1;
    const st = upgrade.status;
    if (st?.phase && isTerminal(st.phase)) {
      const invalid = st.conditions?.find((c) => c.type === 'Ready' && c.reason === 'InvalidSpec');
      // A Failed-for-bad-spec upgrade is looked at again once its spec changes, or, when only its
      // credentials Secret was missing, on every retry (the Secret may exist now).
      if (!invalid || ((st.observedGeneration ?? 0) >= generation && !aboutSecret(invalid.message))) {
        this.forget(key);
        // An operator killed between the Expired status write and the deletion left the Events.
        if (st.phase === 'Expired') this.pruneExpired(key, upgrade, st.history ?? []);
        return { phase: st.phase };
      }
    }

    let engine: Engine;
    try {
      parseResourceSpec(upgrade.spec);
      toUpgradeSpec(upgrade, `${namespace}/${upgrade.metadata.name}`);
      engine = await this.engineFor(key, upgrade);
    } catch (err) {
      if (!(err instanceof BadInputError)) throw err;
      const out = await this.markInvalid(upgrade, err.message);
      return MISSING_SECRET.has(err.code) ? { ...out, requeueMs: this.opts.secretRetryMs ?? 30_000 } : out;
    }

    const driver = this.driver(key, upgrade, engine);
    // After our own first status write the caller's copy (a cache) may still have no status: the
    // journal remembers what we wrote, so there is nothing to read again.
    if (needsStart(upgrade) && this.planned.get(key) !== `${upgrade.metadata.uid ?? ''}/${generation}`) {
      // The caller's copy may predate another replica's first status write: decide on a fresh read.
      const latest = await this.read(upgrade);
      if (!latest) return {};
      if (needsStart(latest)) return this.start(key, latest, driver, signal);
      upgrade = latest;
    }

    driver.platform.setUpgrade(upgrade);
    const r = await driver.runner.reconcile(signal);
    if (r.terminal) {
      logger.info(`upgrade ${key} is ${r.status.phase}`, { upgrade: key, reason: r.status.reason });
      this.forget(key);
      if (r.status.phase === 'Expired') this.pruneExpired(key, upgrade, r.status.history);
      return { phase: r.status.phase, action: r.action?.kind };
    }
    // After a replacement the next change is the pod's (a watch event wakes us); looking at once
    // would only observe the old pod again.
    const requeueMs = r.action?.kind === 'replace' ? Math.max(r.requeueMs, POLL_MS) : r.requeueMs;
    return { requeueMs, phase: r.status.phase, action: r.action?.kind };
  }

  /**
   * An expired upgrade drops its Events with its history (ACK): delete them but those of the
   * entries the pruned history `kept`, in the background (thousands of Events after a large node
   * upgrade must not hold a worker), after the Events this reconcile emitted (sent on the next
   * turns of the event loop). Done whenever Expired upgrade `key` is seen, once per upgrade and
   * reconciler (so once after each operator start: a list of its Events, nothing left to delete
   * when an earlier operator finished): the deletion is idempotent, so an operator killed between
   * the Expired status write and the deletion leaves it to the next. One that could not finish is
   * tried again {@link PRUNE_RETRY_MS} later (`wake`).
   */
  private pruneExpired(key: string, upgrade: UpgradeResource, kept: HistoryEntry[]): void {
    const events = this.opts.events;
    const uid = upgrade.metadata.uid;
    if (!events?.prune || !uid || this.pruned.has(uid)) return;
    this.pruned.add(uid);
    setImmediate(() => {
      void events.prune!(upgrade, kept).then((deleted) => {
        if (deleted !== undefined) return;
        this.pruned.delete(uid);
        this.opts.wake?.(key, PRUNE_RETRY_MS);
      });
    });
  }

  private read(u: UpgradeResource): Promise<UpgradeResource | undefined> {
    return this.resourceJournal(u.metadata.namespace ?? 'default').getResource(u.metadata.name);
  }

  /**
   * The driver's engine while the resource and its engine name stay the same (so a Secret is read
   * once per upgrade, not per reconcile), else a new one from the factory.
   */
  private async engineFor(key: string, upgrade: UpgradeResource): Promise<Engine> {
    const d = this.drivers.get(key);
    if (d && d.uid === (upgrade.metadata.uid ?? '') && d.engine.name === (upgrade.spec.engine ?? 'generic'))
      return d.engine;
    if (upgrade.spec.target?.nodes) {
      const { kc, clock, logger } = this.opts;
      const informers = nodeInformers({ kc, upgrade, clock, logger });
      const wake = this.opts.wake;
      if (wake) informers.onChange(() => wake(key));
      return nodesEngine({ kc, upgrade, clock, logger, informers });
    }
    return this.engines(upgrade.spec.engine ?? 'generic', upgrade, this.opts.kc);
  }

  private driver(key: string, upgrade: UpgradeResource, engine: Engine): Driver {
    const uid = upgrade.metadata.uid ?? '';
    const generation = upgrade.metadata.generation ?? 1;
    const d = this.drivers.get(key);
    if (d && d.uid === uid && d.generation === generation && d.engine === engine) return d;
    if (d && d.engine !== engine) void d.engine.close?.();
    const { kc, clock, logger, events, hooks, cache } = this.opts;
    const namespace = upgrade.metadata.namespace ?? 'default';
    const journal = this.journal(namespace);
    // Events are best effort, so they must not hold up a step: the platform's are not awaited, and
    // every Event is sent on the next turn of the event loop, after the write a step is waiting
    // for (the intent is journalled, then the partition patch goes out, then its Events). FIFO.
    const detached: EventSink | undefined = events && {
      emit: (e, involved) => {
        setImmediate(() => void events.emit(e, involved));
        return Promise.resolve();
      },
    };
    let platform: DriverPlatform;
    let observed: Platform;
    if (upgrade.spec.target?.nodes) {
      const informers = engine instanceof KubernetesNodesEngine ? engine.informers : undefined;
      platform = observed = nodesPlatform({ kc, upgrade, journal, clock, logger, informers });
    } else {
      const pods = new KubernetesPlatform({
        kc,
        engines: engineRegistry,
        namespace,
        upgrade,
        journal,
        clock,
        logger,
        events: detached,
      });
      platform = pods;
      observed = withEngineStages(
        engine.name,
        cache ? new CachedPlatform(pods, namespace, cache, journal) : pods,
        kc,
        namespace,
        () => pods.upgrade,
      );
    }
    const runner = new Runner({
      platform: observed,
      engine,
      clock,
      logger,
      name: upgrade.metadata.name,
      onEvent: (e: RunnerEvent) => {
        if (detached) void detached.emit(e, { upgrade: platform.upgrade ?? upgrade });
      },
      onStatus: (s) => hooks?.onStatus?.(key, s),
      onAction: hooks?.onAction,
      // A node upgrade's status is hundreds of KB (0.5 to 1.3 s a write under load): its next
      // reconcile need not wait for an outcome's write (Runner's writeBehind). A StatefulSet's
      // replacement is act-first and its write small, off the critical path: alternating runs of
      // bench:k8s showed no gain from writing behind there, so it writes as before.
      writeBehind: !!upgrade.spec.target.nodes,
    });
    const next = { uid, generation, runner, platform, observed, engine };
    this.drivers.set(key, next);
    return next;
  }

  /** Plan from an observation and write the runner's first status (createUpgrade on an existing resource). */
  private async start(
    key: string,
    upgrade: UpgradeResource,
    d: Driver,
    signal?: AbortSignal,
  ): Promise<ReconcileOutcome> {
    const { clock, logger } = this.opts;
    const name = upgrade.metadata.name;
    const ctx: PortContext = { clock, logger, signal };
    const journal = d.platform.journal;
    let spec: UpgradeSpec;
    let revision: string;
    try {
      const rec = await journal.get(name);
      if (!rec) return {};
      spec = rec.spec;
      revision = rec.revision;
    } catch (err) {
      if (err instanceof BadInputError) return this.markInvalid(upgrade, err.message);
      throw err;
    }
    let status: UpgradeStatus;
    try {
      d.platform.setUpgrade(upgrade);
      const { plan, snapshot } = await previewPlan(d.observed, d.engine, spec, ctx);
      status = initialStatus(spec, plan, snapshot, clock.now());
    } catch (err) {
      if (err instanceof BadInputError) return this.markInvalid(upgrade, err.message);
      throw err;
    }
    try {
      await journal.writeStatus(name, status, revision);
    } catch (err) {
      if (err instanceof ConflictError) return { requeueMs: 0 };
      throw err;
    }
    this.planned.set(key, `${upgrade.metadata.uid ?? ''}/${upgrade.metadata.generation ?? 1}`);
    logger.info(`upgrade ${upgrade.metadata.namespace}/${name} planned`, {
      reason: status.history.at(-1)?.message,
    });
    const first = status.history.at(-1);
    if (first && this.opts.events) {
      void this.opts.events.emit(
        { type: 'Normal', reason: 'Planned', message: first.message, at: first.at },
        { upgrade },
      );
    }
    return { requeueMs: 0, phase: status.phase };
  }

  /**
   * Record the spec as invalid (the journal's `markInvalid`: phase Failed, InvalidSpec conditions,
   * once per generation), then log it and emit a Warning Event. Touches nothing but the status.
   */
  private async markInvalid(upgrade: UpgradeResource, message: string): Promise<ReconcileOutcome> {
    const namespace = upgrade.metadata.namespace ?? 'default';
    const outcome = await this.resourceJournal(namespace).markInvalid(upgrade, message);
    if (outcome === 'gone') return {};
    if (outcome === 'superseded') return { requeueMs: 0 };
    if (outcome === 'written') {
      this.opts.logger.warn(`upgrade ${namespace}/${upgrade.metadata.name} rejected: ${message}`);
      if (this.opts.events) {
        const at = this.opts.clock.now();
        void this.opts.events.emit({ type: 'Warning', reason: 'InvalidSpec', message, at }, { upgrade });
      }
    }
    return { phase: 'Failed' };
  }
}

/** True for errors the queue should retry at once (a lost optimistic-concurrency race). */
export function isConflictError(err: unknown): boolean {
  return err instanceof ConflictError || httpStatus(err) === 409;
}

/** One line for logs and metrics. */
export function errorLine(err: unknown): string {
  return describeError(err);
}
