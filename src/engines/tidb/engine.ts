/**
 * The TiDB engine: everything TiDB Operator and TiUP do around a restart, through TiDB's own admin
 * APIs (PD's HTTP API, the TiDB status and SQL ports, TiKV's and TiFlash's status ports, TiProxy's
 * and Pump's HTTP APIs, TiCDC's API), on any
 * platform that gives each member an endpoint (`host[:port]`; a missing port is the component's
 * default: PD 2379, TiKV status 20180, TiFlash 20292, TiDB status 10080, TiCDC 8300).
 *
 * - PD leader last and transferred first ({@link transferPdLeader}).
 * - TiKV stores: evict-leader scheduler before the restart, removed after, leaders back
 *   ({@link evictLeaders}, {@link endEviction}; the wait is the runner's `leadershipReturn`).
 * - TiFlash stores hold learners only (no leader to evict; TiDB Operator's tiflash upgrader evicts
 *   none): after the restart, the store Up in PD and `/tiflash/store-status` `Running`, for
 *   `tidb.pingcap.com/tiflash-min-ready-seconds` (the TidbCluster's annotation, or
 *   {@link TidbEngineOptions.tiflashMinReadySeconds}) without a break ({@link TiflashAvailability}).
 * - TiProxy: its health API answers 200; Pump: registered `online` again (observe.ts).
 * - TiDB: DDL gate or smooth upgrade around the tier, DDL owner last after resigning.
 * - TiCDC: owner resigns, captures drained.
 * - Force upgrade: with `pd-available` forced, or the TidbCluster annotated
 *   `tidb.pingcap.com/force-upgrade: "true"` (read before every observation and action through
 *   {@link TidbEngineOptions.clusterAnnotations}), PD members are replaced while PD is unavailable;
 *   while the force stays set with PD available, the observation carries a warning
 *   (`health.warnings`: status, Warning events, `baton status`) that it must be removed.
 *
 * Files per concern: view.ts (reads), observe.ts, prechecks.ts, pd-leader.ts, tikv-eviction.ts,
 * ddl-gate.ts, ticdc.ts.
 */
import { describeError } from '../../core/errors.js';
import type {
  DrainResult,
  Engine,
  EngineActionContext,
  EngineObservation,
  PortContext,
} from '../../core/ports.js';
import type { MemberView, PlatformMember, PrecheckResult, Snapshot, UpgradeSpec } from '../../core/types.js';
import type { EngineRules } from '../../core/rules.js';
import { afterTidbTier, beforeTidbTier, resignDdlOwner } from './ddl-gate.js';
import { observation, pdServing } from './observe.js';
import { PD_AVAILABLE, noDdlRunning, viewPrechecks } from './prechecks.js';
import { transferPdLeader } from './pd-leader.js';
import { tidbRules } from './rules.js';
import { drainCapture } from './ticdc.js';
import { TicdcClient } from './ticdc-client.js';
import { TidbClient, type SqlCredentials } from './tidb-client.js';
import { drainedByBaton, endEviction, evictLeaders, sweep } from './tikv-eviction.js';
import { TikvStatusClient } from './tikv-status.js';
import { TiflashClient } from './tiflash-client.js';
import { TIFLASH_MIN_READY_ANNOTATION, TiflashAvailability, parseMinReadySeconds } from './tiflash-ready.js';
import { TiproxyClient } from './tiproxy-client.js';
import { PumpClient } from './pump-client.js';
import { EVICTED_COMPONENTS, lookAt, pdClientFor, type TidbClients, type TidbView } from './view.js';

/** TiDB Operator's annotation that lets PD members be replaced while PD is unavailable. */
export const FORCE_UPGRADE_ANNOTATION = 'tidb.pingcap.com/force-upgrade';

/** Options of {@link TidbEngine}. */
export interface TidbEngineOptions {
  /** SQL user for `ADMIN SHOW DDL JOBS` (default root, no password). */
  credentials?: SqlCredentials;
  /** Bound of one admin call; default 3 s. */
  timeoutMs?: number;
  /**
   * The TidbCluster's annotations, read before every observation, precheck, drain and hook (the
   * composition root passes a read of the cluster object for a TidbCluster target): its
   * `tidb.pingcap.com/force-upgrade: "true"` forces `pd-available` as `--force pd-available`
   * does. A failed read keeps the last answer.
   */
  clusterAnnotations?: () => Promise<Record<string, string>>;
  /**
   * How long an upgraded TiFlash member must serve before the next member goes (TiDB Operator's
   * `tidb.pingcap.com/tiflash-min-ready-seconds`; the TidbCluster's annotation wins). Default 0.
   */
  tiflashMinReadySeconds?: number;
  /** Name (and namespace) of the TidbCluster, for the command in the force-upgrade warning. */
  clusterName?: string;
  clusterNamespace?: string;
}

