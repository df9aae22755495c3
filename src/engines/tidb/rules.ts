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
import type { EngineRules, RuleVerdict } from '../rules.js';
import { compareVersions, parseVersion, type Version } from '../../plan/version.js';

/** The rule PingCAP states in its upgrade guides, quoted in every refusal. */
export const TIDB_NO_DOWNGRADE =
  'all TiDB versions, including patch versions, currently do not support downgrade or rollback after upgrade';

/** Rule for the oldest clusters: TiUP and TiDB Operator upgrade v3.x only to v4.0 first. */
const MIN_DIRECT_FROM = parseVersion('v4.0.0');

/**
 * Published TiDB releases (ascending) whose compatibility changes a user must read when an upgrade
 * passes through them. Intermediate hops of a multi-step path are chosen from this list.
 */
export const TIDB_RELEASES: readonly string[] = [
  'v4.0.16',
  'v5.0.0',
  'v5.1.0',
  'v5.2.0',
  'v5.3.0',
  'v5.4.0',
  'v6.0.0',
  'v6.1.0',
  'v6.2.0',
  'v6.3.0',
  'v6.4.0',
  'v6.5.0',
  'v6.5.1',
  'v6.5.2',
  'v6.5.3',
  'v6.6.0',
  'v7.0.0',
  'v7.1.0',
  'v7.1.1',
  'v7.2.0',
  'v7.3.0',
  'v7.4.0',
  'v7.5.0',
  'v7.5.1',
  'v7.6.0',
  'v8.0.0',
  'v8.1.0',
  'v8.1.1',
  'v8.2.0',
  'v8.3.0',
  'v8.4.0',
  'v8.5.0',
];

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

function notes(v: Version): string[] {
  const tag = `${v.major}.${v.minor}.${v.patch}`;
  if (v.prerelease.length > 0) return [];
  const page = `https://docs.pingcap.com/tidb/stable/release-${tag}`;
  const lines = [`read the compatibility changes of v${tag}: ${page}#compatibility-changes`];
  if (v.patch === 0) lines.push(`read the deprecated features of v${tag}: ${page}#deprecated-features`);
  return lines;
}

/** TiDB (TiDB Operator / TiUP): PD, TiFlash, TiKV, TiDB, TiCDC; no downgrade; same version everywhere. */
export const tidbRules: EngineRules = {
  name: 'tidb',
  title: 'TiDB',
  components: [
    { name: 'pd', topology: 'raft', stage: 'cluster', prerequisites: [], quorum: true },
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
    { name: 'tidb', topology: 'stateless', stage: 'cluster', prerequisites: ['tikv'], quorum: false },
    { name: 'ticdc', topology: 'stateless', stage: 'cluster', prerequisites: ['tidb'], quorum: false },
  ],
  versions: {
    direct,
    allowDowngrade,
    releases: [...TIDB_RELEASES],
    notes,
  },
  prechecks: [
    { name: 'pd-quorum', description: 'PD has a leader and a healthy majority of members' },
    {
      name: 'all-stores-up',
      description: 'every TiKV and TiFlash store is Up (none Down, Offline or Disconnected)',
    },
    { name: 'no-ddl-running', description: 'no DDL job is running or queued (ADMIN SHOW DDL JOBS)' },
  ],
  hooks: ['beforeComponent', 'afterComponent', 'afterUpgrade'],
  uniformVersion: `TiDB Operator requires all components in the cluster to use the same version`,
  // TiDB Operator's own policy: after the evict-leader timeout it proceeds; the remaining region
  // leaders are re-elected by raft within an election timeout.
  drainTimeoutProceedSafe: true,
  stepEstimatesMs: { precheck: 2_000, hook: 1_000, drain: 60_000, replace: 60_000, verify: 30_000 },
};
