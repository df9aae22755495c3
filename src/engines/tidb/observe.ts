/**
 * What Baton concludes from one {@link TidbView}: each member's role, health and leaderships, and
 * the cluster's health. Pure.
 *
 * - PD: leader/follower from PD's member list; healthy when PD has a leader, `/health` says the
 *   member is healthy and it runs the version the platform says. Under force-upgrade (PD
 *   unavailable), a PD member counts as healthy as soon as its process answers: TiDB Operator
 *   replaces PD members regardless to bring PD back, and so does Baton.
 * - TiKV: healthy when the store is Up in PD at the member's version (a restarted store registers
 *   its new version); leaderships from the store's own status port (PD's count lags);
 *   `drainInPlace` = the store is in PD's evict-leader scheduler.
 * - TiFlash: healthy when its store is Up in PD at the member's version and its own
 *   `/tiflash/store-status` says `Running` (TiDB Operator's tiflash upgrader's two conditions); it
 *   holds learner replicas only, so its leader count is PD's (0).
 * - TiProxy: healthy when `/api/debug/health` answers 200 (not "service not ready", not closing).
 * - Pump: healthy when the pumps' `/status` lists it `online` (a pump registers itself online when
 *   it starts and `paused` when it stops).
 * - TiDB: healthy when its status port answers at the member's version; the DDL owner is the
 *   `leader` (it resigns before it restarts, and goes last).
 * - TiCDC: the owner is the `leader`; a capture's leaderships are the tables it replicates.
 */
import type { EngineObservation } from '../../core/ports.js';
import type { EngineMemberState, PlatformMember } from '../../core/types.js';
import { atVersion } from '../../core/version.js';
import { normalizeTidbVersion } from './tidb-client.js';
import { pdMemberOf, pumpOf, storeOf, type TidbView } from './view.js';

/** Engine state the observation needs besides the view. */
export interface ObserveContext {
  /** Force-upgrade is on (`--force pd-available` or TidbCluster `tidb.pingcap.com/force-upgrade`). */
  forcePd: boolean;
  /** Capture id -> the TiCDC owner a drain was requested from (this process's memory). */
  captureDrains: ReadonlyMap<string, string>;
}

/** PD can serve: a leader and a healthy majority. */
export function pdServing(view: TidbView): { ok: boolean; detail: string; healthy: number; total: number } {
  if (!view.pd)
    return {
      ok: false,
      detail: `PD does not answer: ${view.pdError ?? 'no member reachable'}`,
      healthy: 0,
      total: view.pdEndpoints.length,
    };
  const total = view.pd.members.members.length;
  const healthy = view.pd.health.filter((h) => h.health).length;
  const leader = view.pd.members.leader;
  if (!leader)
    return { ok: false, detail: `PD has no leader (${healthy}/${total} members healthy)`, healthy, total };
  if (healthy * 2 <= total)
    return {
      ok: false,
      detail: `PD has no healthy majority: ${healthy}/${total} members healthy`,
      healthy,
      total,
    };
  return { ok: true, detail: `PD leader ${leader}, ${healthy}/${total} members healthy`, healthy, total };
}

function pdState(view: TidbView, m: PlatformMember, ctx: ObserveContext): EngineMemberState | undefined {
  const serving = pdServing(view);
  const pm = pdMemberOf(view, m);
  if (!view.pd || !pm) {
    if (ctx.forcePd && view.pdAlive.has(m.name)) {
      return {
        role: 'follower',
        healthy: true,
        caughtUp: true,
        lag: 0,
        detail: `process answers; ${serving.detail}; force-upgrade replaces PD members regardless`,
      };
    }
    return undefined;
  }
  const leader = view.pd.members.leader;
  const role = pm.name === leader ? 'leader' : 'follower';
  const version = pm.binaryVersion ? normalizeTidbVersion(pm.binaryVersion) : undefined;
  const atMine = version === undefined || atVersion(version, m.version);
  const memberHealthy = view.pd.health.find((h) => h.name === pm.name)?.health === true;
  let healthy = serving.ok && memberHealthy && atMine;
  if (!healthy && ctx.forcePd && !serving.ok && view.pdAlive.has(m.name)) healthy = true;
  const problems = [
    ...(memberHealthy ? [] : ['unhealthy in PD /health']),
    ...(atMine ? [] : [`PD reports ${version}`]),
    ...(serving.ok ? [] : [serving.detail]),
  ];
  return {
    role,
    healthy,
    caughtUp: healthy,
    lag: 0,
    leaderCount: role === 'leader' ? 1 : 0,
    detail: `PD ${version ?? '?'}${role === 'leader' ? ', leader' : ''}${problems.length ? `; ${problems.join('; ')}` : ''}`,
  };
}