/** Whether a spec forces PD availability. */
function forcesPd(spec: UpgradeSpec | undefined): boolean {
  return !!spec && (spec.force.includes(PD_AVAILABLE) || spec.force.includes('*'));
}

/** TiDB through PD, TiDB, TiKV and TiCDC admin APIs. */
export class TidbEngine implements Engine {
  readonly name = 'tidb';
  readonly rules: EngineRules = tidbRules;
  private readonly clients: TidbClients;
  /** Capture id -> the owner its drain was requested from (lost on restart: then asked again). */
  private readonly captureDrains = new Map<string, string>();
  private specForce = false;
  /** The annotation as last read (undefined before the first read or without a cluster). */
  private annotationForce: boolean | undefined;
  /** `tiflash-min-ready-seconds` from the TidbCluster's annotations as last read. */
  private annotationMinReady: number | undefined;
  /** The value of the annotation last warned about (warned once per value). */
  private warnedMinReady: string | undefined;
  /** The TiFlash target version of the last spec seen (undefined before any). */
  private tiflashTarget: string | undefined;
  private readonly tiflashReady = new TiflashAvailability();

  constructor(private readonly opts: TidbEngineOptions = {}) {
    const timeoutMs = opts.timeoutMs;
    this.clients = {
      tidb: new TidbClient({
        ...(timeoutMs ? { timeoutMs } : {}),
        ...(opts.credentials ? { credentials: opts.credentials } : {}),
      }),
      tikv: new TikvStatusClient(timeoutMs),
      tiflash: new TiflashClient(timeoutMs),
      tiproxy: new TiproxyClient(timeoutMs),
      pump: new PumpClient(timeoutMs),
      ticdc: new TicdcClient(timeoutMs),
      ...(timeoutMs ? { pdTimeoutMs: timeoutMs } : {}),
    };
  }

  /** Force-upgrade is on: from the cluster (annotation) or the last spec seen. */
  get forcePd(): boolean {
    return this.annotationForce === true || this.specForce;
  }

  /** Whether the TidbCluster's annotation (not only `spec.force`) forces PD availability. */
  get forcedByAnnotation(): boolean {
    return this.annotationForce === true;
  }

  /** Take the spec's force (when given) and read the cluster's annotation again. */
  private async see(spec: UpgradeSpec | undefined, ctx: PortContext): Promise<void> {
    if (spec) {
      this.specForce = forcesPd(spec);
      this.tiflashTarget = spec.components?.find((c) => c.name === 'tiflash')?.version ?? spec.version;
    }
    if (!this.opts.clusterAnnotations) return;
    try {
      const annotations = await this.opts.clusterAnnotations();
      this.annotationForce = annotations[FORCE_UPGRADE_ANNOTATION] === 'true';
      const raw = annotations[TIFLASH_MIN_READY_ANNOTATION];
      const minReady = parseMinReadySeconds(raw);
      this.annotationMinReady = raw === undefined ? undefined : minReady.seconds;
      if (minReady.warning && this.warnedMinReady !== raw) ctx.logger.warn(minReady.warning);
      this.warnedMinReady = raw;
    } catch (err) {
      ctx.logger.warn(`could not read the TidbCluster's annotations: ${describeError(err)}`);
    }
  }

  private look(members: PlatformMember[]): Promise<TidbView> {
    return lookAt(members, this.clients);
  }

  /** The warning TiDB Operator's guide gives, when force is still on although PD is back. */
  forceWarning(view: TidbView): string | undefined {
    if (!this.forcePd || !pdServing(view).ok) return undefined;
    const ns = this.opts.clusterNamespace ? ` -n ${this.opts.clusterNamespace}` : '';
    const how = this.forcedByAnnotation
      ? `kubectl annotate tc ${this.opts.clusterName ?? '<cluster>'}${ns} ${FORCE_UPGRADE_ANNOTATION}-`
      : `drop ${PD_AVAILABLE} from --force / spec.force`;
    return `PD is available again but force-upgrade is still set: you must remove it (${how}), or an exception may occur in the next upgrade`;
  }

