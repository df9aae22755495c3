/**
 * CockroachDB's version strings, read from the cluster rather than trusted from an image tag:
 * - `SHOW CLUSTER SETTING version` answers the active cluster version: `24.1` once a major is
 *   finalized, `24.1-upgrading-to-24.2-step-022` while the upgrade migrations of 24.2 run (the
 *   form of `roachpb.Version.String()` for the fence versions of `pkg/clusterversion`);
 * - a node's build tag (`build_tag` in `/api/v2/nodes/`, `build_info.tag` in `/_status/details`)
 *   is `v24.1.3` (or `v24.2.0-beta.1`).
 */
import { BadInputError } from '../../core/errors.js';

/** The active cluster version, split into the major it runs and the one it is upgrading to. */
export interface ClusterVersion {
  /** As the cluster printed it. */
  raw: string;
  /** `YY.N` of the finalized major. */
  major: string;
  /** Set while the upgrade migrations towards this major run (finalization in progress). */
  upgradingTo?: string;
}

const CLUSTER_VERSION = /^(\d+\.\d+)(?:-upgrading-to-(\d+\.\d+)-step-\d+|-\d+)?$/;

/** Parse `SHOW CLUSTER SETTING version`; BadInputError `cockroachdb-cluster-version` otherwise. */
export function parseClusterVersion(raw: string): ClusterVersion {
  const m = CLUSTER_VERSION.exec(raw.trim());
  if (!m) {
    throw new BadInputError(
      'cockroachdb-cluster-version',
      `the cluster reports version "${raw}", which is not a CockroachDB cluster version (YY.N)`,
    );
  }
  return { raw: raw.trim(), major: m[1]!, ...(m[2] ? { upgradingTo: m[2] } : {}) };
}

/** `v24.1.3` -> `24.1.3`; undefined when the tag is not a release tag. */
export function versionOfBuildTag(tag: string): string | undefined {
  const m = /^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$/.exec(tag.trim());
  return m?.[1];
}

/** `24.1.3` -> `24.1`: the major (CockroachDB's word for `YY.N`) of a release version. */
export function majorOf(version: string): string {
  const m = /^v?(\d+)\.(\d+)/.exec(version.trim());
  return m ? `${m[1]}.${m[2]}` : version;
}
