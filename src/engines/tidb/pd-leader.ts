/**
 * PD leader last, and handed over first: before the PD leader restarts, PD leadership moves to a
 * healthy follower (`POST /pd/api/v1/leader/transfer/{name}`), the planner's choice when it is a
 * healthy PD member, else the healthy follower with the lowest ordinal. As TiDB Operator's
 * pd_upgrader does before it restarts the leader's pod.
 */
import { OperationalError } from '../../core/errors.js';
import type { DrainResult } from '../../core/ports.js';
import type { MemberView } from '../../core/types.js';
import type { PdClient } from './pd-client.js';
import { pdMemberOf, type TidbView } from './view.js';

/** Move PD leadership away from `member` when it leads; a no-op otherwise. */
export async function transferPdLeader(
  pd: PdClient,
  view: TidbView,
  member: MemberView,
  target: MemberView | undefined,
  members: MemberView[],
): Promise<DrainResult> {
  const leader = view.pd?.members.leader;
  if (!view.pd || !leader) {
    throw new OperationalError(
      'pd-no-leader',
      `cannot move PD leadership away from ${member.name}: PD has no leader`,
    );
  }
  const self = pdMemberOf(view, member);
  if (self?.name !== leader)
    return { message: `${member.name} is not the PD leader (${leader} is); nothing to move` };
  const healthy = new Set(view.pd.health.filter((h) => h.health).map((h) => h.name));
  const candidates = members
    .filter((m) => m.component === 'pd' && m.name !== member.name)
    .map((m) => ({ m, pm: pdMemberOf(view, m) }))
    .filter((c) => c.pm && healthy.has(c.pm.name))
    .sort((a, b) => a.m.ordinal - b.m.ordinal);
  const chosen = candidates.find((c) => c.m.name === target?.name) ?? candidates[0];
  if (!chosen?.pm) {
    throw new OperationalError(
      'pd-no-transfer-target',
      `cannot move PD leadership away from ${member.name}: no healthy PD follower`,
    );
  }
  await pd.transferLeader(chosen.pm.name);
  return {
    movedTo: chosen.m.name,
    message: `asked PD to transfer leadership from ${member.name} to ${chosen.m.name}${target && target.name !== chosen.m.name ? ` (planned ${target.name} is not a healthy PD member)` : ''}`,
  };
}
