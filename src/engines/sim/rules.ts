/**
 * Rules of the generic simulated engine `sim`: one raft-style component `db` (one leader, a quorum
 * of voters), any forward version in one pass, no downgrade, no finalization. It exists so the
 * runner can be exercised on the simulated platform without the quirks of a real database.
 */
import type { EngineRules } from '../../core/rules.js';
import { compareVersions } from '../../core/version.js';

/** The generic leader/follower engine of the simulator. */
export const simRules: EngineRules = {
  name: 'sim',
  title: 'Simulated leader/follower database',
  components: [{ name: 'db', topology: 'raft', stage: 'cluster', prerequisites: [], quorum: true }],
  versions: {
    direct: (from, to) =>
      compareVersions(from, to) <= 0
        ? { ok: true }
        : {
            ok: false,
            reason: `the sim engine does not downgrade (${from.raw} -> ${to.raw}); pick a newer version`,
          },
    allowDowngrade: (from, to) => ({
      ok: false,
      reason: `the sim engine does not downgrade (${from.raw} -> ${to.raw}); pick a newer version`,
    }),
  },
  prechecks: [
    { name: 'all-members-ready', description: 'every member is running, Ready and reachable' },
    { name: 'quorum', description: 'every quorum component has a leader and a healthy majority' },
    { name: 'replication-caught-up', description: 'every follower is caught up with its leader' },
  ],
  hooks: [],
  // A raft leader that stops while leading is replaced by an election within one election timeout.
  drainTimeoutProceedSafe: true,
  stepEstimatesMs: { precheck: 100, drain: 1_000, replace: 5_000, verify: 4_000 },
};
