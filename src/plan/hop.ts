/**
 * The version a planned component goes to in one hop of the plan's path, in one place for the
 * first pass (runner/start.ts) and every later hop (the runner). Pure.
 */
import type { PlannedComponent, VersionHop } from '../core/types.js';

/**
 * Target of `comp` in hop `hop` (0-based) of `path`; `null` when the component stays where it is
 * in that hop (a node pool the version skew policy lets wait while the control plane takes an
 * intermediate minor).
 *
 * - The plan's per-hop targets (`hopTargets`, one per hop of the path) when it has them.
 * - A path of one hop or none: the component's own version.
 * - Otherwise the hop's version, and on the last hop the component's own version (components on
 *   their own version, same-version rules aside, follow the final hop only).
 */
export function hopTarget(
  path: readonly VersionHop[],
  hop: number,
  comp: Pick<PlannedComponent, 'version' | 'hopTargets'>,
): string | null {
  if (path.length === 0) return comp.version;
  const at = Math.min(hop, path.length - 1);
  if (comp.hopTargets && comp.hopTargets.length === path.length) return comp.hopTargets[at] ?? null;
  if (path.length === 1) return comp.version;
  return hop === path.length - 1 ? comp.version : path[at]!.to;
}
