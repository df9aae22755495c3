/**
 * From what each member answered to roles, lag and health. Pure: the I/O lives in the engine, so
 * every case (split brain, a standby following a stale primary, no primary) is table-tested.
 */
import type { EngineObservation } from '../../core/ports.js';
import type { EngineMemberState, PlatformMember } from '../../core/types.js';
import type { MemberSqlState, ReplicationRow, WalReceiverRow } from './admin.js';
import { parseEndpoint } from './conninfo.js';
import { formatLsn, lagBytes, parseLsnOrUndefined } from './lsn.js';

/** What one member answered in one observation round. */
export interface MemberRead {
  sql: MemberSqlState;
  /** pg_stat_replication, read on a primary. */
  replication?: ReplicationRow[];
  /** pg_stat_wal_receiver, read on a standby (undefined while no receiver runs). */
  receiver?: WalReceiverRow;
  /** Set when the write check on a primary failed. */
  writeError?: string;
}

function sameEndpoint(host: string | null, port: number | null, endpoint: string | undefined): boolean {
  if (!host || port === null || !endpoint) return false;
  try {
    const e = parseEndpoint(endpoint);
    return e.port === port && (e.host === host || (isLoopback(e.host) && isLoopback(host)));
  } catch {
    return false;
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * Combine the reads of every reachable member into per-member states and cluster health.
 * - primary: role `primary`, lag 0, healthy when its write check passed.
 * - standby: role `replica`, healthy when its WAL receiver streams from the one primary (by the
 *   primary's pg_stat_replication entry named after the standby, or the receiver's sender address),
 *   lag = primary's current LSN - standby's replay LSN, caughtUp = healthy && lag <= threshold.
 * - cluster: healthy when exactly one member is a primary and it accepts writes.
 * Unreachable members are absent from `members` and counted in the health detail.
 */
export function assessCluster(
  members: PlatformMember[],
  reads: Record<string, MemberRead>,
  lagThresholdBytes: number,
): EngineObservation {
  const states: Record<string, EngineMemberState> = {};
  const primaries = members.filter((m) => reads[m.name] && !reads[m.name]?.sql.inRecovery);
  const primary = primaries.length === 1 ? primaries[0] : undefined;
  const primaryRead = primary ? reads[primary.name] : undefined;
  const primaryLsn = parseLsnOrUndefined(primaryRead?.sql.lsn);
  const streamingToPrimary = new Set(
    (primaryRead?.replication ?? []).filter((r) => r.state === 'streaming').map((r) => r.applicationName),
  );

  let maxLag = 0;
  const streaming: string[] = [];
  const notStreaming: string[] = [];
  for (const m of members) {
    const read = reads[m.name];
    if (!read) continue;
    if (!read.sql.inRecovery) {
      const standbys = (read.replication ?? [])
        .filter((r) => r.state === 'streaming')
        .map((r) => r.applicationName);
      states[m.name] = {
        role: 'primary',
        healthy: read.writeError === undefined,
        caughtUp: true,
        lag: 0,
        leaderCount: 1,
        detail:
          read.writeError !== undefined
            ? `primary, rejects writes: ${read.writeError}`
            : `primary at ${read.sql.lsn ?? '?'}, streaming to ${standbys.length ? standbys.sort().join(', ') : 'no standby'}`,
      };
      continue;
    }
    const replay = parseLsnOrUndefined(read.sql.lsn);
    const receiving = read.receiver?.status === 'streaming';
    const follows =
      primary !== undefined &&
      receiving &&
      (streamingToPrimary.has(m.name) ||
        sameEndpoint(read.receiver?.senderHost ?? null, read.receiver?.senderPort ?? null, primary.endpoint));
    const lag = primaryLsn !== undefined && replay !== undefined ? lagBytes(primaryLsn, replay) : 0;
    const healthy = follows;
    if (healthy) {
      streaming.push(m.name);
      maxLag = Math.max(maxLag, lag);
    } else {
      notStreaming.push(m.name);
    }
    const receiverText = read.receiver
      ? `receiver ${read.receiver.status} from ${read.receiver.senderHost ?? '?'}:${read.receiver.senderPort ?? '?'}`
      : 'no WAL receiver';
    let detail: string;
    if (primary === undefined)
      detail = `standby, replayed to ${read.sql.lsn ?? '?'}, ${receiverText}, no single primary`;
    else if (!follows)
      detail = `standby not streaming from ${primary.name}: ${receiverText}, replayed to ${read.sql.lsn ?? '?'}`;
    else
      detail = `standby replayed to ${read.sql.lsn ?? '?'}, ${bytes(lag)} behind ${primary.name} at ${
        primaryLsn !== undefined ? formatLsn(primaryLsn) : '?'
      }`;
    states[m.name] = {
      role: 'replica',
      healthy,
      caughtUp: healthy && primaryLsn !== undefined && replay !== undefined && lag <= lagThresholdBytes,
      lag,
      leaderCount: 0,
      detail,
    };
  }

  const unreachable = members.filter((m) => !reads[m.name]).map((m) => m.name);
  const tail = [
    notStreaming.length ? `not streaming: ${notStreaming.join(', ')}` : '',
    unreachable.length ? `unreachable: ${unreachable.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  let healthy = false;
  let detail: string;
  if (primaries.length === 0) detail = 'no primary: every reachable member is in recovery';
  else if (primaries.length > 1)
    detail = `${primaries.length} primaries (${primaries.map((p) => p.name).join(', ')}): split brain`;
  else if (primaryRead?.writeError !== undefined)
    detail = `primary ${primary?.name} rejects writes: ${primaryRead.writeError}`;
  else {
    healthy = true;
    detail = `primary ${primary?.name}, ${streaming.length} standby(s) streaming, max lag ${bytes(maxLag)}`;
  }
  if (tail) detail += `; ${tail}`;
  const facts: Record<string, number | string | boolean> = {
    primaries: primaries.length,
    streamingStandbys: streaming.length,
    maxLagBytes: maxLag,
    unreachable: unreachable.length,
  };
  if (primary) facts.primary = primary.name;
  if (primaryRead?.sql.serverVersion) facts.primaryVersion = primaryRead.sql.serverVersion;
  return { members: states, health: { healthy, detail, facts } };
}
