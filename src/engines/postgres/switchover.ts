/**
 * Planned switchover: hand the primary role from a member about to stop to a streaming standby
 * without losing an acknowledged write and without pg_rewind afterwards.
 *
 * 1. Wait (writes still flowing) until the target is within the lag threshold, then CHECKPOINT on
 *    the primary, so the shutdown has neither a WAL backlog to ship nor much to flush.
 * 2. Read the primary's WAL position L, then stop it through the platform (fast shutdown). On a
 *    clean shutdown PostgreSQL writes a shutdown checkpoint after L and its WAL senders send every
 *    record, that one included, and wait for the standbys to confirm them before the server exits.
 * 3. Wait until the target has received WAL past L (so it has the shutdown checkpoint) and has
 *    replayed all it received. pg_controldata, which would give the old primary's final checkpoint
 *    LSN, is not shipped with the npm build and the engine cannot read another member's files, so
 *    the proof is: the old server has exited (its WAL senders, which wait for the standby to
 *    confirm every record, exited before it), hence the target's receive position is final; it is
 *    past L; and replay has reached it (or, if the received WAL ends on a page boundary past the
 *    last record, replay has stopped moving past L for `settleMs`).
 * 4. pg_promote on the target, polled until it leaves recovery. It starts a new timeline right
 *    after the shutdown checkpoint, exactly where the old primary stopped, so the old primary can
 *    later follow the new timeline as a standby without pg_rewind.
 * 5. Re-point the other standbys (ALTER SYSTEM SET primary_conninfo + reload) and clear
 *    primary_conninfo on the new primary.
 *
 * If the target never receives past L (its link was down), it is not promoted: the old primary's
 * last writes might be missing there, so the switchover fails with a reason instead.
 */
