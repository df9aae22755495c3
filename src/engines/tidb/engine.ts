/**
 * The TiDB engine: everything TiDB Operator and TiUP do around a restart, through TiDB's own admin
 * APIs (PD's HTTP API, the TiDB status and SQL ports, TiKV's status port, TiCDC's API), on any
 * platform that gives each member an endpoint (`host[:port]`; a missing port is the component's
 * default: PD 2379, TiKV status 20180, TiFlash 20292, TiDB status 10080, TiCDC 8300).
 *
 * - PD leader last and transferred first ({@link transferPdLeader}).
 * - TiKV/TiFlash stores: evict-leader scheduler before the restart, removed after, leaders back
 *   ({@link evictLeaders}, {@link endEviction}; the wait is the runner's `leadershipReturn`).
 * - TiDB: DDL gate or smooth upgrade around the tier, DDL owner last after resigning.
 * - TiCDC: owner resigns, captures drained.
 * - Force upgrade: with `pd-available` forced (or the TidbCluster's force-upgrade annotation) PD
 *   members are replaced while PD is unavailable, and a warning says to remove the force once PD
 *   is back.
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
import { STORE_COMPONENTS, lookAt, pdClientFor, type TidbClients, type TidbView } from './view.js';

/** TiDB Operator's annotation that lets PD members be replaced while PD is unavailable. */
export const FORCE_UPGRADE_ANNOTATION = 'tidb.pingcap.com/force-upgrade';

/** Options of {@link TidbEngine}. */
export interface TidbEngineOptions {
  /** SQL user for `ADMIN SHOW DDL JOBS` (default root, no password). */
  credentials?: SqlCredentials;
  /** Bound of one admin call; default 3 s. */
  timeoutMs?: number;
  /** Force-upgrade from the cluster itself (the TidbCluster annotation), besides `spec.force`. */
  forceUpgrade?: boolean;
  /** Name of the TidbCluster, for the command in the force-upgrade warning. */
  clusterName?: string;
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

  constructor(private readonly opts: TidbEngineOptions = {}) {
    const timeoutMs = opts.timeoutMs;
    this.clients = {
      tidb: new TidbClient({
        ...(timeoutMs ? { timeoutMs } : {}),
        ...(opts.credentials ? { credentials: opts.credentials } : {}),
      }),
      tikv: new TikvStatusClient(timeoutMs),
      ticdc: new TicdcClient(timeoutMs),
      ...(timeoutMs ? { pdTimeoutMs: timeoutMs } : {}),
    };
  }

  /** Force-upgrade is on: from the cluster (annotation) or the last spec seen. */
  get forcePd(): boolean {
    return this.opts.forceUpgrade === true || this.specForce;
  }

  private see(spec: UpgradeSpec | undefined): void {
    if (spec) this.specForce = forcesPd(spec);
  }

  private look(members: PlatformMember[]): Promise<TidbView> {
    return lookAt(members, this.clients);
  }

  /** The warning TiDB Operator's guide gives, when force is still on although PD is back. */
  forceWarning(view: TidbView): string | undefined {
    if (!this.forcePd || !pdServing(view).ok) return undefined;
    const how = this.opts.forceUpgrade
      ? `kubectl annotate tc ${this.opts.clusterName ?? '<cluster>'} ${FORCE_UPGRADE_ANNOTATION}-`
      : `drop ${PD_AVAILABLE} from --force / spec.force`;
    return `PD is available again but force-upgrade is still set: you must remove it (${how}), or an exception may occur in the next upgrade`;
  }

  async observe(members: PlatformMember[], _ctx: PortContext): Promise<EngineObservation> {
    const view = await this.look(members);
    const seen = observation(view, members, { forcePd: this.forcePd, captureDrains: this.captureDrains });
    const warning = this.forceWarning(view);
    if (warning) seen.health.detail = `${seen.health.detail}; ${warning}`;
    return seen;
  }

  async prechecks(snapshot: Snapshot, spec: UpgradeSpec, _ctx: PortContext): Promise<PrecheckResult[]> {
    this.see(spec);
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
    return [...viewPrechecks(view, snapshot, downPeers, this.forcePd), ddl];
  }

  async drain(
    member: MemberView,
    target: MemberView | undefined,
    snapshot: Snapshot,
    ctx: EngineActionContext,
  ): Promise<DrainResult> {
    this.see(ctx.spec);
    const view = await this.look(snapshot.members);
    const pd = pdClientFor(snapshot.members, this.clients.pdTimeoutMs);
    if (member.component === 'pd' && pd) return transferPdLeader(pd, view, member, target, snapshot.members);
    if (STORE_COMPONENTS.includes(member.component) && pd) return evictLeaders(pd, view, member);
    if (member.component === 'tidb') return resignDdlOwner(view, member, this.clients.tidb);
    if (member.component === 'ticdc')
      return drainCapture(view, member, this.clients.ticdc, this.captureDrains);
    return { message: `${member.name}: nothing to move for ${member.component}` };
  }

  async restore(member: MemberView, snapshot: Snapshot, ctx: PortContext): Promise<void> {
    if (!STORE_COMPONENTS.includes(member.component)) return;
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
    this.see(ctx.spec);
    const view = await this.look(snapshot.members);
    const pd = pdClientFor(snapshot.members, this.clients.pdTimeoutMs);
    const warning = this.forceWarning(view);
    const withWarning = (message: string) => (warning ? `${message}; ${warning}` : message);
    if (name === 'beforeUpgrade' && pd) {
      const theirs = await drainedByBaton(ctx.platform.journal, ctx.spec.name, 'others');
      return withWarning(await sweep(pd, view, snapshot.members, theirs));
    }
    if (name === 'afterUpgrade' && pd) {
      const mine = await drainedByBaton(ctx.platform.journal, ctx.spec.name, 'current');
      return withWarning(await sweep(pd, view, snapshot.members, mine));
    }
    if (name === 'beforeComponent' && component === 'tidb')
      return withWarning(await beforeTidbTier(view, snapshot, ctx.spec, this.clients.tidb));
    if (name === 'afterComponent' && component === 'tidb')
      return withWarning(await afterTidbTier(view, snapshot, this.clients.tidb));
    return withWarning(`${name}${component ? ` ${component}` : ''}: nothing to do`);
  }
}
