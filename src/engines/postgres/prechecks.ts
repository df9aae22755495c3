/**
 * The PostgreSQL prechecks, evaluated on an observed snapshot. Pure; each result names the
 * members that fail it so the reason alone tells the user what to fix.
 */
import type { PrecheckResult, Snapshot } from '../../core/types.js';
import { POSTGRES_PRECHECKS } from './rules.js';

function list(names: string[]): string {
  return names.join(', ');
}

/**
 * Run every check of {@link POSTGRES_PRECHECKS} against `snapshot`:
 * all members up (platform ready and engine reachable), exactly one primary that accepts writes,
 * every other member a standby streaming from it, and every standby within `lagThresholdBytes`.
 */
export function postgresPrechecks(snapshot: Snapshot, lagThresholdBytes: number): PrecheckResult[] {
  const members = [...snapshot.members].sort((a, b) => a.name.localeCompare(b.name));
  const down = members.filter((m) => !m.ready || !m.engine).map((m) => m.name);
  const primaries = members.filter((m) => m.engine?.role === 'primary');
  const standbys = members.filter((m) => m.engine?.role === 'replica');
  const notStreaming = standbys.filter((m) => !m.engine?.healthy);
  const lagging = standbys.filter((m) => (m.engine?.lag ?? 0) > lagThresholdBytes || !m.engine?.caughtUp);

  const results: PrecheckResult[] = [];
  results.push({
    name: POSTGRES_PRECHECKS.allMembersUp,
    ok: down.length === 0,
    reason:
      down.length === 0
        ? `all ${members.length} members are up and answer SQL`
        : `${list(down)} ${down.length === 1 ? 'is' : 'are'} down or not answering SQL; start ${
            down.length === 1 ? 'it' : 'them'
          } before upgrading`,
  });

  const primary = primaries[0];
  let primaryReason: string;
  if (primaries.length === 0)
    primaryReason = 'no member is a primary (all reachable members are in recovery)';
  else if (primaries.length > 1)
    primaryReason = `${primaries.length} members are primaries (${list(primaries.map((p) => p.name))}): split brain`;
  else if (!primary?.engine?.healthy)
    primaryReason = `primary ${primary?.name} does not accept writes: ${primary?.engine?.detail ?? ''}`;
  else primaryReason = `${primary.name} is the only primary and accepts writes`;
  results.push({
    name: POSTGRES_PRECHECKS.primaryUnique,
    ok: primaries.length === 1 && primary?.engine?.healthy === true,
    reason: primaryReason,
  });

  const missing = down.filter((n) => !primaries.some((p) => p.name === n));
  const streamingOk = notStreaming.length === 0 && missing.length === 0 && primaries.length === 1;
  results.push({
    name: POSTGRES_PRECHECKS.standbysStreaming,
    ok: streamingOk,
    reason: streamingOk
      ? standbys.length === 0
        ? 'no standbys (single-member cluster)'
        : `${list(standbys.map((s) => s.name))} stream from ${primary?.name}`
      : [
          ...notStreaming.map((s) => `${s.name}: ${s.engine?.detail ?? 'not streaming'}`),
          ...missing.map((n) => `${n}: not reachable`),
          ...(primaries.length !== 1 ? ['no single primary to stream from'] : []),
        ].join('; '),
  });

  results.push({
    name: POSTGRES_PRECHECKS.lagUnderThreshold,
    ok: lagging.length === 0 && missing.length === 0 && primaries.length === 1,
    reason:
      lagging.length === 0 && missing.length === 0 && primaries.length === 1
        ? `every standby is within ${lagThresholdBytes} bytes of the primary (max ${Math.max(
            0,
            ...standbys.map((s) => s.engine?.lag ?? 0),
          )} bytes)`
        : [
            ...lagging.map((s) =>
              s.engine?.healthy
                ? `${s.name} is ${s.engine.lag} bytes behind (threshold ${lagThresholdBytes})`
                : `${s.name} is not streaming, so it is not catching up`,
            ),
            ...missing.map((n) => `${n}: lag unknown (not reachable)`),
            ...(primaries.length !== 1 ? ['lag unknown without a single primary'] : []),
          ].join('; '),
  });
  return results;
}