import type { Clock } from '../../core/clock.js';
import { waitUntil as waitFor } from '../../core/wait.js';
import { OperationalError, describeError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { DrainResult, HandOverBlocked, Platform } from '../../core/ports.js';
import type { MemberView, Snapshot } from '../../core/types.js';
import type { PgAdmin } from './admin.js';
import { buildConninfo, parseConninfo, parseEndpoint } from './conninfo.js';
import { formatLsn, lagBytes, parseLsn, parseLsnOrUndefined } from './lsn.js';

/**
 * Code of the error a switchover fails with on a platform that cannot stop a member without
 * replacing it (Kubernetes): retrying cannot change it.
 */
export const PLATFORM_CANNOT_STOP = 'platform-cannot-stop';

/** What a switchover needs; all injected. */
export interface SwitchoverDeps {
  admin: PgAdmin;
  platform: Platform;
  clock: Clock;
  logger: Logger;
  signal?: AbortSignal;
  /** Whole switchover deadline (stop + catch-up + promote). */
  timeoutMs: number;
  /** Poll interval while waiting for the stop and the catch-up. */
  pollMs: number;
  /**
   * Replay that has not moved for this long, with the receive position final, counts as complete
   * (the receive position may end on a page boundary past the last record).
   */
  settleMs: number;
  /**
   * Before stopping the primary, wait (writes still flowing) until the target is within this many
   * WAL bytes, so the shutdown does not have to ship a backlog while writes are stopped.
   */
  lagThresholdBytes: number;
  /** Longest wait for that catch-up; past it the switchover goes on regardless. */
  catchUpMs: number;
}

/**
 * Why no switchover of primary `member` can run on `platform` whatever the cluster's state: the
 * platform cannot stop a member without replacing it (Kubernetes; an evicted primary's pod would
 * come back from the same data, as a primary). Undefined when it can stop members. The one home of
 * this rule: {@link switchover} fails with it, and the engine's `handOverBlocked` reports it
 * before anything moves.
 */
export function switchoverBlocked(member: MemberView, platform: Platform): HandOverBlocked | undefined {
  if (platform.stopMember) return undefined;
  return {
    code: PLATFORM_CANNOT_STOP,
    message: `${member.name} is the primary and platform ${platform.name} cannot stop a member without replacing it, which a PostgreSQL switchover needs`,
  };
}

/** The primary_conninfo a standby named `applicationName` uses to follow `primary`. */
export function conninfoFor(primary: MemberView, applicationName: string, user: string): string {
  if (!primary.endpoint) throw new OperationalError('no-endpoint', `member ${primary.name} has no endpoint`);
  const { host, port } = parseEndpoint(primary.endpoint);
  return buildConninfo({ host, port, user, application_name: applicationName, connect_timeout: 5 });
}

/**
 * The standby to promote: `preferred` when it is a healthy streaming standby, otherwise the
 * healthy standby with the least lag (ties by name). Undefined when there is none.
 */
export function chooseSwitchoverTarget(
  member: MemberView,
  preferred: MemberView | undefined,
  snapshot: Snapshot,
): MemberView | undefined {
  const candidates = snapshot.members.filter(
    (m) => m.name !== member.name && m.endpoint && m.engine?.role === 'replica' && m.engine.healthy,
  );
  const pref = preferred ? candidates.find((c) => c.name === preferred.name) : undefined;
  if (pref) return pref;
  return [...candidates].sort(
    (a, b) => (a.engine?.lag ?? 0) - (b.engine?.lag ?? 0) || a.name.localeCompare(b.name),
  )[0];
}

/** A wait of the switchover: on its clock and poll, its reason logged while it lasts. */
function waitUntil<T>(
  deps: SwitchoverDeps,
  deadline: number,
  what: string | (() => string),
  probe: () => Promise<T | undefined>,
  code = 'switchover-timeout',
): Promise<T> {
  return waitFor(what, probe, {
    clock: deps.clock,
    deadline,
    pollMs: deps.pollMs,
    signal: deps.signal,
    code,
    logger: deps.logger,
  });
}

/** Outcome of {@link repointStandbys}. */
export interface RepointResult {
  /** Standbys whose primary_conninfo was changed to the primary. */
  repointed: string[];
  /** Members left alone because they are down, not standbys, or the change failed. */
  skipped: string[];
}

/**
 * Make every standby in `snapshot` other than `primary` and `exclude` follow `primary`: those whose
 * primary_conninfo names another host or port get ALTER SYSTEM SET primary_conninfo and a reload.
 * Idempotent; a standby already following `primary` is neither changed nor listed.
 */
export async function repointStandbys(
  admin: PgAdmin,
  primary: MemberView,
  exclude: string[],
  snapshot: Snapshot,
  logger: Logger,
): Promise<RepointResult> {
  const repointed: string[] = [];
  const skipped: string[] = [];
  const { host, port } = parseEndpoint(primary.endpoint as string);
  for (const other of snapshot.members) {
    if (other.name === primary.name || exclude.includes(other.name) || !other.endpoint) continue;
    try {
      if ((await admin.inRecovery(other.endpoint)) !== true) {
        skipped.push(other.name);
        continue;
      }
      const current = parseConninfo((await admin.primaryConninfo(other.endpoint)) ?? '');
      if (current.host === host && Number(current.port) === port) continue;
      await admin.setPrimaryConninfo(other.endpoint, conninfoFor(primary, other.name, admin.user));
      repointed.push(other.name);
    } catch (err) {
      skipped.push(other.name);
      logger.warn('could not re-point standby; it follows the new primary when it restarts', {
        member: other.name,
        error: describeError(err),
      });
    }
  }
  return { repointed, skipped };
}

/**
 * Switch the primary role from `member` (a running primary) to `target` (or the best streaming
 * standby) as described in this module's comment. Returns `{ movedTo }` once the target is promoted.
 */
export async function switchover(
  member: MemberView,
  preferred: MemberView | undefined,
  snapshot: Snapshot,
  deps: SwitchoverDeps,
): Promise<DrainResult> {
  const { admin, clock, logger } = deps;
  const started = clock.now();
  const deadline = started + deps.timeoutMs;
  const primaryEndpoint = member.endpoint as string;
  const target = chooseSwitchoverTarget(member, preferred, snapshot);
  if (!target?.endpoint) {
    throw new OperationalError(
      'no-switchover-target',
      `cannot hand over primary ${member.name}: no healthy streaming standby to promote`,
    );
  }
  const blocked = switchoverBlocked(member, deps.platform);
  if (blocked) throw new OperationalError(blocked.code, blocked.message);
  // The target must be streaming from this primary right now, or stopping the primary loses WAL.
  const replication = await admin.replication(primaryEndpoint);
  const link = replication.find((r) => r.applicationName === target.name);
  if (link?.state !== 'streaming') {
    throw new OperationalError(
      'target-not-streaming',
      `cannot hand over ${member.name} to ${target.name}: ${target.name} is not streaming from it (${
        link ? `state ${link.state}` : 'not connected'
      })`,
    );
  }

  // Only an optimisation (the shutdown ships any backlog anyway), so a standby that cannot catch
  // up under a sustained load delays the switchover by at most catchUpMs, never blocks it.
  let lag = Number.POSITIVE_INFINITY;
  const caughtUp = await waitUntil(
    deps,
    Math.min(deadline, clock.now() + deps.catchUpMs),
    () => `${target.name} to come within ${deps.lagThresholdBytes} bytes of ${member.name} (lag ${lag})`,
    async () => {
      const replay = parseLsnOrUndefined((await admin.state(target.endpoint as string)).lsn);
      const current = parseLsnOrUndefined((await admin.state(primaryEndpoint)).lsn);
      if (replay !== undefined && current !== undefined) lag = lagBytes(current, replay);
      return lag <= deps.lagThresholdBytes ? true : undefined;
    },
    'catch-up-timeout',
  ).catch((err: unknown) => {
    if (err instanceof OperationalError && err.code === 'catch-up-timeout') return false;
    throw err;
  });
  if (!caughtUp) {
    logger.info(
      'switchover target still lagging; stopping the primary anyway (the shutdown ships the rest)',
      {
        target: target.name,
        lagBytes: lag,
      },
    );
  }
  await admin.checkpoint(primaryEndpoint, Math.max(1000, deadline - clock.now()));
  const before = (await admin.state(primaryEndpoint)).lsn;
  if (before === null) throw new OperationalError('no-lsn', `${member.name} reported no WAL position`);
  const lsnBefore = parseLsn(before);
  const stopAt = clock.now();
  // switchoverBlocked above: the platform has stopMember.
  await deps.platform.stopMember!(member.name, { clock, logger, signal: deps.signal });
  await waitUntil(deps, deadline, `${member.name} to stop`, async () =>
    (await admin.inRecovery(primaryEndpoint)) === undefined ? true : undefined,
  );
  const stoppedAt = clock.now();

  let last: { replay: bigint; since: number } | undefined;
  const replayed = await waitUntil(
    deps,
    deadline,
    `${target.name} to receive and replay the final WAL of ${member.name} (past ${formatLsn(lsnBefore)})`,
    async () => {
      const s = await admin.state(target.endpoint as string).catch(() => undefined);
      const receive = parseLsnOrUndefined(s?.receiveLsn);
      const replay = parseLsnOrUndefined(s?.lsn);
      if (!s?.inRecovery || receive === undefined || replay === undefined || receive <= lsnBefore)
        return undefined;
      if (replay >= receive) return replay;
      const now = clock.now();
      if (!last || last.replay !== replay) last = { replay, since: now };
      else if (replay > lsnBefore && now - last.since >= deps.settleMs) return replay;
      return undefined;
    },
  );

  const replayedAt = clock.now();
  if (!(await admin.requestPromote(target.endpoint))) {
    throw new OperationalError('promote-failed', `pg_promote on ${target.name} was refused`);
  }
  await waitUntil(deps, deadline, `${target.name} to leave recovery after pg_promote`, async () =>
    (await admin.inRecovery(target.endpoint as string)) === false ? true : undefined,
  );
  const promotedAt = clock.now();
  await admin.setPrimaryConninfo(target.endpoint, undefined).catch((err) =>
    logger.warn('could not clear primary_conninfo on new primary', {
      member: target.name,
      error: describeError(err),
    }),
  );

  const { repointed, skipped } = await repointStandbys(admin, target, [member.name], snapshot, logger);
  const message =
    `switched over from ${member.name} to ${target.name} in ${promotedAt - started} ms; writes stopped for ` +
    `${promotedAt - stopAt} ms (stop ${stoppedAt - stopAt} ms, replay to ${formatLsn(replayed)} past ` +
    `${formatLsn(lsnBefore)} ${replayedAt - stoppedAt} ms, promote ${promotedAt - replayedAt} ms)` +
    (repointed.length ? `; re-pointed ${repointed.join(', ')}` : '') +
    (skipped.length ? `; not re-pointed (down or not standby): ${skipped.join(', ')}` : '');
  logger.info(message, { member: member.name, target: target.name });
  return { movedTo: target.name, message };
}
