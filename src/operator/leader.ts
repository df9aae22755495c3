/**
 * Lease-based leader election (coordination.k8s.io/v1), like client-go's: a candidate holds the
 * Lease while it renews `renewTime` before `leaseDurationSeconds` runs out; others take it over
 * only after it has not changed for a whole lease duration as measured on their own clock (no
 * clock-skew assumptions). Every write carries the resourceVersion read, so two candidates racing
 * for the same Lease never both win: the loser gets 409 and stays a follower. A leader that cannot
 * renew within the lease duration steps down before anyone else may take over. Releasing on
 * shutdown clears the holder so a successor takes over at once.
 */
import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Clock } from '../core/clock.js';
import { describeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { httpStatus } from '../platforms/kubernetes/api.js';

/** Options of {@link LeaderElector}. */
export interface LeaderElectorOptions {
  kc: KubeConfig;
  namespace: string;
  /** Lease name (default `baton-operator`). */
  name?: string;
  /** This candidate's identity (pod name). */
  identity: string;
  clock: Clock;
  logger: Logger;
  /** How long a Lease stays valid without renewal (default 15 s). */
  leaseDurationMs?: number;
  /** How often the leader renews and followers retry (default 1/3 of the lease duration). */
  retryPeriodMs?: number;
  /** Called when this candidate becomes leader. */
  onStartedLeading?: () => void;
  /** Called when this candidate stops being leader (lost, expired, released). */
  onStoppedLeading?: () => void;
  /**
   * Called after every successful acquire or renew, leading again or still: {@link
   * LeaderElector.isLeader} may have answered false while a late renewal was in flight without
   * this candidate ever losing the Lease (so no onStartedLeading follows); work refused then can
   * be taken up here.
   */
  onRenewed?: () => void;
}

/** Kubernetes MicroTime text (RFC 3339 with microseconds) of a time in ms. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Elects one leader among the operator replicas sharing a Lease. */
export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly name: string;
  private readonly durationMs: number;
  private readonly retryMs: number;
  private leading = false;
  /** Last Lease record seen and when (our clock) it last changed. */
  private observed?: { key: string; at: number };
  /** When this leader last renewed successfully (our clock). */
  private renewedAt = 0;
  private readonly stopper = new AbortController();
  private loop?: Promise<void>;
  private lease?: V1Lease;

  constructor(private readonly opts: LeaderElectorOptions) {
    this.api = opts.kc.makeApiClient(CoordinationV1Api);
    this.name = opts.name ?? 'baton-operator';
    this.durationMs = opts.leaseDurationMs ?? 15_000;
    this.retryMs = opts.retryPeriodMs ?? Math.max(10, Math.floor(this.durationMs / 3));
  }

  /**
   * Whether this candidate holds the Lease now: it won the last round and its last successful
   * renewal is younger than the lease duration (a hung renewal does not keep it leading).
   */
  isLeader(): boolean {
    return this.leading && this.opts.clock.now() - this.renewedAt < this.durationMs;
  }

  /** The identity recorded in the Lease when last read, if any. */
  holder(): string | undefined {
    return this.lease?.spec?.holderIdentity || undefined;
  }

  /** Start campaigning in the background. */
  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Stop campaigning. With `release` (graceful shutdown) a held Lease is handed back so another
   * replica takes over at once; without it the Lease simply expires (a crash).
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.stopper.abort(new Error('leader election stopped'));
    await this.loop;
    if (this.leading && opts.release) await this.release();
    this.setLeading(false);
  }

  /** One acquire-or-renew attempt; true when this candidate holds the Lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { clock, identity, namespace } = this.opts;
    const now = clock.now();
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name: this.name, namespace });
    } catch (err) {
      if (httpStatus(err) !== 404) throw err;
      try {
        this.lease = await this.api.createNamespacedLease({
          namespace,
          body: {
            metadata: { name: this.name, namespace },
            spec: this.specFor(undefined, now),
          },
        });
        this.observed = { key: this.recordKey(this.lease), at: now };
        return true;
      } catch (e) {
        if (httpStatus(e) === 409) return false;
        throw e;
      }
    }
    this.lease = lease;
    const key = this.recordKey(lease);
    if (!this.observed || this.observed.key !== key) this.observed = { key, at: now };
    const holder = lease.spec?.holderIdentity;
    const durationMs = (lease.spec?.leaseDurationSeconds ?? this.durationMs / 1000) * 1000;
    const held = !!holder && holder !== identity && now < this.observed.at + durationMs;
    if (held) return false;
    try {
      this.lease = await this.api.replaceNamespacedLease({
        name: this.name,
        namespace,
        body: { ...lease, spec: this.specFor(lease, now) },
      });
      this.observed = { key: this.recordKey(this.lease), at: now };
      return true;
    } catch (err) {
      if (httpStatus(err) === 409) return false;
      throw err;
    }
  }

  private specFor(prev: V1Lease | undefined, now: number): V1Lease['spec'] {
    const ours = prev?.spec?.holderIdentity === this.opts.identity;
    const seconds = Math.max(1, Math.ceil(this.durationMs / 1000));
    // MicroTime fields are sent as strings with microseconds, as the API server expects.
    return {
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: seconds,
      acquireTime: (ours && prev?.spec?.acquireTime
        ? prev.spec.acquireTime
        : microTime(now)) as unknown as Date,
      renewTime: microTime(now) as unknown as Date,
      leaseTransitions: (prev?.spec?.leaseTransitions ?? 0) + (prev && !ours ? 1 : 0),
    };
  }

  private recordKey(lease: V1Lease): string {
    const s = lease.spec ?? {};
    return `${s.holderIdentity ?? ''}|${String(s.renewTime ?? '')}|${lease.metadata?.resourceVersion ?? ''}`;
  }

  private setLeading(v: boolean): void {
    if (v === this.leading) return;
    this.leading = v;
    this.opts.logger.info(v ? 'became leader' : 'stopped leading', {
      identity: this.opts.identity,
      lease: `${this.opts.namespace}/${this.name}`,
    });
    if (v) this.opts.onStartedLeading?.();
    else this.opts.onStoppedLeading?.();
  }

  private async run(): Promise<void> {
    const { clock, logger } = this.opts;
    const signal = this.stopper.signal;
    while (!signal.aborted) {
      const started = clock.now();
      try {
        const ok = await this.tryAcquireOrRenew();
        if (ok) this.renewedAt = started;
        if (ok) {
          this.setLeading(true);
          this.opts.onRenewed?.();
        } else if (this.leading) this.setLeading(false);
      } catch (err) {
        logger.warn('lease renewal failed', { identity: this.opts.identity, error: describeError(err) });
      }
      // A leader that could not renew for a whole lease duration must assume someone else took over.
      if (this.leading && clock.now() - this.renewedAt >= this.durationMs) this.setLeading(false);
      await clock.sleep(this.retryMs, signal).catch(() => undefined);
    }
  }

  private async release(): Promise<void> {
    const { namespace, identity, logger, clock } = this.opts;
    try {
      const lease = await this.api.readNamespacedLease({ name: this.name, namespace });
      if (lease.spec?.holderIdentity !== identity) return;
      await this.api.replaceNamespacedLease({
        name: this.name,
        namespace,
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: undefined,
            leaseDurationSeconds: 1,
            renewTime: microTime(clock.now()) as unknown as Date,
          },
        },
      });
      logger.info('released leadership', { identity });
    } catch (err) {
      logger.warn('could not release the lease', { identity, error: describeError(err) });
    }
  }
}
