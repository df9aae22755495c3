/**
 * PostgreSQL streaming replication: what may be rolled and what must be checked first. Pure.
 *
 * A rolling restart works only while every member can read the others' WAL and data files, which
 * PostgreSQL guarantees within a major release (17.5 <-> 17.6 share the on-disk format). A new major
 * changes the catalog and needs pg_upgrade or logical replication, so it is refused, never rolled.
 */
import type { EngineRules, RuleVerdict } from '../../core/rules.js';
import type { Version } from '../../core/version.js';

/** Names of the PostgreSQL prechecks, in the order they run. */
export const POSTGRES_PRECHECKS = {
  allMembersUp: 'all-members-up',
  primaryUnique: 'primary-unique',
  standbysStreaming: 'standbys-streaming',
  lagUnderThreshold: 'replication-lag-under-threshold',
} as const;

/**
 * The major release line of a version: `17` for 17.x, `9.6` for 9.6.x (before PostgreSQL 10 the
 * major release was the first two numbers).
 */
export function majorLine(v: Version): string {
  return v.major >= 10 ? String(v.major) : `${v.major}.${v.minor}`;
}

function sameMajor(from: Version, to: Version): RuleVerdict {
  if (majorLine(from) === majorLine(to)) return { ok: true };
  return {
    ok: false,
    reason:
      `PostgreSQL ${from.raw} -> ${to.raw} changes the major release (${majorLine(from)} -> ${majorLine(to)}): ` +
      `the on-disk format differs, so it needs pg_upgrade or logical replication to a new cluster, not a rolling restart`,
  };
}

/**
 * Rules of the PostgreSQL engine: one `postgres` component replicating by WAL streaming (no quorum:
 * a standby may stop without the primary losing writes). Minor upgrades and downgrades within a
 * major roll; `+build` labels (`17.6+r1`) are configuration-only rolling restarts; a major is refused.
 */
export const postgresRules: EngineRules = {
  name: 'postgres',
  title: 'PostgreSQL (streaming replication)',
  components: [
    { name: 'postgres', topology: 'replication', stage: 'cluster', prerequisites: [], quorum: false },
  ],
  versions: {
    direct: sameMajor,
    allowDowngrade: sameMajor,
  },
  prechecks: [
    { name: POSTGRES_PRECHECKS.allMembersUp, description: 'every member is running and answers SQL' },
    {
      name: POSTGRES_PRECHECKS.primaryUnique,
      description: 'exactly one member is out of recovery (the primary) and it accepts writes',
    },
    {
      name: POSTGRES_PRECHECKS.standbysStreaming,
      description:
        'every standby streams WAL from the current primary (pg_stat_wal_receiver status streaming)',
    },
    {
      name: POSTGRES_PRECHECKS.lagUnderThreshold,
      description: 'every standby has replayed WAL to within the lag threshold of the primary',
    },
  ],
  hooks: [],
  // Stopping the primary without a switchover stops all writes until it is back.
  drainTimeoutProceedSafe: false,
  defaultPort: 5432,
  stepEstimatesMs: { precheck: 200, drain: 1500, replace: 2000, verify: 1000, soak: 0 },
};
