/**
 * Named prechecks of the simulated engine, computed from an observed snapshot the way a real
 * engine computes them from its admin API. Each engine's precheck names map to one of four
 * evaluations (members ready, quorum, caught up, versions uniform) over the components the check
 * is about; conditions the simulator does not model (running DDL, blocking PodDisruptionBudgets)
 * pass unless the cluster description lists them under `precheckFailures`.
 */
import type { MemberView, PrecheckResult, Snapshot } from '../../core/types.js';
import { isLeaderRole } from '../../core/types.js';
import type { ComponentRule, EngineRules } from '../../core/rules.js';

type Scope = (rule: ComponentRule) => boolean;
type Evaluation = 'ready' | 'quorum' | 'caught-up' | 'versions' | 'external';

const all: Scope = () => true;
const named =
  (...names: string[]): Scope =>
  (rule) =>
    names.includes(rule.name);
const multiRaft: Scope = (rule) => rule.topology === 'multi-raft';
const replicated: Scope = (rule) => rule.topology !== 'stateless';
const withQuorum: Scope = (rule) => rule.quorum;

/** How each known precheck name is evaluated. Unknown names fall back to "members ready" over all. */
const CHECKS: Record<string, { evaluation: Evaluation; scope: Scope; external?: string }> = {
  'all-members-ready': { evaluation: 'ready', scope: all },
  'all-nodes-live': { evaluation: 'ready', scope: all },
  'nodes-ready': { evaluation: 'ready', scope: all },
  'all-pods-ready': { evaluation: 'ready', scope: named('operator', 'rec') },
  'all-stores-up': { evaluation: 'ready', scope: multiRaft },
  quorum: { evaluation: 'quorum', scope: withQuorum },
  'pd-quorum': { evaluation: 'quorum', scope: named('pd') },
  'pd-available': { evaluation: 'quorum', scope: named('pd') },
  'no-down-peers': { evaluation: 'caught-up', scope: multiRaft },
  'api-server-healthy': { evaluation: 'quorum', scope: named('control-plane') },
  'cluster-quorum': { evaluation: 'quorum', scope: named('rec') },
  'replication-caught-up': { evaluation: 'caught-up', scope: replicated },
  'no-under-replicated-ranges': { evaluation: 'caught-up', scope: multiRaft },
  'databases-active': { evaluation: 'caught-up', scope: named('redb') },
  'versions-uniform': { evaluation: 'versions', scope: all },
  'no-ddl-running': { evaluation: 'external', scope: all, external: 'no DDL job is running or queued' },
  'no-leftover-scheduler': {
    evaluation: 'external',
    scope: all,
    external: 'no evict-leader scheduler left from before',
  },
  'pdb-allows-eviction': {
    evaluation: 'external',
    scope: all,
    external: 'every PodDisruptionBudget allows at least one disruption',
  },
};

function byComponent(snapshot: Snapshot, rules: EngineRules, scope: Scope): [ComponentRule, MemberView[]][] {
  return rules.components
    .filter(scope)
    .map((rule): [ComponentRule, MemberView[]] => [
      rule,
      snapshot.members.filter((m) => m.component === rule.name),
    ])
    .filter(([, ms]) => ms.length > 0);
}

function readyProblems(ms: MemberView[]): string[] {
  return ms.flatMap((m) => {
    if (!m.running) return [`${m.name} is not running`];
    if (!m.ready) return [`${m.name} is not ready${m.detail ? ` (${m.detail})` : ''}`];
    if (!m.engine) return [`${m.name} is unreachable`];
    if (!m.engine.healthy) return [`${m.name} is unhealthy`];
    return [];
  });
}

function evaluate(evaluation: Evaluation, groups: [ComponentRule, MemberView[]][]): string[] {
  const problems: string[] = [];
  for (const [rule, ms] of groups) {
    if (evaluation === 'ready') problems.push(...readyProblems(ms));
    if (evaluation === 'quorum') {
      const healthy = ms.filter((m) => m.ready && m.engine?.healthy);
      if (healthy.length * 2 <= ms.length) {
        problems.push(`${rule.name} has ${healthy.length} healthy of ${ms.length} members, no majority`);
      }
      if (
        (rule.topology === 'raft' || rule.topology === 'replication') &&
        !ms.some((m) => isLeaderRole(m.engine?.role))
      ) {
        problems.push(`${rule.name} has no ${rule.topology === 'raft' ? 'leader' : 'primary'}`);
      }
    }
    if (evaluation === 'caught-up') {
      for (const m of ms) {
        if (!m.engine) problems.push(`${m.name} is unreachable`);
        else if (!m.engine.caughtUp) problems.push(`${m.name} lags by ${m.engine.lag}`);
      }
    }
    if (evaluation === 'versions') {
      const versions = [...new Set(ms.map((m) => m.version))];
      if (versions.length > 1) problems.push(`${rule.name} runs mixed versions ${versions.join(', ')}`);
    }
  }
  return problems;
}

/**
 * Evaluate precheck `name` against `snapshot`. `failures` (from the cluster description) forces
 * a named check to fail with the given reason.
 */
export function evaluatePrecheck(
  name: string,
  snapshot: Snapshot,
  rules: EngineRules,
  failures: Record<string, string>,
): PrecheckResult {
  const forced = failures[name];
  if (forced !== undefined) return { name, ok: false, reason: forced };
  const check = CHECKS[name] ?? { evaluation: 'ready', scope: all };
  if (check.evaluation === 'external') return { name, ok: true, reason: check.external ?? 'ok' };
  const groups = byComponent(snapshot, rules, check.scope);
  const problems = evaluate(check.evaluation, groups);
  if (problems.length > 0) return { name, ok: false, reason: problems.join('; ') };
  const members = groups.reduce((n, [, ms]) => n + ms.length, 0);
  const scope = groups.map(([r]) => r.name).join(', ') || 'no component';
  const what: Record<Evaluation, string> = {
    ready: `all ${members} members of ${scope} are ready and healthy`,
    quorum: `${scope}: leader present and a healthy majority`,
    'caught-up': `all ${members} members of ${scope} are caught up`,
    versions: `each of ${scope} runs a single version`,
    external: '',
  };
  return { name, ok: true, reason: what[check.evaluation] };
}
