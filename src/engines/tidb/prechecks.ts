/**
 * The TiDB engine's named prechecks (see {@link tidbRules}), each from one {@link TidbView} plus, for
 * DDL, one `ADMIN SHOW DDL JOBS`. Every failing check says what is wrong and how to fix it; none
 * changes anything.
 */
import { describeError } from '../../core/errors.js';
import type { PlatformMember, PrecheckResult, Snapshot, UpgradeSpec } from '../../core/types.js';
import { atVersion } from '../../core/version.js';
import { pdServing } from './observe.js';
import { isPendingDdl, supportsSmoothUpgrade, type DdlJob, type TidbClient } from './tidb-client.js';
import { STORE_COMPONENTS, adminEndpoint, storeOf, type TidbView } from './view.js';

const pass = (name: string, reason: string): PrecheckResult => ({ name, ok: true, reason });
const fail = (name: string, reason: string): PrecheckResult => ({ name, ok: false, reason });

/** Name of the precheck force-upgrade skips. */
export const PD_AVAILABLE = 'pd-available';

function pdAvailable(view: TidbView): PrecheckResult {
  const pd = pdServing(view);
  if (pd.ok) return pass(PD_AVAILABLE, pd.detail);
  return fail(
    PD_AVAILABLE,
    `${pd.detail}: fix PD first, or force the upgrade to replace the PD members regardless (--force ${PD_AVAILABLE}, or annotate the TidbCluster tidb.pingcap.com/force-upgrade=true), then remove the force once PD is back`,
  );
}

function storesUp(view: TidbView, members: PlatformMember[]): PrecheckResult {
  if (!view.stores)
    return fail('all-stores-up', `PD could not list stores: ${view.storesError ?? 'no answer'}`);
  const problems: string[] = [];
  for (const s of view.stores) {
    if (s.stateName === 'Up' || s.stateName === 'Tombstone') continue;
    const who = members.find((m) => STORE_COMPONENTS.includes(m.component) && storeOf(view, m)?.id === s.id);
    problems.push(`store ${s.id}${who ? ` (${who.name})` : ''} is ${s.stateName}`);
  }
  for (const m of members.filter((x) => STORE_COMPONENTS.includes(x.component))) {
    if (!storeOf(view, m)) problems.push(`${m.name} is not a store PD knows`);
  }
  if (problems.length > 0)
    return fail('all-stores-up', `${problems.join('; ')}: bring the stores back Up first`);
  return pass('all-stores-up', `all ${view.stores.length} stores are Up`);
}

function noLeftoverScheduler(view: TidbView, members: PlatformMember[]): PrecheckResult {
  if (view.evictStores === undefined)
    return fail('no-leftover-scheduler', 'PD could not list its evict-leader scheduler');
  if (view.evictStores.length === 0)
    return pass('no-leftover-scheduler', 'no evict-leader scheduler holds a store');
  const named = view.evictStores.map((id) => {
    const who = members.find((m) => STORE_COMPONENTS.includes(m.component) && storeOf(view, m)?.id === id);
    return `store ${id}${who ? ` (${who.name})` : ''}`;
  });
  return fail(
    'no-leftover-scheduler',
    `evict-leader-scheduler holds ${named.join(', ')}, which this upgrade did not add: remove it (pd-ctl scheduler remove evict-leader-scheduler-${view.evictStores[0]}) or force no-leftover-scheduler to leave it in place`,
  );
}

function versionsUniform(snapshot: Snapshot): PrecheckResult {
  const byComponent = new Map<string, Map<string, string[]>>();
  for (const m of snapshot.members) {
    const versions = byComponent.get(m.component) ?? new Map<string, string[]>();
    versions.set(m.version, [...(versions.get(m.version) ?? []), m.name]);
    byComponent.set(m.component, versions);
  }
  const mixed = [...byComponent].filter(([, v]) => v.size > 1);
  if (mixed.length > 0) {
    const list = mixed.map(
      ([c, v]) => `${c}: ${[...v].map(([ver, names]) => `${names.join(', ')} on ${ver}`).join('; ')}`,
    );
    return fail(
      'versions-uniform',
      `mixed versions within a component (${list.join(' | ')}): finish the previous upgrade first`,
    );
  }
  const across = [...new Set([...byComponent.values()].map((v) => [...v.keys()][0] as string))];
  if (across.length > 1) {
    const list = [...byComponent].map(([c, v]) => `${c} ${[...v.keys()][0]}`).join(', ');
    return pass(
      'versions-uniform',
      `each component runs one version; the cluster runs mixed versions (${list}), allowed as per-component versions`,
    );
  }
  return pass('versions-uniform', `every member runs ${across[0] ?? 'the same version'}`);
}

