/**
 * TiCDC captures before they restart, as TiDB Operator's ticdc upgrader does: the owner resigns
 * (`POST /api/v2/owner/resign`, another capture takes over), then the capture is drained
 * (`POST /api/v2/captures/{id}/drain`: the owner moves its tables to other captures) until it
 * replicates no table. The drain lives in the owner's memory, so a drain is requested again when
 * the owner changed since (`drainInPlace` false in the observation).
 */
import { OperationalError } from '../../core/errors.js';
import type { DrainResult } from '../../core/ports.js';
import type { MemberView } from '../../core/types.js';
import type { TicdcClient } from './ticdc-client.js';
import { adminEndpoint, type TidbView } from './view.js';

/** Resign (owner) or drain (other captures) `member`; `drains` records which owner was asked. */
export async function drainCapture(
  view: TidbView,
  member: MemberView,
  ticdc: TicdcClient,
  drains: Map<string, string>,
): Promise<DrainResult> {
  const seen = view.ticdc.get(member.name);
  if (!seen || 'error' in seen) {
    throw new OperationalError(
      'ticdc-unreachable',
      `${member.name} does not answer its TiCDC API: cannot drain it`,
    );
  }
  const ep = adminEndpoint(member) as string;
  if (seen.status.isOwner) {
    await ticdc.resignOwner(ep);
    return { message: `${member.name} resigned as TiCDC owner; its tables are drained next` };
  }
  const owner = [...view.ticdc.values()].find((x) => 'status' in x && x.status.isOwner);
  const left = await ticdc.drainCapture(ep, seen.status.id);
  if (owner && 'status' in owner) drains.set(seen.status.id, owner.status.id);
  return { message: `asked the TiCDC owner to move ${left} tables off ${member.name}` };
}
