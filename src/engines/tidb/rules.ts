/**
 * TiDB version rules, as PingCAP documents them for TiDB Operator and TiUP:
 * - "all TiDB versions, including patch versions, currently do not support downgrade or rollback
 *   after upgrade";
 * - every component of a cluster runs the same version;
 * - a forward upgrade is one rolling pass, but the user must read the compatibility changes of every
 *   intermediate release ("if you upgrade from TiDB v6.4.0 to v6.5.2, you need to check the
 *   compatibility changes in v6.5.0, v6.5.1 and v6.5.2");
 * - TiDB Operator rolls PD, then TiFlash, then TiKV, then TiDB (TiCDC after TiDB), transferring PD
 *   leadership and evicting TiKV region leaders first, and pauses DDL around the TiDB tier.
 */
import type { EngineRules, RuleVerdict } from '../../core/rules.js';
import { compareVersions, parseVersion, type Version } from '../../core/version.js';
import { TIDB_RELEASE_CATALOG, catalogNotes } from './releases.js';

/** The rule PingCAP states in its upgrade guides, quoted in every refusal. */
export const TIDB_NO_DOWNGRADE =
  'all TiDB versions, including patch versions, currently do not support downgrade or rollback after upgrade';

/** Rule for the oldest clusters: TiUP and TiDB Operator upgrade v3.x only to v4.0 first. */
const MIN_DIRECT_FROM = parseVersion('v4.0.0');

/**
 * Published TiDB releases (ascending), from the release catalog: intermediate hops of a multi-step
 * path are chosen from them, and the plan lists the notes of every one an upgrade passes.
 */
export const TIDB_RELEASES: readonly string[] = TIDB_RELEASE_CATALOG.map((r) => r.version);

function direct(from: Version, to: Version): RuleVerdict {
  const c = compareVersions(from, to);
  if (c > 0) {
    return { ok: false, reason: `TiDB cannot go from ${from.raw} back to ${to.raw}: ${TIDB_NO_DOWNGRADE}` };
  }
  if (c < 0 && compareVersions(from, MIN_DIRECT_FROM) < 0 && compareVersions(to, 'v4.0.16') > 0) {
    return {
      ok: false,
      reason: `TiDB ${from.raw} is older than v4.0: upgrade it to v4.0 first (v4.0.16), then to ${to.raw}`,
    };
  }
  return { ok: true };
}

function allowDowngrade(from: Version, to: Version): RuleVerdict {
  return {
    ok: false,
    reason: `TiDB refuses ${from.raw} -> ${to.raw}: ${TIDB_NO_DOWNGRADE}; restore a backup taken before the upgrade instead`,
  };
}

/** TiDB (TiDB Operator / TiUP): PD, TiFlash, TiKV, TiDB, TiCDC; no downgrade; same version everywhere. */
export const tidbRules: EngineRules = {
  name: 'tidb',
  title: 'TiDB',
  components: [
    { name: 'pd', topology: 'raft', stage: 'cluster', prerequisites: [], quorum: true },
    // TiProxy routes client connections; it goes right after PD so it follows TiDB servers moving.
    // It has its own release line (pingcap/tiproxy v1.x): TiUP's `component_versions.tiproxy`,
    // TiDB Operator v2's TiProxyGroup `spec.template.spec.version` (examples/basic/05-tiproxy.yaml:
    // v1.3.1) and v1's `spec.tiproxy.version` (TidbCluster.TiProxyImage in
    // pkg/apis/pingcap/v1alpha1/tidbcluster.go: baseImage:version, spec.version only when unset).
    // Baton never gives it the TiDB version: it moves only to a version given for it.
    {
      name: 'tiproxy',
      topology: 'stateless',
      stage: 'cluster',
      prerequisites: ['pd'],
      quorum: false,
      ownVersion: `TiProxy is released on its own line (v1.x), not with TiDB`,
    },
    // TiDB Operator (v1.2 and later) rolls TiFlash before TiKV: a TiFlash replica must understand
    // what a newer TiKV sends it, never the other way round.
    { name: 'tiflash', topology: 'multi-raft', stage: 'cluster', prerequisites: ['pd'], quorum: false },
    {
      name: 'tikv',
      topology: 'multi-raft',
      stage: 'cluster',
      prerequisites: ['pd', 'tiflash'],
      quorum: true,
    },
    // Pump (TiDB Binlog) before the TiDB servers that write binlogs to it. TiDB Binlog is removed
    // in v8.4.0 (pingcap/docs releases/release-8.4.0.md, "Removed features": "Before you upgrade
    // your TiDB cluster to v8.4.0 or later versions, be sure to switch to TiCDC and PITR"; the
    // `--enable-binlog` TiDB flag and the pump/drainer packages are gone from v8.4.0).
    {
      name: 'pump',
      topology: 'stateless',
      stage: 'cluster',
      prerequisites: ['tikv'],
      quorum: false,
      removedIn: {
        version: 'v8.4.0',
        reason: `TiDB Binlog (Pump and Drainer) is removed in v8.4.0: switch incremental replication to TiCDC (and point-in-time recovery to PITR), remove Pump and Drainer from the cluster, then upgrade`,
      },
    },
    { name: 'tidb', topology: 'stateless', stage: 'cluster', prerequisites: ['tikv', 'pump'], quorum: false },
    { name: 'ticdc', topology: 'stateless', stage: 'cluster', prerequisites: ['tidb'], quorum: false },
  ],
  versions: {
    direct,
    allowDowngrade,
    releases: [...TIDB_RELEASES],
    notes: catalogNotes,
  },
  prechecks: [
    {
      name: 'pd-available',
      description:
        'PD has a leader and a healthy majority of members (force it to replace PD members regardless)',
    },
    {
      name: 'all-stores-up',
      description: 'every TiKV and TiFlash store is Up (none Disconnected, Down, Offline or Tombstone)',
    },
    { name: 'no-down-peers', description: 'no region has a down peer' },
    {
      name: 'no-leftover-scheduler',
      description: 'no evict-leader scheduler holds a store of this cluster before Baton adds its own',
    },
    { name: 'versions-uniform', description: 'each component runs one version (mixed versions are named)' },
    {
      name: 'no-ddl-running',
      description: 'no DDL job is running or queued (ADMIN SHOW DDL JOBS), unless smooth upgrade pauses DDL',
    },
  ],
  hooks: ['beforeUpgrade', 'beforeComponent', 'afterComponent', 'afterUpgrade'],
  uniformVersion: `TiDB Operator requires all components in the cluster to use the same version`,
  // TiDB Operator's own policy: after the evict-leader timeout it proceeds; the remaining region
  // leaders are re-elected by raft within an election timeout.
  drainTimeoutProceedSafe: true,
  // TiDB Operator's endEvictLeaderAfterUpgrade: 2/3 of the leaders before, skipped under 200,
  // at most tikv.waitLeaderTransferBackTimeout (400 s by default).
  leadershipReturn: { fraction: 2 / 3, minimum: 200, timeoutSeconds: 400 },
  stepEstimatesMs: { precheck: 2_000, hook: 1_000, drain: 60_000, replace: 60_000, verify: 30_000 },
};