function storeState(view: TidbView, m: PlatformMember): EngineMemberState | undefined {
  const s = storeOf(view, m);
  const own = m.component === 'tikv' ? view.storeLeaders.get(m.name) : undefined;
  if (!s) {
    if (own === undefined) return undefined;
    return {
      role: 'follower',
      healthy: false,
      caughtUp: false,
      lag: 0,
      leaderCount: own,
      detail: 'not registered with PD (yet)',
    };
  }
  const leaders = own ?? s.leaderCount;
  const version = normalizeTidbVersion(s.version);
  const atMine = atVersion(version, m.version);
  const up = s.stateName === 'Up';
  const evicting = view.evictStores?.includes(s.id);
  const flash = m.component === 'tiflash' ? view.tiflashStatus.get(m.name) : undefined;
  const flashDetail =
    flash === undefined ? '' : typeof flash === 'string' ? `, store-status ${flash}` : `; ${flash.error}`;
  const serving = m.component !== 'tiflash' || flash === 'Running';
  const healthy = up && atMine && serving;
  return {
    role: 'follower',
    healthy,
    caughtUp: healthy,
    lag: 0,
    leaderCount: leaders,
    // Only TiKV is put in the evict-leader scheduler (TiFlash's learners never lead).
    ...(view.evictStores !== undefined && m.component === 'tikv' ? { drainInPlace: evicting === true } : {}),
    detail:
      `store ${s.id} ${s.stateName}, ${version}, ${leaders} leaders of ${s.regionCount} regions` +
      flashDetail +
      (evicting ? ', in the evict-leader scheduler' : '') +
      (atMine ? '' : `; PD still lists ${version}`),
  };
}

function tiproxyState(view: TidbView, m: PlatformMember): EngineMemberState | undefined {
  const seen = view.tiproxy.get(m.name);
  if (!seen || 'error' in seen) return undefined;
  return {
    role: 'none',
    healthy: seen.healthy,
    caughtUp: seen.healthy,
    lag: 0,
    detail: `TiProxy ${seen.detail}`,
  };
}

function pumpState(view: TidbView, m: PlatformMember): EngineMemberState | undefined {
  const p = pumpOf(view, m);
  if (!p) return undefined;
  const online = p.state === 'online';
  return {
    role: 'none',
    healthy: online && m.ready,
    caughtUp: online,
    lag: 0,
    detail: `pump ${p.nodeId} ${p.state}`,
  };
}

function tidbState(view: TidbView, m: PlatformMember): EngineMemberState | undefined {
  const seen = view.tidb.get(m.name);
  if (!seen || 'error' in seen) return undefined;
  const atMine = atVersion(seen.status.version, m.version);
  return {
    role: seen.info.isOwner ? 'leader' : 'none',
    healthy: atMine,
    caughtUp: atMine,
    lag: 0,
    detail: `TiDB ${seen.status.version}, ${seen.status.connections} connections${seen.info.isOwner ? ', DDL owner' : ''}`,
  };
}

function ticdcState(view: TidbView, m: PlatformMember, ctx: ObserveContext): EngineMemberState | undefined {
  const seen = view.ticdc.get(m.name);
  if (!seen || 'error' in seen) return undefined;
  const owner = [...view.ticdc.values()].find((x) => 'status' in x && x.status.isOwner);
  const ownerId = owner && 'status' in owner ? owner.status.id : undefined;
  const atMine = atVersion(normalizeTidbVersion(seen.status.version), m.version);
  const tables = seen.tables;
  const draining = ctx.captureDrains.get(seen.status.id);
  return {
    role: seen.status.isOwner ? 'leader' : 'none',
    healthy: atMine && seen.status.liveness === 0,
    caughtUp: atMine,
    lag: 0,
    ...(tables !== undefined ? { leaderCount: tables } : {}),
    ...(!seen.status.isOwner ? { drainInPlace: draining !== undefined && draining === ownerId } : {}),
    detail: `TiCDC ${seen.status.version}${seen.status.isOwner ? ', owner' : ''}${tables !== undefined ? `, ${tables} tables` : ''}`,
  };
}

/** Member states and cluster health. */
export function observation(
  view: TidbView,
  members: PlatformMember[],
  ctx: ObserveContext,
): EngineObservation {
  const states: Record<string, EngineMemberState> = {};
  for (const m of members) {
    let state: EngineMemberState | undefined;
    if (m.component === 'pd') state = pdState(view, m, ctx);
    else if (m.component === 'tikv' || m.component === 'tiflash') state = storeState(view, m);
    else if (m.component === 'tiproxy') state = tiproxyState(view, m);
    else if (m.component === 'pump') state = pumpState(view, m);
    else if (m.component === 'tidb') state = tidbState(view, m);
    else if (m.component === 'ticdc') state = ticdcState(view, m, ctx);
    else if (m.ready)
      state = {
        role: 'none',
        healthy: true,
        caughtUp: true,
        lag: 0,
        detail: 'no admin API read (pod readiness only)',
      };
    if (state) states[m.name] = state;
  }
  const pd = pdServing(view);
  const storesNotUp = (view.stores ?? []).filter((s) => s.stateName !== 'Up' && s.stateName !== 'Tombstone');
  const healthy = pd.ok && view.stores !== undefined && storesNotUp.length === 0;
  const detail = [
    pd.detail,
    view.stores === undefined
      ? `stores unknown (${view.storesError ?? 'no answer'})`
      : storesNotUp.length > 0
        ? `stores not Up: ${storesNotUp.map((s) => `${s.id} ${s.stateName}`).join(', ')}`
        : `${view.stores.length} stores Up`,
    ...(view.evictStores && view.evictStores.length > 0
      ? [`evict-leader scheduler on stores ${view.evictStores.join(', ')}`]
      : []),
  ].join('; ');
  return {
    members: states,
    health: {
      healthy,
      detail,
      facts: {
        pdLeader: view.pd?.members.leader ?? '',
        pdHealthy: pd.healthy,
        pdMembers: pd.total,
        storesUp: (view.stores ?? []).filter((s) => s.stateName === 'Up').length,
        evictLeaderStores: (view.evictStores ?? []).join(','),
        forcePd: ctx.forcePd,
      },
    },
  };
}
