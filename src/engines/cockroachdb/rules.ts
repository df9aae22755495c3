/**
 * CockroachDB version rules, as Cockroach Labs documents them ("Upgrade CockroachDB self-hosted"):
 * - a patch upgrade within a major version (24.1.3 -> 24.1.5) is free and needs no finalization;
 * - a major-version upgrade goes one major at a time, except that since 2024 every second major is
 *   an optional Innovation release: from a Regular release the next major or the next Regular
 *   release may follow (24.1 -> 24.2 or 24.1 -> 24.3), from an Innovation release only the next
 *   Regular release;
 * - before a major upgrade `cluster.preserve_downgrade_option` is set to the old major so the
 *   cluster can be rolled back by the same rolling procedure with the old binary; finalizing
 *   (`RESET CLUSTER SETTING cluster.preserve_downgrade_option`) makes the upgrade permanent.
 */
import type { EngineRules, RuleVerdict } from '../../core/rules.js';
import { compareVersions, series, type Version } from '../../core/version.js';

/** Major versions of CockroachDB in release order ("major" is CockroachDB's word for `YY.N`). */
export const COCKROACHDB_MAJORS: readonly string[] = [
  '22.1',
  '22.2',
  '23.1',
  '23.2',
  '24.1',
  '24.2',
  '24.3',
  '25.1',
  '25.2',
  '25.3',
  '25.4',
];

/** Innovation releases: optional, may be skipped from the Regular release before them. */
export const COCKROACHDB_INNOVATION: readonly string[] = ['24.2', '25.1', '25.3'];

const OK: RuleVerdict = { ok: true };

function majorIndex(v: Version): number {
  return COCKROACHDB_MAJORS.indexOf(series(v));
}

/**
 * Whether a cluster on major `from` may move to major `to` in one rolling pass, forward only.
 * Both must be known majors (an unknown major cannot be placed in the release order).
 */
function majorStep(from: Version, to: Version): RuleVerdict {
  const i = majorIndex(from);
  const j = majorIndex(to);
  const fromSeries = series(from);
  const toSeries = series(to);
  if (i < 0 || j < 0) {
    const unknown = i < 0 ? fromSeries : toSeries;
    return {
      ok: false,
      reason: `CockroachDB ${unknown} is not a known major version (known: ${COCKROACHDB_MAJORS.join(', ')}); use a listed version`,
    };
  }
  if (j === i + 1) return OK;
  const skipped = COCKROACHDB_MAJORS.slice(i + 1, j);
  const fromInnovation = COCKROACHDB_INNOVATION.includes(fromSeries);
  if (
    j === i + 2 &&
    !fromInnovation &&
    !COCKROACHDB_INNOVATION.includes(toSeries) &&
    skipped.every((s) => COCKROACHDB_INNOVATION.includes(s))
  ) {
    return OK;
  }
  const next = COCKROACHDB_MAJORS[i + 1];
  return {
    ok: false,
    reason:
      `CockroachDB upgrades one major version at a time (an Innovation release may be skipped only between two Regular releases): ` +
      `${fromSeries} -> ${toSeries} skips ${skipped.join(', ')}; upgrade to ${next} first`,
  };
}

/** One rolling pass: patch within a major (either way), one major forward, or one major back. */
function direct(from: Version, to: Version): RuleVerdict {
  if (series(from) === series(to)) return OK;
  if (compareVersions(from, to) < 0) return majorStep(from, to);
  const back = majorStep(to, from);
  if (back.ok) return OK;
  return {
    ok: false,
    reason: `CockroachDB rolls back only to the major version it was upgraded from, before finalization: ${series(from)} -> ${series(to)} is not such a step`,
  };
}

/**
 * Downgrades: a patch downgrade within a major is allowed; across majors only back to the major
 * the cluster was upgraded from, and only while the upgrade is not finalized (the runner enforces
 * the finalization part; this rule only knows versions).
 */
function allowDowngrade(from: Version, to: Version): RuleVerdict {
  if (series(from) === series(to)) return OK;
  const back = majorStep(to, from);
  if (back.ok) return OK;
  return {
    ok: false,
    reason: `CockroachDB can only roll back to the previous major version (${series(from)} cannot go back to ${series(to)}); after finalization no rollback is possible, restore from a backup instead`,
  };
}

function notes(v: Version): string[] {
  const s = series(v);
  if (v.patch !== 0 || v.prerelease.length > 0 || !COCKROACHDB_MAJORS.includes(s)) return [];
  const kind = COCKROACHDB_INNOVATION.includes(s) ? 'Innovation' : 'Regular';
  return [
    `read the "Backward-incompatible changes" section of the CockroachDB v${s}.0 release notes (${kind} release): https://www.cockroachlabs.com/docs/releases/v${s}#v${s}-0`,
  ];
}

/** CockroachDB: one multi-raft component, major-by-major upgrades with finalization. */
export const cockroachdbRules: EngineRules = {
  name: 'cockroachdb',
  title: 'CockroachDB',
  components: [
    { name: 'cockroachdb', topology: 'multi-raft', stage: 'cluster', prerequisites: [], quorum: true },
  ],
  versions: {
    direct,
    allowDowngrade,
    releases: [...COCKROACHDB_MAJORS],
    notes,
  },
  prechecks: [
    {
      name: 'all-nodes-live',
      description: 'every node is live and not decommissioning (cockroach node status)',
    },
    {
      name: 'no-under-replicated-ranges',
      description: 'no range is under-replicated or unavailable (ranges_underreplicated = 0)',
    },
    {
      name: 'versions-uniform',
      description: 'every node runs the same version (no earlier upgrade or rollback left half-done)',
    },
    {
      name: 'running-version-matches',
      description: "every node's build tag names the release the platform says it runs (the image tag)",
    },
    {
      name: 'previous-upgrade-finalized',
      description:
        'the cluster version matches the binaries (a previous major upgrade is finalized or rolled back)',
    },
  ],
  hooks: ['beforeUpgrade'],
  finalization: {
    // Only a forward major needs it: rolling back to the previous major is what it keeps possible.
    required: (from, to) => compareVersions(from, to) < 0 && series(from) !== series(to),
    description:
      'a major-version upgrade is finalized by RESET CLUSTER SETTING cluster.preserve_downgrade_option; until then it can be rolled back to the previous major',
  },
  // Proceeding after a lease-transfer timeout stops a node still holding leases; ranges recover
  // only after the lease expires (about 9 s), so it is not treated as safe.
  defaultPort: 26257,
  drainTimeoutProceedSafe: false,
  stepEstimatesMs: {
    precheck: 2_000,
    hook: 1_000,
    drain: 30_000,
    replace: 60_000,
    verify: 30_000,
    finalize: 5_000,
  },
};
