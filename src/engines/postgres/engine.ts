/**
 * The PostgreSQL engine: roles and lag through SQL (`pg_is_in_recovery`, `pg_stat_replication`,
 * `pg_stat_wal_receiver`), planned switchover before the primary stops, and the settings a
 * restarted member needs to follow the current primary. Runs on any platform that can stop a
 * member; connections go to each member's endpoint.
 */
import { describeError } from '../../core/errors.js';
import type {
  DrainResult,
  Engine,
  EngineActionContext,
  EngineObservation,
  HandOverBlocked,
  Platform,
  PortContext,
  ReplaceOptions,
} from '../../core/ports.js';
import type { MemberView, PlatformMember, PrecheckResult, Snapshot, UpgradeSpec } from '../../core/types.js';
import type { EngineRules } from '../../core/rules.js';
import { PgAdmin, type PgAdminOptions } from './admin.js';
import { assessCluster, type MemberRead } from './observe.js';
import { postgresPrechecks } from './prechecks.js';
import { postgresRules } from './rules.js';
import { conninfoFor, repointStandbys, switchover, switchoverBlocked } from './switchover.js';

/** Default lag (bytes of WAL) under which a standby counts as caught up: 1 MiB. */
export const DEFAULT_LAG_THRESHOLD_BYTES = 1024 * 1024;

/** Tuning of {@link PostgresEngine}; every field has a default. */
export interface PostgresEngineOptions extends Omit<PgAdminOptions, 'logger'> {
  /** A standby within this many WAL bytes of the primary is caught up; default 1 MiB. */
  lagThresholdBytes?: number;
  /** Poll interval while a switchover waits for the stop and the catch-up; default 20 ms. */
  pollMs?: number;
  /** Replay unchanged this long after the old primary exited counts as complete; default 500 ms. */
  settleMs?: number;
  /**
   * Longest wait, before stopping the primary, for the switchover target to come within the lag
   * threshold (writes still flowing); default 5 s. Past it the switchover goes on.
   */
  catchUpMs?: number;
  /** Switchover deadline when the spec gives none; default 60 s. */
  switchoverTimeoutMs?: number;
  /** Logger for pool-level events (connections dropped by stopped servers). */
  logger?: PgAdminOptions['logger'];
}

/** PostgreSQL streaming replication (see module comment). One instance per cluster. */
export class PostgresEngine implements Engine {
  readonly name = 'postgres';
  readonly rules: EngineRules = postgresRules;
  readonly lagThresholdBytes: number;
  private readonly admin: PgAdmin;
  private readonly pollMs: number;
  private readonly settleMs: number;
  private readonly switchoverTimeoutMs: number;
  private readonly catchUpMs: number;

  constructor(opts: PostgresEngineOptions = {}) {
    this.admin = new PgAdmin(opts);
    this.lagThresholdBytes = opts.lagThresholdBytes ?? DEFAULT_LAG_THRESHOLD_BYTES;
    this.pollMs = opts.pollMs ?? 20;
    this.settleMs = opts.settleMs ?? 500;
    this.switchoverTimeoutMs = opts.switchoverTimeoutMs ?? 60_000;
    this.catchUpMs = opts.catchUpMs ?? 5000;
  }

  /** Read one member; undefined when it cannot be reached (down, starting, refusing). */
  private async read(member: PlatformMember, ctx: PortContext): Promise<MemberRead | undefined> {
    if (!member.endpoint || !member.running) return undefined;
    try {
      const sql = await this.admin.state(member.endpoint);
      if (!sql.inRecovery) {
        const [replication, writeError] = await Promise.all([
          this.admin.replication(member.endpoint),
          this.admin.writeCheck(member.endpoint),
        ]);
        return { sql, replication, writeError };
      }
      return { sql, receiver: await this.admin.walReceiver(member.endpoint) };
    } catch (err) {
      ctx.logger.debug('postgres member not reachable', { member: member.name, error: describeError(err) });
      return undefined;
    }
  }

  /**
   * Roles, lag and health of `members`. Standbys are read before the primary so that WAL written
   * in between makes the lag look larger, never negative.
   */
  async observe(members: PlatformMember[], ctx: PortContext): Promise<EngineObservation> {
    const first = await Promise.all(members.map((m) => this.read(m, ctx)));
    const reads: Record<string, MemberRead> = {};
    members.forEach((m, i) => {
      const r = first[i];
      if (r) reads[m.name] = r;
    });
    // Re-read the primary's position after the standbys' replay positions.
    await Promise.all(
      members
        .filter((m) => reads[m.name] && !reads[m.name]?.sql.inRecovery && m.endpoint)
        .map(async (m) => {
          const again = await this.admin.state(m.endpoint as string).catch(() => undefined);
          const read = reads[m.name];
          if (again && read && !again.inRecovery) read.sql = again;
        }),
    );
    return assessCluster(members, reads, this.lagThresholdBytes);
  }

  /** The checks of {@link postgresRules}, on the observed snapshot. */
  async prechecks(snapshot: Snapshot, _spec: UpgradeSpec, _ctx: PortContext): Promise<PrecheckResult[]> {
    return postgresPrechecks(snapshot, this.lagThresholdBytes);
  }

