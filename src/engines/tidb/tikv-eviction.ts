/**
 * TiKV stores lose their region leaders before they restart, as TiDB Operator's
 * tikv_upgrader does: the store joins PD's evict-leader scheduler (drain), the runner polls the
 * store's leader count down to 0 (the scheduler is added again when PD loses it: `drainInPlace`
 * false), the store restarts, comes back Up on its new version, leaves the scheduler (restore),
 * and the runner waits until its leaders come back (`leadershipReturn` in the rules).
 *
 * Sweeping: evict-leader entries Baton added and did not remove (a pass cancelled or crashed
 * between drain and restore) are removed at the start and the end of an upgrade. "Baton added" is
 * read from the journal: members of this cluster's upgrades that were drained and not restored.
 */
import { OperationalError } from '../../core/errors.js';
import type { DrainResult, JournalStore } from '../../core/ports.js';
import type { MemberView, PlatformMember } from '../../core/types.js';
import type { PdClient } from './pd-client.js';
import { EVICTED_COMPONENTS, storeOf, type TidbView } from './view.js';

function storeIdOf(view: TidbView, member: PlatformMember): number {
  const store = storeOf(view, member);
  if (!store) {
    throw new OperationalError(
      'tikv-store-unknown',
      `${member.name} is not a store PD knows (${view.storesError ?? 'no store matches its address'})`,
    );
  }
  return store.id;
}

/** Put `member`'s store in PD's evict-leader scheduler (again, when PD lost it). */
export async function evictLeaders(pd: PdClient, view: TidbView, member: MemberView): Promise<DrainResult> {
  const id = storeIdOf(view, member);
  if (view.evictStores?.includes(id)) {
    // A drain repeated after a crash: PD already evicts this store, nothing to add.
    return { message: `${member.name} (store ${id}) is already in PD's evict-leader scheduler` };
  }
  await pd.addEvictLeader(id);
  const leaders = member.engine?.leaderCount;
  return {
    message: `added ${member.name} (store ${id}) to PD's evict-leader scheduler${leaders !== undefined ? `; it leads ${leaders} regions` : ''}`,
  };
}

/** Take `member`'s store out of the evict-leader scheduler (PD's 404 means it already was). */
export async function endEviction(pd: PdClient, view: TidbView, member: PlatformMember): Promise<string> {
  const id = storeIdOf(view, member);
  const outcome = await pd.removeEvictLeader(id);
  return outcome === 'removed'
    ? `removed ${member.name} (store ${id}) from PD's evict-leader scheduler`
    : `${member.name} (store ${id}) was no longer in PD's evict-leader scheduler`;
}

/**
 * Store members drained by Baton and not restored, in the upgrades `which` selects from the journal:
 * `current` = the upgrade named `name`, `others` = every other upgrade of the cluster that ended.
 */
export async function drainedByBaton(
  journal: JournalStore,
  name: string,
  which: 'current' | 'others',
): Promise<Set<string>> {
  const records = which === 'current' ? [await journal.get(name)] : await journal.list();
  const out = new Set<string>();
  for (const r of records) {
    if (!r) continue;
    if (which === 'others' && r.spec.name === name) continue;
    for (const [member, p] of Object.entries(r.status.members)) {
      if (EVICTED_COMPONENTS.includes(p.component) && p.drainIssued && (which === 'current' || !p.restored))
        out.add(member);
    }
  }
  return out;
}

/** Remove the evict-leader entries of `names` that PD still has; what was done, in one line. */
export async function sweep(
  pd: PdClient,
  view: TidbView,
  members: PlatformMember[],
  names: Set<string>,
): Promise<string> {
  const removed: string[] = [];
  for (const m of members.filter((x) => names.has(x.name))) {
    const store = storeOf(view, m);
    if (!store || !view.evictStores?.includes(store.id)) continue;
    await pd.removeEvictLeader(store.id);
    removed.push(`${m.name} (store ${store.id})`);
  }
  return removed.length > 0
    ? `removed leftover evict-leader entries Baton added: ${removed.join(', ')}`
    : 'no leftover evict-leader entry of Baton';
}
