/**
 * Whether an upgrade may be rolled back, decided in one place for the runner (which then starts the
 * way back) and for the control verb `rollback` (which refuses before writing the request): not
 * after finalization, never below a finalized intermediate hop, and only where the engine allows
 * each member's way down.
 */
import type { VersionRules } from '../core/rules.js';
import type { MemberProgress, UpgradeStatus } from '../core/types.js';
import { compareVersions, parseVersion } from '../core/version.js';

/**
 * The version of the last intermediate hop already finalized, if any: a finalized hop cannot be
 * undone, so a rollback goes back to it at most.
 */
export function finalizedFloor(status: UpgradeStatus): string | undefined {
  const path = status.plan?.path ?? [];
  let floor: string | undefined;
  for (let k = 0; k < status.hop; k++) {
    if (status.hooksDone.includes(`finalize-hop:${k}`)) floor = path[k]?.to;
  }
  return floor;
}

/** The version a member goes back to on a rollback: its original one, or the finalized floor. */
export function rollbackVersion(status: UpgradeStatus, member: MemberProgress): string {
  return finalizedFloor(status) ?? member.from;
}

/**
 * Why the upgrade cannot be rolled back, or undefined when it can. `running(name, member)` is the
 * version a member runs now (the runner's observation; the journal's best guess for a front end).
 * Refused: a finalized upgrade, and a member above its way-back version that the engine does not
 * let go down.
 */
export function rollbackRefusal(
  status: UpgradeStatus,
  versions: VersionRules,
  running: (name: string, member: MemberProgress) => string,
): string | undefined {
  if (status.finalized) return 'the upgrade is finalized: rollback is no longer possible';
  for (const [name, m] of Object.entries(status.members)) {
    const now = running(name, m);
    const back = rollbackVersion(status, m);
    if (compareVersions(now, back) <= 0) continue;
    const verdict = versions.allowDowngrade(parseVersion(now), parseVersion(back));
    if (!verdict.ok) return `cannot roll ${name} back from ${now} to ${back}: ${verdict.reason}`;
  }
  return undefined;
}
