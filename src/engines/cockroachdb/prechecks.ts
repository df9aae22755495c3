/**
 * The prechecks of {@link cockroachdbRules}, computed from one look at the cluster. Each names the
 * nodes concerned and says how to fix what it found.
 */
import type { PrecheckResult, Snapshot, UpgradeSpec } from '../../core/types.js';
import { compareVersions, isVersion } from '../../core/version.js';
import { majorOf, versionOfBuildTag } from './cluster-version.js';
import { type CockroachView, livenessOf } from './observe.js';

function result(name: string, problems: string[], okReason: string, fix = ''): PrecheckResult {
  return problems.length === 0
    ? { name, ok: true, reason: okReason }
    : { name, ok: false, reason: `${problems.join('; ')}${fix ? `; ${fix}` : ''}` };
}

/** Whether the platform's version of a member (its image tag) names the binary the node reports. */
export function sameRelease(platformVersion: string, buildTag: string): boolean {
  const running = versionOfBuildTag(buildTag);
  const claimed = platformVersion.replace(/^v/, '');
  if (!running || !isVersion(claimed)) return false;
  // A bare major (`23.2`, an intermediate hop of a multi-major plan) is any patch of that major.
  if (/^\d+\.\d+$/.test(claimed)) return majorOf(running) === claimed;
  return compareVersions(running, claimed) === 0;
}

/** Every precheck, in the order of the rules. */
export function cockroachPrechecks(
  view: CockroachView,
  snapshot: Snapshot,
  spec: UpgradeSpec,
): PrecheckResult[] {
  const byName = new Map(view.reached.map((r) => [r.member.name, r]));
  const notLive: string[] = view.unreachable.map((u) => `${u.member.name} (${u.reason})`);
  for (const r of view.reached) {
    const liveness = livenessOf(view, r.nodeId);
    if (!r.readiness.ready || liveness !== 'LIVE') {
      notLive.push(
        `${r.member.name} (node ${r.nodeId}: ${liveness}${r.readiness.reason ? `, ${r.readiness.reason}` : ''})`,
      );
    }
  }
  const known = new Set(view.reached.map((r) => r.nodeId));
  for (const n of view.nodes) {
    if (!known.has(n.nodeId) && n.liveness !== 'DECOMMISSIONED' && n.liveness !== 'LIVE') {
      notLive.push(`node ${n.nodeId} (${n.liveness}, not run by the platform)`);
    }
  }
  const results: PrecheckResult[] = [
    result(
      'all-nodes-live',
      notLive,
      `all ${snapshot.members.length} nodes live and ready`,
      'bring them back (or decommission nodes that are gone) before upgrading',
    ),
  ];

  const ranges: string[] = [];
  if (view.underReplicated > 0) ranges.push(`${view.underReplicated} under-replicated range(s)`);
  if (view.unavailable > 0) ranges.push(`${view.unavailable} unavailable range(s)`);
  results.push(
    result(
      'no-under-replicated-ranges',
      ranges,
      'no range is under-replicated or unavailable',
      'wait for replication to recover (DB Console > Replication) before restarting a node',
    ),
  );

  const versions = new Map<string, string[]>();
  for (const r of view.reached)
    versions.set(r.buildTag, [...(versions.get(r.buildTag) ?? []), r.member.name]);
  results.push(
    view.reached.length === 0
      ? { name: 'versions-uniform', ok: false, reason: 'no node answered, so their versions are unknown' }
      : result(
          'versions-uniform',
          versions.size > 1
            ? [
                `nodes run different binaries (${[...versions].map(([t, ns]) => `${ns.join(', ')} on ${t}`).join('; ')})`,
              ]
            : [],
          `every node runs ${[...versions.keys()][0]}`,
          'finish or roll back the previous upgrade first',
        ),
  );

  const mismatched = view.reached
    .filter((r) => byName.has(r.member.name) && !sameRelease(r.member.version, r.buildTag))
    .map(
      (r) =>
        `${r.member.name} is said to run ${r.member.version} but node ${r.nodeId} reports ${r.buildTag || 'no build tag'}`,
    );
  results.push(
    result(
      'running-version-matches',
      mismatched,
      'every node reports the release its image names',
      'plan from the version the nodes report: fix the image tags or the version given',
    ),
  );

  const cv = view.clusterVersion;
  const binaryMajors = [
    ...new Set(view.reached.map((r) => majorOf(versionOfBuildTag(r.buildTag) ?? r.buildTag))),
  ];
  const pending: string[] = [];
  if (!cv)
    pending.push(`the cluster version could not be read (${view.clusterError ?? 'no node answered SQL'})`);
  else if (cv.upgradingTo)
    pending.push(`the cluster is still finalizing ${cv.upgradingTo} (cluster version ${cv.raw})`);
  else if (
    binaryMajors.length === 1 &&
    binaryMajors[0] !== cv.major &&
    ![binaryMajors[0], cv.major].includes(majorOf(spec.version))
  ) {
    pending.push(
      `nodes run ${binaryMajors[0]} but the cluster version is still ${cv.major} (cluster.preserve_downgrade_option = '${view.preserveDowngrade ?? ''}')`,
    );
  }
  results.push(
    result(
      'previous-upgrade-finalized',
      pending,
      cv ? `cluster version ${cv.raw} matches the nodes' binaries` : 'cluster version read',
      'finalize the previous major upgrade (`baton finalize`, or RESET CLUSTER SETTING cluster.preserve_downgrade_option) or roll it back first',
    ),
  );
  return results;
}
