/**
 * etcd version rules, as the etcd project documents them ("Upgrading etcd clusters and
 * applications", https://etcd.io/docs/v3.6/upgrades/):
 * - a patch upgrade within a minor version (3.4.20 -> 3.4.23) is free;
 * - a minor upgrade goes one minor at a time (3.4 -> 3.5, never 3.4 -> 3.6); skipping a minor "is
 *   not supported and will likely fail";
 * - 3.5 -> 3.6 needs every member on 3.5.26 or later first (3.5.24 through 3.5.26 fix upgrade
 *   blockers such as the "too many learner members" failure), so a path into 3.6 passes 3.5.26;
 * - a release with different `+build` metadata (`3.4.23` -> `3.4.23+r1`) is the same binary with
 *   another configuration: a rolling restart, always allowed;
 * - downgrades across minors are refused. etcd 3.5+ can go back one minor only through its own
 *   downgrade API (`etcdctl downgrade enable`, which rewrites the cluster version before members
 *   are swapped); Baton does not drive that API, so it never swaps a member to an older minor.
 *   A patch downgrade within the same minor uses the same storage format and is allowed.
 */
import type { EngineRules, RuleVerdict } from '../../core/rules.js';
import { compareVersions, series, type Version } from '../../core/version.js';

/** Minor releases used to build multi-step paths, ascending (see the module comment for 3.5.26). */
export const ETCD_RELEASES: readonly string[] = ['3.3.0', '3.4.0', '3.5.0', '3.5.26', '3.6.0'];

/** Lowest patch of a minor that may move on to the next minor, where etcd documents one. */
export const ETCD_MIN_PATCH_BEFORE_NEXT_MINOR: Readonly<Record<string, string>> = { '3.5': '3.5.26' };

const OK: RuleVerdict = { ok: true };

/** One rolling pass: same minor (patch or build label), or exactly one minor forward. */
function direct(from: Version, to: Version): RuleVerdict {
  if (compareVersions(to, from) < 0) return allowDowngrade(from, to);
  if (series(from) === series(to)) return OK;
  if (to.major !== from.major) {
    return {
      ok: false,
      reason: `etcd ${from.major}.x cannot become ${to.major}.x by a rolling upgrade; etcd has no supported cross-major upgrade`,
    };
  }
  if (to.minor !== from.minor + 1) {
    const next = `${from.major}.${from.minor + 1}`;
    return {
      ok: false,
      reason: `etcd upgrades one minor version at a time: ${series(from)} -> ${series(to)} skips ${next}; upgrade to ${next} first`,
    };
  }
  const minimum = ETCD_MIN_PATCH_BEFORE_NEXT_MINOR[series(from)];
  if (minimum && compareVersions(from, minimum) < 0) {
    return {
      ok: false,
      reason: `etcd ${series(to)} needs every member on ${minimum} or later first (etcd ${series(to)} upgrade guide); upgrade to ${minimum} first`,
    };
  }
  return OK;
}

/** Patch downgrades within a minor only; see the module comment for why minors are refused. */
function allowDowngrade(from: Version, to: Version): RuleVerdict {
  if (series(from) === series(to)) return OK;
  return {
    ok: false,
    reason: `etcd ${series(from)} cannot be rolled to ${series(to)} by swapping binaries: etcd goes back one minor only through its downgrade API (etcdctl downgrade enable ${series(to)}), which Baton does not drive; run it by hand or restore a snapshot taken before the upgrade`,
  };
}

function notes(v: Version): string[] {
  if (v.major !== 3 || v.patch !== 0 || v.prerelease.length > 0) return [];
  const s = series(v);
  const guide = `https://etcd.io/docs/v${s}/upgrades/upgrade_${v.major}_${v.minor}/`;
  const out = [
    `read "Upgrade etcd from ${v.major}.${v.minor - 1} to ${s}" before the first member moves: ${guide}`,
  ];
  if (s === '3.5') {
    out.push(
      'etcd 3.5: a cluster with auth enabled cannot be rolled from 3.4 (the WAL format of auth entries changed)',
    );
  }
  if (s === '3.6') {
    out.push(
      'etcd 3.6 drops the v2 store: if members run with --enable-v2, check for custom v2 data (etcdutl check v2store) and migrate it first',
    );
  }
  return out;
}

/** etcd: one raft component, minor-by-minor upgrades, no finalization. */
export const etcdRules: EngineRules = {
  name: 'etcd',
  title: 'etcd',
  components: [{ name: 'etcd', topology: 'raft', stage: 'cluster', prerequisites: [], quorum: true }],
  versions: {
    direct,
    allowDowngrade,
    releases: [...ETCD_RELEASES],
    notes,
  },
  prechecks: [
    {
      name: 'all-members-healthy',
      description: 'every member answers its status call without errors and knows the leader',
    },
    {
      name: 'quorum',
      description: 'the cluster keeps a majority of voting members while one member restarts',
    },
    { name: 'leader-elected', description: 'a leader is elected and every reachable member agrees on it' },
    { name: 'no-alarms', description: 'no alarm (NOSPACE, CORRUPT) is raised on any member' },
    { name: 'versions-uniform', description: 'every member runs the same etcd server version' },
  ],
  hooks: [],
  // A leader stopped with SIGTERM hands leadership to a follower itself before it exits, so going
  // on after a move-leader timeout costs at most one election timeout of unavailability.
  drainTimeoutProceedSafe: true,
  defaultPort: 2379,
  // Measured on a two-core machine with a 3-member local cluster (engine integration tests and
  // `baton demo --engine etcd`): prechecks about 0.1 s, move-leader 50-150 ms, a graceful stop and
  // start 0.2-0.4 s, ready and caught up within one or two runner polls (0.5 s each).
  stepEstimatesMs: {
    precheck: 150,
    drain: 200,
    replace: 300,
    verify: 800,
  },
};
