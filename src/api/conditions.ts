/**
 * "Is this pod (or node) ready?", decided in one place for the Kubernetes platform, the engines that
 * read pods and nodes, and the operator: the object's `Ready` condition is `True`, as kubelet and the
 * node lifecycle controller report it (a pod's `status.phase` alone says nothing about readiness).
 */

/** The part of a Pod or Node these functions read. */
export interface WithConditions {
  status?: {
    conditions?: { type: string; status: string; lastTransitionTime?: Date | string }[];
  };
}

/** Whether the object's `Ready` condition is `True`. */
export function isReady(obj: WithConditions | undefined): boolean {
  return obj?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/**
 * Since when (ms since the epoch) the object is Ready: the `Ready` condition's last transition, 0
 * when it is Ready but the time is unknown, undefined when it is not Ready.
 */
export function readySince(obj: WithConditions | undefined): number | undefined {
  const c = obj?.status?.conditions?.find((x) => x.type === 'Ready');
  if (!c || c.status !== 'True') return undefined;
  const t = c.lastTransitionTime ? new Date(c.lastTransitionTime).getTime() : NaN;
  return Number.isFinite(t) ? t : 0;
}
