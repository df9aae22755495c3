/**
 * Which Kubernetes versions each Redis Enterprise operator release supports: the "Community
 * Kubernetes" table of "Supported Kubernetes distributions" (redis/docs,
 * content/operate/kubernetes/reference/supported_k8s_distributions.md, the version that lists
 * operator releases 6.2.4-1 to 7.8.4-8). Supported and Deprecated both count as supported (a
 * deprecated version still is, per the page); End of life and blank cells do not. Releases after
 * 7.8.4-8 (7.22, 8.0) are not in that table, so Baton has no support data for them and says so.
 */

/** One operator release and the Kubernetes minors it supports. */
export interface OperatorRelease {
  operator: string;
  kubernetes: string[];
}

function minors(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => `1.${from + i}`);
}

/** Newest first, as the table lists them. */
export const OPERATOR_K8S_SUPPORT: readonly OperatorRelease[] = [
  { operator: '7.8.4-8', kubernetes: minors(28, 31) },
  { operator: '7.8.2-6', kubernetes: minors(28, 31) },
  { operator: '7.4.6-2', kubernetes: minors(26, 30) },
  { operator: '7.4.2-12', kubernetes: minors(26, 29) },
  { operator: '7.4.2-2', kubernetes: minors(26, 29) },
  { operator: '7.2.4-12', kubernetes: minors(24, 28) },
  { operator: '7.2.4-7', kubernetes: minors(24, 27) },
  { operator: '7.2.4-2', kubernetes: minors(24, 27) },
  { operator: '6.4.2-8', kubernetes: minors(23, 27) },
  { operator: '6.4.2-6', kubernetes: minors(23, 27) },
  { operator: '6.4.2-5', kubernetes: minors(22, 26) },
  { operator: '6.4.2-4', kubernetes: minors(22, 26) },
  { operator: '6.2.18-41', kubernetes: minors(22, 25) },
  { operator: '6.2.18-3', kubernetes: minors(22, 25) },
  { operator: '6.2.12-1', kubernetes: minors(21, 24) },
  { operator: '6.2.10-45', kubernetes: minors(21, 24) },
  { operator: '6.2.10-34', kubernetes: minors(19, 23) },
  { operator: '6.2.10-4', kubernetes: minors(18, 22) },
  { operator: '6.2.8-15', kubernetes: minors(18, 22) },
  { operator: '6.2.8-11', kubernetes: minors(18, 22) },
  { operator: '6.2.8-2', kubernetes: minors(18, 21) },
  { operator: '6.2.4-1', kubernetes: minors(16, 21) },
];

/** `1.29.4` / `v1.29.4-eks-1` -> `1.29`. */
export function kubernetesMinor(version: string): string {
  const m = /^v?(\d+)\.(\d+)/.exec(version.trim());
  return m ? `${m[1]}.${m[2]}` : version;
}

/** The support row of an exact operator release, or undefined when the table does not list it. */
export function operatorRelease(version: string): OperatorRelease | undefined {
  const v = version.replace(/^v/, '');
  return OPERATOR_K8S_SUPPORT.find((r) => r.operator === v);
}

/** `7.4.6-2` -> `7.4`. */
export function operatorSeries(version: string): string {
  const m = /^v?(\d+)\.(\d+)/.exec(version);
  return m ? `${m[1]}.${m[2]}` : version;
}

/**
 * The Kubernetes minors a release supports: its own row when listed, else (a release of a series
 * the table knows, e.g. a series target `7.4`) the newest listed release of that series.
 */
export function supportedKubernetes(version: string): { minors: string[]; source: string } | undefined {
  const exact = operatorRelease(version);
  if (exact) return { minors: exact.kubernetes, source: exact.operator };
  const series = operatorSeries(version);
  const newest = OPERATOR_K8S_SUPPORT.find((r) => operatorSeries(r.operator) === series);
  return newest ? { minors: newest.kubernetes, source: newest.operator } : undefined;
}
