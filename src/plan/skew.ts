/**
 * Version skew between components: a component that follows another (a Kubernetes node pool follows
 * the control plane) is never newer than it and at most `maxMinorsBehind` minors older. On a
 * multi-step path the follower then moves only in the hops where staying would break the skew, and
 * in the last hop, so a worker node is drained as few times as the policy allows. Pure.
 */
import { BadInputError } from '../core/errors.js';
import type { EngineRules, VersionSkewRule } from '../core/rules.js';
import type { VersionHop } from '../core/types.js';
import { versionHop } from './path.js';
import { atVersion, compareVersions, parseVersion } from '../core/version.js';

/** How far apart two versions are in minors (same major), or Infinity across majors. */
export function minorsBetween(older: string, newer: string): number {
  const a = parseVersion(older);
  const b = parseVersion(newer);
  if (a.major !== b.major) return Infinity;
  return b.minor - a.minor;
}

/** A follower's passes along its leader's path: where it moves and where it stays. */
export interface SkewHops {
  /** Target in each hop of the leader's path, `null` where the follower stays. */
  hopTargets: (string | null)[];
  /** The follower's own passes (only the hops where it moves). */
  path: VersionHop[];
}

/**
 * The hops of a follower at `from` that must end at `target`, along `leaderTargets` (the leader's
 * version after each hop of the plan's path; the last one is the leader's own target). The follower
 * moves in hop h (to `leaderTargets[h]`) when h is the last hop or when staying would leave it more
 * than `rule.maxMinorsBehind` minors behind the leader after hop h + 1; it never moves to a version
 * at or below the one it has. Throws BadInputError `version-skew` when the follower's target is newer
 * than the leader's (a kubelet newer than the API server).
 */
export function skewHops(
  rules: EngineRules,
  rule: VersionSkewRule & { component: string },
  from: string,
  target: string,
  leaderTargets: string[],
): SkewHops {
  const leaderEnd = leaderTargets[leaderTargets.length - 1];
  if (leaderEnd !== undefined && compareVersions(target, leaderEnd) > 0) {
    throw new BadInputError(
      'version-skew',
      `${rule.component} cannot go to ${target}: it would be newer than ${rule.follows} (${leaderEnd}), which the version skew policy forbids; give ${rule.component} a target at or below ${leaderEnd}`,
    );
  }
  const hopTargets: (string | null)[] = [];
  const path: VersionHop[] = [];
  let at = from;
  leaderTargets.forEach((leaderAfter, h) => {
    const last = h === leaderTargets.length - 1;
    const next = leaderTargets[h + 1];
    const want = last ? target : leaderAfter;
    const mustMove = last || (next !== undefined && minorsBetween(at, next) > rule.maxMinorsBehind);
    if (!mustMove || atVersion(at, want) || compareVersions(want, at) <= 0) {
      hopTargets.push(last && atVersion(at, want) ? want : null);
      return;
    }
    path.push(versionHop(rules, at, want));
    hopTargets.push(want);
    at = want;
  });
  return { hopTargets, path };
}
