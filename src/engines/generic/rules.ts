/**
 * Rules of the `generic` engine: a StatefulSet whose database admin API Baton does not speak.
 * Each StatefulSet is one stateless component (no leadership, no quorum); any version change is
 * one rolling pass, downgrades included, because Baton knows nothing that would forbid them; pod
 * readiness is the only health signal.
 */
import type { EngineRules } from '../../core/rules.js';

/** The rules of the `generic` engine. */
export const genericRules: EngineRules = {
  name: 'generic',
  title: 'generic workload (pod readiness only)',
  // One rule, copied for every component the cluster has (one per StatefulSet).
  components: [{ name: 'app', topology: 'stateless', stage: 'cluster', prerequisites: [], quorum: false }],
  versions: {
    direct: () => ({ ok: true }),
    allowDowngrade: () => ({ ok: true }),
  },
  prechecks: [
    { name: 'all-pods-ready', description: 'every member pod exists, is running and is Ready' },
    { name: 'no-pod-failing', description: 'no member pod is crash-looping or failing to pull its image' },
  ],
  hooks: [],
  // Nothing leads, so nothing is left leading when a drain times out.
  drainTimeoutProceedSafe: true,
  stepEstimatesMs: { precheck: 100, drain: 0, replace: 5_000, verify: 10_000 },
};