  /**
   * Switch over when `member` is the primary (see switchover.ts); a no-op for a standby, for a
   * single-member cluster, and for a primary that is already down while another member is
   * primary (a repeated call after the switchover). A primary that is down with no other primary
   * (after a wait for a promotion in flight to show) is left alone: Baton does not fail over; the
   * member restarts as the primary it was.
   */
  async drain(
    member: MemberView,
    target: MemberView | undefined,
    snapshot: Snapshot,
    ctx: EngineActionContext,
  ): Promise<DrainResult> {
    const role = member.endpoint ? await this.admin.inRecovery(member.endpoint) : undefined;
    if (role === true) return { message: `${member.name} is a standby: nothing to hand over` };
    if (role === undefined) {
      const primary = await this.promotedPrimary(snapshot, member.name, ctx);
      if (primary) {
        // A switchover interrupted after the promotion may not have re-pointed every standby.
        const { repointed } = await repointStandbys(this.admin, primary, [member.name], snapshot, ctx.logger);
        return {
          movedTo: primary.name,
          message:
            `${member.name} is down and ${primary.name} is the primary` +
            (repointed.length ? `; re-pointed ${repointed.join(', ')} to it` : ''),
        };
      }
      return {
        message: `${member.name} is down and no other member is primary: no failover, it restarts as it was`,
      };
    }
    if (onlyMember(member, snapshot)) {
      return {
        message: `${member.name} is the only member: nothing to hand over, writes stop while it restarts`,
      };
    }
    const timeoutMs =
      ctx.spec.strategy.timeouts.drainSeconds > 0
        ? ctx.spec.strategy.timeouts.drainSeconds * 1000
        : this.switchoverTimeoutMs;
    return switchover(member, target, snapshot, {
      admin: this.admin,
      platform: ctx.platform,
      clock: ctx.clock,
      logger: ctx.logger,
      signal: ctx.signal,
      timeoutMs,
      pollMs: this.pollMs,
      settleMs: this.settleMs,
      lagThresholdBytes: this.lagThresholdBytes,
      catchUpMs: this.catchUpMs,
    });
  }

  /**
   * A primary with other members (what {@link drain} switches over, by the role {@link observe}
   * read) cannot be handed over on a platform that cannot stop it (switchover.ts
   * `switchoverBlocked`); a standby, a sole member or a member down holds nothing to hand over.
   */
  handOverBlocked(member: MemberView, snapshot: Snapshot, platform: Platform): HandOverBlocked | undefined {
    if (member.engine?.role !== 'primary' || onlyMember(member, snapshot)) return undefined;
    return switchoverBlocked(member, platform);
  }

  /**
   * The member restarts as a standby of the current primary (found live among the other members),
   * as the primary when it is the primary or the only member, and with no role setting (keeping
   * whatever role its data directory has) when it is down and no other member is primary.
   */
  async replaceOptions(member: MemberView, snapshot: Snapshot, _ctx: PortContext): Promise<ReplaceOptions> {
    const primary = await this.livePrimary(snapshot, member.name);
    if (primary) {
      return {
        settings: { role: 'standby', primaryConninfo: conninfoFor(primary, member.name, this.admin.user) },
      };
    }
    const selfRole = member.endpoint ? await this.admin.inRecovery(member.endpoint) : undefined;
    if (selfRole === false || onlyMember(member, snapshot)) {
      return { settings: { role: 'primary' } };
    }
    return { settings: {} };
  }

  /**
   * The member other than `down` (a primary that is down) that is the primary, waiting up to
   * {@link PROMOTION_WAIT_MS} for one: a Baton killed just after asking a standby to promote
   * leaves it finishing its promotion, in recovery still, when the rerun looks. Taking that for
   * "no other primary" restarted the old primary as the primary it was beside the promoted one.
   */
  private async promotedPrimary(
    snapshot: Snapshot,
    down: string,
    ctx: EngineActionContext,
  ): Promise<MemberView | undefined> {
    const deadline = ctx.clock.now() + PROMOTION_WAIT_MS;
    for (;;) {
      const primary = await this.livePrimary(snapshot, down);
      if (primary || ctx.clock.now() >= deadline) return primary;
      await ctx.clock.sleep(PROMOTION_POLL_MS, ctx.signal);
    }
  }

  /** The member other than `except` that answers as a primary right now. */
  private async livePrimary(snapshot: Snapshot, except: string): Promise<MemberView | undefined> {
    const others = snapshot.members.filter((m) => m.name !== except && m.endpoint);
    const roles = await Promise.all(others.map((m) => this.admin.inRecovery(m.endpoint as string)));
    const primaries = others.filter((_, i) => roles[i] === false);
    return primaries.length === 1 ? primaries[0] : undefined;
  }

  /** Close every pooled connection. */
  async close(): Promise<void> {
    await this.admin.close();
  }
}

/** How long a drain of a primary that is down waits for a promotion in flight to show. */
const PROMOTION_WAIT_MS = 3000;
const PROMOTION_POLL_MS = 100;

/** Whether `member` is the cluster's only member (nothing to hand over: writes stop while it restarts). */
function onlyMember(member: MemberView, snapshot: Snapshot): boolean {
  return snapshot.members.every((m) => m.name === member.name);
}