/** Whether the TiDB tier will be rolled with smooth upgrade (`/upgrade/start` .. `/finish`). */
export function smoothUpgrade(snapshot: Snapshot, spec: UpgradeSpec): boolean {
  const servers = snapshot.members.filter((m) => m.component === 'tidb');
  const target = spec.components?.find((c) => c.name === 'tidb')?.version ?? spec.version;
  return (
    servers.length > 0 &&
    servers.every((m) => supportsSmoothUpgrade(m.version) && !atVersion(m.version, target))
  );
}

/** `no-ddl-running`: skipped with smooth upgrade (TiDB pauses DDL itself), else ADMIN SHOW DDL JOBS. */
export async function noDdlRunning(
  view: TidbView,
  snapshot: Snapshot,
  spec: UpgradeSpec,
  tidb: TidbClient,
): Promise<PrecheckResult> {
  if (smoothUpgrade(snapshot, spec)) {
    return pass(
      'no-ddl-running',
      'smooth upgrade: /upgrade/start pauses user DDL before the first TiDB server restarts',
    );
  }
  const jobs = await pendingDdl(view, snapshot, tidb);
  if ('error' in jobs) return fail('no-ddl-running', jobs.error);
  if (jobs.pending.length === 0) return pass('no-ddl-running', 'no DDL job is running or queued');
  return fail('no-ddl-running', describePendingDdl(jobs.pending));
}

/** One line naming pending DDL jobs and how to clear them. */
export function describePendingDdl(
  jobs: { id: number; db: string; table: string; type: string; state: string }[],
): string {
  const list = jobs.map((j) => `job ${j.id} (${j.type} on ${j.db}.${j.table}, ${j.state})`).join(', ');
  return `DDL ${list}: wait until it finishes or cancel it (ADMIN CANCEL DDL JOBS ${jobs.map((j) => j.id).join(', ')}); the TiDB tier does not restart during DDL below v7.1.2 (no smooth upgrade)`;
}

/** Pending DDL jobs through the first TiDB server whose SQL port answers. */
export async function pendingDdl(
  view: TidbView,
  snapshot: Snapshot,
  tidb: TidbClient,
): Promise<{ pending: DdlJob[] } | { error: string }> {
  let lastError = 'no TiDB server answers';
  for (const m of snapshot.members.filter((x) => x.component === 'tidb')) {
    const seen = view.tidb.get(m.name);
    if (!seen || 'error' in seen) continue;
    const host = (adminEndpoint(m) ?? '').replace(/:\d+$/, '');
    try {
      const jobs = await tidb.ddlJobs(host, seen.info.listeningPort);
      return { pending: jobs.filter(isPendingDdl) };
    } catch (err) {
      lastError = describeError(err);
    }
  }
  return { error: `could not read ADMIN SHOW DDL JOBS: ${lastError}` };
}

/** Every check except DDL, which needs SQL; `downPeers` is PD's count of regions with a down peer. */
export function viewPrechecks(
  view: TidbView,
  snapshot: Snapshot,
  downPeers: { count: number } | { error: string },
  forcePd: boolean,
): PrecheckResult[] {
  if (forcePd && !pdServing(view).ok) {
    // Force-upgrade: PD is down, so nothing PD reports can be checked; PD members are replaced
    // first and every later component waits until PD is healthy again (prerequisites).
    const skipped = (name: string) =>
      pass(
        name,
        `not checked: PD is unavailable and force-upgrade replaces the PD members first (${pdServing(view).detail})`,
      );
    return [
      fail(PD_AVAILABLE, pdServing(view).detail),
      skipped('all-stores-up'),
      skipped('no-down-peers'),
      skipped('no-leftover-scheduler'),
      versionsUniform(snapshot),
    ];
  }
  return [
    pdAvailable(view),
    storesUp(view, snapshot.members),
    'error' in downPeers
      ? fail('no-down-peers', `PD could not list regions with down peers: ${downPeers.error}`)
      : downPeers.count > 0
        ? fail(
            'no-down-peers',
            `${downPeers.count} regions have a down peer (pd-ctl region check down-peer): wait until PD repairs them`,
          )
        : pass('no-down-peers', 'no region has a down peer'),
    noLeftoverScheduler(view, snapshot.members),
    versionsUniform(snapshot),
  ];
}