  async observe(members: PlatformMember[], ctx: PortContext): Promise<EngineObservation> {
    await this.see(undefined, ctx);
    const view = await this.look(members);
    const seen = observation(view, members, { forcePd: this.forcePd, captureDrains: this.captureDrains });
    this.tiflashReady.hold(seen, members, {
      now: ctx.clock.now(),
      minReadySeconds: this.annotationMinReady ?? this.opts.tiflashMinReadySeconds ?? 0,
      target: this.tiflashTarget,
    });
    const warning = this.forceWarning(view);
    if (warning) seen.health.warnings = [warning];
    return seen;
  }

  async prechecks(snapshot: Snapshot, spec: UpgradeSpec, ctx: PortContext): Promise<PrecheckResult[]> {
    await this.see(spec, ctx);
    const view = await this.look(snapshot.members);
    const pd = pdClientFor(snapshot.members, this.clients.pdTimeoutMs);
    let downPeers: { count: number } | { error: string } = { error: 'no PD member listed' };
    if (pd) {
      try {
        downPeers = { count: await pd.downPeerRegions() };
      } catch (err) {
        downPeers = { error: describeError(err) };
      }
    }
    const pdDown = this.forcePd && !pdServing(view).ok;
    const ddl: PrecheckResult = pdDown
      ? {
          name: 'no-ddl-running',
          ok: true,
          reason: 'not checked while PD is unavailable (force-upgrade); checked again before the TiDB tier',
        }
      : await noDdlRunning(view, snapshot, spec, this.clients.tidb);
    const checks = viewPrechecks(view, snapshot, downPeers, this.forcePd);
    // The annotation forces pd-available by itself, as TiDB Operator lets it: the check is
    // reported forced (history, status) without `--force`.
    const byAnnotation = (r: PrecheckResult): PrecheckResult =>
      r.name === PD_AVAILABLE && !r.ok && this.forcedByAnnotation
        ? {
            ...r,
            forced: true,
            reason: `${r.reason}; forced by the TidbCluster annotation ${FORCE_UPGRADE_ANNOTATION}=true`,
          }
        : r;
    return [...checks.map(byAnnotation), ddl];
  }

  async drain(
    member: MemberView,
    target: MemberView | undefined,
    snapshot: Snapshot,
    ctx: EngineActionContext,
  ): Promise<DrainResult> {
    await this.see(ctx.spec, ctx);
    const view = await this.look(snapshot.members);
    const pd = pdClientFor(snapshot.members, this.clients.pdTimeoutMs);
    if (member.component === 'pd' && pd) return transferPdLeader(pd, view, member, target, snapshot.members);
    if (EVICTED_COMPONENTS.includes(member.component) && pd) return evictLeaders(pd, view, member);
    if (member.component === 'tidb') return resignDdlOwner(view, member, this.clients.tidb);
    if (member.component === 'ticdc')
      return drainCapture(view, member, this.clients.ticdc, this.captureDrains);
    return { message: `${member.name}: nothing to move for ${member.component}` };
  }

  async restore(member: MemberView, snapshot: Snapshot, ctx: PortContext): Promise<void> {
    if (!EVICTED_COMPONENTS.includes(member.component)) return;
    const pd = pdClientFor(snapshot.members, this.clients.pdTimeoutMs);
    if (!pd) return;
    const view = await this.look(snapshot.members);
    ctx.logger.info(await endEviction(pd, view, member), { member: member.name });
  }

  async hook(
    name: string,
    component: string | undefined,
    snapshot: Snapshot,
    ctx: EngineActionContext,
  ): Promise<string> {
    await this.see(ctx.spec, ctx);
    const view = await this.look(snapshot.members);
    const pd = pdClientFor(snapshot.members, this.clients.pdTimeoutMs);
    if (name === 'beforeUpgrade' && pd) {
      const theirs = await drainedByBaton(ctx.platform.journal, ctx.spec.name, 'others');
      return sweep(pd, view, snapshot.members, theirs);
    }
    if (name === 'afterUpgrade' && pd) {
      const mine = await drainedByBaton(ctx.platform.journal, ctx.spec.name, 'current');
      return sweep(pd, view, snapshot.members, mine);
    }
    if (name === 'beforeComponent' && component === 'tidb')
      return beforeTidbTier(view, snapshot, ctx.spec, this.clients.tidb);
    if (name === 'afterComponent' && component === 'tidb')
      return afterTidbTier(view, snapshot, this.clients.tidb);
    return `${name}${component ? ` ${component}` : ''}: nothing to do`;
  }
}
