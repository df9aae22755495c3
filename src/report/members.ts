/**
 * How a person sees an upgrade's members: in plan order, each with a display state (waiting,
 * taking over, draining, replacing, gated, done, failed) and the check it waits for. Pure: a
 * function of the journal's status, shared by `baton dashboard` (server and page) and
 * `baton report`.
 */
import type { UpgradeStatus } from '../core/types.js';

/** What a member is doing, as the dashboard and the report name it. */
export type MemberDisplayState =
  'waiting' | 'taking over' | 'draining' | 'replacing' | 'gated' | 'done' | 'failed';

/** One member in plan order. */
export interface MemberRow {
  name: string;
  component: string;
  /** Batch number within the plan (1-based), when planned. */
  batch?: number;
  state: MemberDisplayState;
  /** What the member waits for, or what it did, in one line. */
  detail: string;
  from: string;
  to: string;
  /** The member is in the batch in flight. */
  inCurrentBatch: boolean;
}

/** The members of `status` in plan order (members the plan does not list follow, by name). */
export function memberRows(status: UpgradeStatus): MemberRow[] {
  const order: { name: string; component: string; batch?: number }[] = [];
  let batchNo = 0;
  for (const c of status.plan?.components ?? []) {
    for (const b of c.batches) {
      batchNo += 1;
      for (const name of b.members) order.push({ name, component: c.name, batch: batchNo });
    }
  }
  const listed = new Set(order.map((o) => o.name));
  for (const name of Object.keys(status.members).sort()) {
    if (!listed.has(name)) order.push({ name, component: status.members[name]!.component });
  }
  const takingOver = new Map<string, string>();
  for (const [name, p] of Object.entries(status.members)) {
    if (p.state === 'draining' && p.leadershipMovedTo) takingOver.set(p.leadershipMovedTo, name);
  }
  const next = order.find((o) => status.members[o.name]?.state === 'pending')?.name;
  const current = new Set(status.currentBatch);
  return order.map((o): MemberRow => {
    const p = status.members[o.name];
    const row = (state: MemberDisplayState, detail: string): MemberRow => ({
      name: o.name,
      component: o.component,
      ...(o.batch !== undefined ? { batch: o.batch } : {}),
      state,
      detail,
      from: p?.from ?? '',
      to: p?.to ?? '',
      inCurrentBatch: current.has(o.name),
    });
    if (!p) return row('waiting', 'not part of this pass');
    if (p.lastError) return row('failed', p.lastError);
    const blocked = status.blockedBy ? `${status.blockedBy.check}: ${status.blockedBy.reason}` : undefined;
    switch (p.state) {
      case 'done':
        return row('done', `runs ${p.to}`);
      case 'draining':
        return row(
          'draining',
          blocked ?? `moving leadership away${p.leadershipMovedTo ? ` to ${p.leadershipMovedTo}` : ''}`,
        );
      case 'replacing':
        return row('replacing', blocked ?? `starting on ${p.to}`);
      case 'verifying':
        return row('replacing', blocked ?? `waiting until ready and caught up on ${p.to}`);
      case 'failed':
        // Left aside within the spec's maxFailedMembers (its cause is `lastError`, shown above).
        return row('failed', 'failed and left for a human');
      case 'pending': {
        const from = takingOver.get(o.name);
        if (from) return row('taking over', `taking over leadership from ${from}`);
        if (status.supervisedGate === o.name) return row('gated', 'supervised: waits for `baton resume`');
        if (o.name === next && blocked) return row('gated', blocked);
        if (o.name === next && status.phase === 'Paused') {
          return row(
            'gated',
            status.pauseCause ? `paused: ${status.pauseCause}` : 'paused: waits for resume',
          );
        }
        return row('waiting', o.name === next ? 'next' : 'waiting for its turn');
      }
    }
  });
}
