/**
 * The Baton operator: informers on Upgrades, pods and StatefulSets feed a work queue; only the
 * replica holding the leader Lease reconciles (one runner step per reconcile, requeued after the
 * runner's delay or at once when a watched pod of the target changes); managed StatefulSets get
 * Upgrades when their template changes; `/healthz`, `/readyz`, `/metrics` are served on a port.
 *
 * Everything that matters lives in the Upgrade resources (the journal), so a replica that takes
 * the Lease over from a dead one simply continues: its first reconcile reads the status the other
 * one persisted.
 */
import { CustomObjectsApi, type KubeConfig, type V1Pod, type V1StatefulSet } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { GROUP, LABELS, PLURAL, VERSION, type UpgradeResource } from '../api/upgrade.js';
import type { Clock } from '../core/clock.js';
import { describeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { isTerminal, type Phase } from '../core/types.js';
import { httpStatus } from '../platforms/kubernetes/api.js';
import { KubeEventRecorder, type EventSink } from '../platforms/kubernetes/events.js';
import { PacedEventSink } from './paced-events.js';
import { reuseConnections } from './agent.js';
import { LeaderElector } from './leader.js';
import { managedUpgradeFor } from './managed.js';
import { WorkQueue } from './queue.js';
import { type EngineFactory, isConflictError, UpgradeReconciler } from './reconcile.js';
import { OperatorMetrics, startHealthServer, type HealthServer } from './server.js';
import { UpgradeMetrics } from './upgrade-metrics.js';
import { InformerSet, operatorInformers } from './informers.js';
import { keyOf } from '../api/watch.js';
import { isReady } from '../api/conditions.js';

/** Options of {@link Operator}. */
export interface OperatorOptions {
  kc: KubeConfig;
  /** Namespace(s) to watch; every namespace when undefined or empty. */
  namespace?: string | readonly string[];
  /** This replica's identity in the Lease (the pod name). */
  identity: string;
  clock: Clock;
  logger: Logger;
  /** Registry the operator's metrics are registered in. */
  registry: Registry;
  /** Port of /healthz, /readyz, /metrics; no server when undefined (0: any free port). */
  port?: number;
  /** Interface the server binds (default 0.0.0.0). */
  host?: string;
  /** Lease name (default `baton-operator`). */
  leaseName?: string;
  /**
   * Namespace of the Lease (default: the first watched namespace, else the kubeconfig context's,
   * else `default`).
   */
  leaseNamespace?: string;
  /** Lease duration (default 15 s) and renew/retry period (default a third of it). */
  leaseDurationMs?: number;
  retryPeriodMs?: number;
  /** Reconciles running at once, on different Upgrades (default 4). */
  workers?: number;
  /** Engines by name (default: generic, etcd, redis and postgres; see platforms/kubernetes/engines.ts). */
  engines?: EngineFactory;
  /** Where runner events go (default: core/v1 Events through the API; `false`: nowhere). */
  events?: EventSink | false;
  /** Full relist period of the informers (default 5 min) and their watchdog (default 60 s). */
  relistMs?: number;
  watchdogMs?: number;
  /** Reuse keep-alive connections to the API server (default true; see agent.ts). */
  keepAlive?: boolean;
  /** Create Upgrades for managed StatefulSets (default true). */
  manageStatefulSets?: boolean;
  /** How often an Upgrade waiting for its credentials Secret is looked at again (default 30 s). */
  secretRetryMs?: number;
}

type Pod = V1Pod;
type Sts = V1StatefulSet;

/** How soon after a change a node upgrade is looked at (changes within it make one look). */
const WAKE_MS = 20;

/** A container failure signal of a pod (waiting reason, non-zero exit, restarts). */
function failureFacts(p: Pod | undefined): string {
  return (p?.status?.containerStatuses ?? [])
    .map((c) => `${c.state?.waiting?.reason ?? ''}:${c.state?.terminated?.exitCode ?? ''}:${c.restartCount}`)
    .join(',');
}

/**
 * Whether a pod change can change a runner's decision now: a new pod (a replacement started at
 * its version), a pod turning Ready, or a failure signal. Other changes (terminating, scheduled,
 * running but not Ready, deletions) are picked up by the runner's own requeue.
 */
function wakes(type: string, p: Pod, old: Pod | undefined): boolean {
  if (type === 'ADDED') return true;
  if (type !== 'MODIFIED') return false;
  return (isReady(p) && !isReady(old)) || failureFacts(p) !== failureFacts(old);
}

/** The StatefulSet that controls a pod, as `namespace/name`. */
function ownerSts(p: Pod): string | undefined {
  const o = p.metadata?.ownerReferences?.find((r) => r.kind === 'StatefulSet');
  return o ? `${p.metadata?.namespace ?? ''}/${o.name}` : undefined;
}

/**
 * StatefulSet names an Upgrade's spec targets (valid or not, as written); a cluster reference's
 * StatefulSets are known once its driver has resolved them (see {@link UpgradeReconciler.targetsOf}).
 */
function targetsOf(u: UpgradeResource): string[] {
  const t = u.spec?.target;
  if (!t) return [];
  return [...(t.statefulSet ? [t.statefulSet] : []), ...(t.statefulSets ?? []).map((s) => s.name)];
}

/** Runs the operator until {@link Operator.stop} or {@link Operator.kill}. */
export class Operator {
  private readonly queue: WorkQueue;
  private readonly elector: LeaderElector;
  private readonly reconciler: UpgradeReconciler;
  private readonly metrics: OperatorMetrics;
  private readonly upgradeMetrics: UpgradeMetrics;
  private readonly upgrades: InformerSet<UpgradeResource>;
  private readonly pods: InformerSet<Pod>;
  private readonly sets: InformerSet<Sts>;
  private readonly namespaces: readonly string[];
  /** Keys refused while this replica did not know itself leader; queued again once it does. */
  private readonly deferred = new Set<string>();
  /** A StatefulSet change was refused the same way (see {@link onStatefulSet}). */
  private setsDeferred = false;
  private readonly custom: CustomObjectsApi;
  private readonly abort = new AbortController();
  private readonly created = new Set<string>();
  private workers: Promise<void>[] = [];
  private server?: HealthServer;
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private readonly events: PacedEventSink | undefined;

  constructor(private readonly opts: OperatorOptions) {
    const { clock, logger } = opts;
    const namespaces = (
      typeof opts.namespace === 'string' ? [opts.namespace] : (opts.namespace ?? [])
    ).filter(Boolean);
    this.namespaces = namespaces;
    const kc = opts.keepAlive === false ? opts.kc : reuseConnections(opts.kc);
    this.queue = new WorkQueue({ clock });
    this.custom = kc.makeApiClient(CustomObjectsApi);
    // Paced (operator/paced-events.ts): one at a time, after the writes a step waits for.
    const events =
      opts.events === false
        ? undefined
        : new PacedEventSink(
            opts.events ?? new KubeEventRecorder({ kc, clock, logger, instance: opts.identity }),
          );
    this.events = events;
    this.metrics = new OperatorMetrics(opts.registry, {
      phases: () => this.phaseCounts(),
      leader: () => this.elector.isLeader(),
    });
    this.reconciler = new UpgradeReconciler({
      kc,
      clock,
      logger,
      events,
      engines: opts.engines,
      ...(opts.secretRetryMs !== undefined ? { secretRetryMs: opts.secretRetryMs } : {}),
      // Node upgrades: a change of their Nodes, pods or Jobs brings the reconcile forward
      // (coalesced: at most one look per WAKE_MS).
      wake: (key, delayMs = WAKE_MS) => this.queue.add(key, delayMs),
      cache: {
        statefulSet: (key) => this.sets.get(key),
        pod: (key) => this.pods.get(key),
        upgrade: (key) => this.upgrades.get(key),
      },
      hooks: {
        onAction: (a, ms, ok) =>
          this.metrics.stepDuration.observe({ step: a.kind, ok: String(ok) }, ms / 1000),
      },
    });
    const leaseNamespace =
      opts.leaseNamespace ??
      namespaces[0] ??
      kc.getContextObject(kc.getCurrentContext())?.namespace ??
      'default';
    this.elector = new LeaderElector({
      kc,
      namespace: leaseNamespace,
      name: opts.leaseName,
      identity: opts.identity,
      clock,
      logger,
      leaseDurationMs: opts.leaseDurationMs,
      retryPeriodMs: opts.retryPeriodMs,
      onStartedLeading: () => this.onStartedLeading(),
      onRenewed: () => this.takeUpDeferred(),
    });
    ({
      upgrades: this.upgrades,
      pods: this.pods,
      sets: this.sets,
    } = operatorInformers(namespaces, {
      kc,
      clock,
      logger,
      relistMs: opts.relistMs,
      watchdogMs: opts.watchdogMs,
    }));
    this.upgradeMetrics = new UpgradeMetrics(opts.registry, {
      upgrades: () => this.upgrades.list(),
      informers: () => this.informerStats(),
    });
    this.upgrades.on((type, u, old) => {
      if (type !== 'DELETED') this.upgradeMetrics.observe(u, old);
      this.onUpgrade(type, u, old);
    });
    this.pods.on((type, p, old) => this.onPod(type, p, old));
    this.sets.on((_type, s) => this.onStatefulSet(s));
  }

  /** Whether this replica leads (reconciles) now. */
  isLeader(): boolean {
    return this.elector.isLeader();
  }

  /** The port the health server bound, when it runs. */
  get port(): number | undefined {
    return this.server?.port;
  }

  /** Informer counters (relists, 410s, watchdog restarts), for tests and diagnostics. */
  informerStats() {
    return { upgrades: this.upgrades.stats, pods: this.pods.stats, statefulsets: this.sets.stats };
  }

  /** Start serving, watching, campaigning and working; resolves once the caches are synced. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error('operator already started');
    this.state = 'running';
    const { port, host, registry } = this.opts;
    if (port !== undefined) {
      this.server = await startHealthServer({
        port,
        host,
        registry,
        healthy: () => this.state === 'running',
        ready: () => this.readiness(),
      });
    }
    await Promise.all([this.upgrades.start(), this.pods.start(), this.sets.start()]);
    this.elector.start();
    for (let i = 0; i < (this.opts.workers ?? 4); i++) this.workers.push(this.work());
    this.opts.logger.info('operator started', {
      identity: this.opts.identity,
      namespace: this.namespaces.length ? this.namespaces.join(',') : '(all)',
      port: this.server?.port,
    });
  }

  /**
   * Graceful shutdown: stop taking work, let in-flight reconciles finish their step, release the
   * Lease (a successor takes over at once), stop watching and serving.
   */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'stopping';
    this.queue.shutdown();
    await Promise.all(this.workers);
    await this.events?.settle();
    await this.elector.stop({ release: true });
    await this.shutdownRest();
    this.opts.logger.info('operator stopped', { identity: this.opts.identity });
  }

  /**
   * Die as a crash would: abort in-flight reconciles mid-step and keep the Lease (it expires; a
   * successor takes over after the lease duration and resumes from the journal).
   */
  async kill(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopping';
    this.abort.abort(new Error('operator killed'));
    this.queue.shutdown();
    await this.elector.stop({ release: false });
    await Promise.all(this.workers.map((w) => w.catch(() => undefined)));
    await this.shutdownRest();
  }

  private async shutdownRest(): Promise<void> {
    await Promise.all([this.upgrades.stop(), this.pods.stop(), this.sets.stop()]);
    await this.reconciler.close();
    await this.server?.close();
    this.state = 'stopped';
  }

  private readiness(): { ok: boolean; reason: string } {
    if (this.state !== 'running') return { ok: false, reason: 'shutting down' };
    const informers: [string, { synced: boolean }][] = [
      ['upgrades', this.upgrades],
      ['pods', this.pods],
      ['statefulsets', this.sets],
    ];
    const unsynced = informers.filter(([, i]) => !i.synced).map(([n]) => n);
    if (unsynced.length) return { ok: false, reason: `caches not synced: ${unsynced.join(', ')}` };
    return { ok: true, reason: this.isLeader() ? 'ok (leader)' : 'ok (standby)' };
  }

  private phaseCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const u of this.upgrades.list()) {
      const p = u.status?.phase ?? 'Pending';
      out[p] = (out[p] ?? 0) + 1;
    }
    return out;
  }

  private onStartedLeading(): void {
    // A new term takes up everything; what was deferred before it is part of that.
    this.deferred.clear();
    this.setsDeferred = false;
    // An Expired one too: an operator killed before deleting its Events left them (the reconcile
    // deletes them, once per term: a list of its Events).
    for (const u of this.upgrades.list()) {
      const phase = u.status?.phase as Phase | undefined;
      if (!phase || !isTerminal(phase) || phase === 'Expired') this.queue.add(keyOf(u));
    }
    for (const s of this.sets.list()) this.onStatefulSet(s);
  }

  /** Queue again the keys refused while leadership was in doubt (see {@link process}). */
  private takeUpDeferred(): void {
    if (this.state !== 'running') return;
    for (const key of this.deferred) this.queue.add(key);
    this.deferred.clear();
    if (this.setsDeferred) {
      this.setsDeferred = false;
      for (const s of this.sets.list()) this.onStatefulSet(s);
    }
  }

  private onUpgrade(type: string, u: UpgradeResource, old: UpgradeResource | undefined): void {
    const key = keyOf(u);
    if (type === 'DELETED') {
      this.deferred.delete(key);
      this.queue.remove(key);
      this.reconciler.forget(key);
      return;
    }
    // Our own status writes come back as MODIFIED with the same generation: no wakeup for those.
    const specChanged =
      !old || old.metadata.generation !== u.metadata.generation || old.metadata.uid !== u.metadata.uid;
    const statusReset = !!old?.status?.phase && !u.status?.phase;
    if (specChanged || statusReset) this.queue.add(key);
    // A managed roll that just ended lets a template change made meanwhile have its Upgrade.
    const sts = u.metadata.labels?.[LABELS.statefulSet];
    const phase = u.status?.phase as Phase | undefined;
    if (sts && phase && isTerminal(phase) && old?.status?.phase !== phase) {
      const s = this.sets.get(`${u.metadata.namespace ?? ''}/${sts}`);
      if (s) this.onStatefulSet(s);
    }
  }

  private onPod(type: string, p: Pod, old: Pod | undefined): void {
    if (!wakes(type, p, old)) return;
    const sts = ownerSts(p);
    if (sts) this.wakeTargetsOf(sts);
  }

  private wakeTargetsOf(stsKey: string): void {
    const [ns, name] = stsKey.split('/') as [string, string];
    for (const u of this.upgrades.list()) {
      const targets = this.reconciler.targetsOf(keyOf(u)) ?? targetsOf(u);
      if (u.metadata.namespace !== ns || !targets.includes(name)) continue;
      if (u.status?.phase && isTerminal(u.status.phase as Phase)) continue;
      this.queue.add(keyOf(u));
    }
  }

  private onStatefulSet(s: Sts): void {
    if (this.opts.manageStatefulSets === false || this.state !== 'running') return;
    if (!this.isLeader()) {
      this.setsDeferred = true;
      return;
    }
    const desired = managedUpgradeFor(s, this.upgrades.list());
    if (!desired) return;
    const key = keyOf(desired);
    if (this.created.has(key)) return;
    this.created.add(key);
    void this.custom
      .createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: desired.metadata.namespace!,
        plural: PLURAL,
        body: desired,
      })
      .then(
        () => {
          this.metrics.managedCreated.inc();
          this.opts.logger.info(`created upgrade ${key} for managed statefulset ${s.metadata?.name}`, {
            version: desired.spec.version,
          });
        },
        (err: unknown) => {
          if (httpStatus(err) === 409) return;
          this.created.delete(key);
          this.opts.logger.warn(`could not create upgrade ${key}`, { error: describeError(err) });
        },
      );
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.process(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async process(key: string): Promise<void> {
    const { logger } = this.opts;
    if (!this.isLeader()) {
      // Not (or not surely) leading: a late renewal of a Lease still held makes isLeader() false
      // for a while with no new term to follow (onStartedLeading would requeue everything), so
      // the key waits for the next successful renewal instead of being lost.
      this.deferred.add(key);
      this.metrics.reconciles.inc({ result: 'skipped' });
      return;
    }
    const u = this.upgrades.get(key);
    if (!u) return;
    try {
      const r = await this.reconciler.reconcile(key, u, this.abort.signal);
      this.queue.forget(key);
      this.metrics.reconciles.inc({ result: 'ok' });
      if (r.requeueMs !== undefined && this.state === 'running') this.queue.add(key, r.requeueMs);
    } catch (err) {
      if (this.abort.signal.aborted) return;
      if (isConflictError(err)) {
        this.metrics.reconciles.inc({ result: 'conflict' });
        this.queue.add(key);
        return;
      }
      this.metrics.reconciles.inc({ result: 'error' });
      this.metrics.errors.inc({ kind: httpStatus(err) ? 'api' : 'internal' });
      const delay = this.queue.addRateLimited(key);
      logger.warn(`reconcile of ${key} failed; retrying in ${delay} ms`, { error: describeError(err) });
    }
  }
}
