/**
 * DDL safety around the TiDB tier. Before the first TiDB server restarts: with smooth upgrade
 * (v7.1.2+ in v7.1, v7.4.0+) `POST /upgrade/start` puts the cluster in TiDB's upgrading state,
 * which pauses user DDL; without it, no DDL job may be running or queued (`ADMIN SHOW DDL JOBS`),
 * and the hook fails naming the job. After the last: `POST /upgrade/finish`. Both calls are
 * idempotent in TiDB ("duplicated operation"), so a hook repeated after a crash is harmless, and
 * `/upgrade/show` tells a resumed upgrade whether the cluster is still in the upgrading state.
 *
 * The DDL owner restarts last among the TiDB servers, after resigning (`POST /ddl/owner/resign`).
 */
import { OperationalError } from '../../core/errors.js';
import type { DrainResult } from '../../core/ports.js';
import type { MemberView, Snapshot, UpgradeSpec } from '../../core/types.js';
import { describePendingDdl, pendingDdl, smoothUpgrade } from './prechecks.js';
import { supportsSmoothUpgrade, type TidbClient } from './tidb-client.js';
import { adminEndpoint, type TidbView } from './view.js';

function answeringServer(view: TidbView, snapshot: Snapshot): string | undefined {
  const m = snapshot.members.find(
    (x) =>
      x.component === 'tidb' &&
      x.ready &&
      view.tidb.get(x.name) &&
      !('error' in (view.tidb.get(x.name) ?? {})),
  );
  return m ? adminEndpoint(m) : undefined;
}

/** `beforeComponent` for `tidb`. */
export async function beforeTidbTier(
  view: TidbView,
  snapshot: Snapshot,
  spec: UpgradeSpec,
  tidb: TidbClient,
): Promise<string> {
  if (smoothUpgrade(snapshot, spec)) {
    const ep = answeringServer(view, snapshot);
    if (!ep)
      throw new OperationalError(
        'tidb-unreachable',
        'no TiDB server answers: cannot start the smooth upgrade (POST /upgrade/start)',
      );
    const answer = await tidb.upgradeStart(ep);
    return `smooth upgrade: POST /upgrade/start: ${answer} (user DDL paused until /upgrade/finish)`;
  }
  const jobs = await pendingDdl(view, snapshot, tidb);
  if ('error' in jobs) throw new OperationalError('tidb-ddl-unknown', jobs.error);
  if (jobs.pending.length > 0)
    throw new OperationalError('tidb-ddl-running', describePendingDdl(jobs.pending));
  return 'no DDL job running or queued before the TiDB tier';
}

/** `afterComponent` for `tidb`: back to TiDB's normal state when the upgrade put it in upgrading. */
export async function afterTidbTier(view: TidbView, snapshot: Snapshot, tidb: TidbClient): Promise<string> {
  const servers = snapshot.members.filter((m) => m.component === 'tidb');
  if (!servers.some((m) => supportsSmoothUpgrade(m.version))) return 'no smooth upgrade to finish';
  const ep = answeringServer(view, snapshot);
  if (!ep)
    throw new OperationalError(
      'tidb-unreachable',
      'no TiDB server answers: cannot finish the smooth upgrade (POST /upgrade/finish)',
    );
  if ((await tidb.upgradeState(ep)) === 'normal')
    return 'the cluster is in its normal state: no /upgrade/finish needed';
  const answer = await tidb.upgradeFinish(ep);
  return `smooth upgrade: POST /upgrade/finish: ${answer} (user DDL runs again)`;
}

/** The DDL owner resigns before it restarts; other TiDB servers hold nothing. */
export async function resignDdlOwner(
  view: TidbView,
  member: MemberView,
  tidb: TidbClient,
): Promise<DrainResult> {
  const seen = view.tidb.get(member.name);
  if (!seen || 'error' in seen || !seen.info.isOwner)
    return { message: `${member.name} is not the DDL owner; nothing to move` };
  await tidb.resignDdlOwner(adminEndpoint(member) as string);
  return { message: `${member.name} resigned as DDL owner` };
}
