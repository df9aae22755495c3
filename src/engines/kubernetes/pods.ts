/**
 * What a node's drain does with each pod on it, and what a drain would run into right now, as pure
 * functions of the objects read from the API server. The pod filters follow kubectl's drain
 * (staging/src/k8s.io/kubectl/pkg/drain/filters.go): mirror pods and DaemonSet pods stay, finished
 * pods go without an eviction, pods no controller recreates and pods with emptyDir data block the
 * drain unless the spec says otherwise (kubectl's --force and --delete-emptydir-data).
 * PodDisruptionBudgets are matched the way the disruption controller does
 * (pkg/controller/disruption): same namespace, label selector, `status.disruptionsAllowed`.
 */
import type { V1LabelSelector, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { DrainOptions } from '../../api/nodes.js';

/** The annotation of a static pod's mirror (kubelet: `kubernetes.io/config.mirror`). */
export const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

/** What the drain does with one pod. */
export type PodAction =
  /** Left on the node: a mirror pod, a DaemonSet pod, a pod already being deleted. */
  | 'skip'
  /** Through the Eviction API (policy/v1), so PodDisruptionBudgets decide. */
  | 'evict'
  /** Deleted without an eviction: a finished pod, or the spec says so. */
  | 'delete'
  /** Not touched: the drain policy refuses it, so the node cannot be emptied. */
  | 'refuse';

/** A pod on a node and what the drain does with it, with why. */
export interface PodPlan {
  pod: V1Pod;
  action: PodAction;
  reason: string;
}

/** `namespace/name` of an object. */
export function keyOf(o: { metadata?: { namespace?: string; name?: string } }): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

/** The controller owner reference of a pod, if any. */
export function controllerOf(pod: V1Pod): { kind: string; name: string } | undefined {
  const ref = pod.metadata?.ownerReferences?.find((r) => r.controller === true);
  return ref ? { kind: ref.kind, name: ref.name } : undefined;
}

function finished(pod: V1Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

function hasLocalStorage(pod: V1Pod): boolean {
  return (pod.spec?.volumes ?? []).some((v) => v.emptyDir !== undefined && v.emptyDir !== null);
}

/** What the drain does with `pod` under `opts` (kubectl's filters, in kubectl's order). */
export function planPod(pod: V1Pod, opts: DrainOptions): PodPlan {
  const plan = (action: PodAction, reason: string): PodPlan => ({ pod, action, reason });
  if (pod.metadata?.deletionTimestamp) return plan('skip', 'already being deleted');
  const owner = controllerOf(pod);
  if (owner?.kind === 'DaemonSet' && !finished(pod)) return plan('skip', 'DaemonSet pod');
  if (pod.metadata?.annotations?.[MIRROR_ANNOTATION] !== undefined) return plan('skip', 'mirror pod');
  if (finished(pod)) return plan('delete', `finished (${pod.status?.phase})`);
  if (hasLocalStorage(pod) && opts.localStorage === 'refuse') {
    return plan('refuse', 'has emptyDir data (drain.localStorage: refuse)');
  }
  if (!owner) {
    return opts.podsWithoutController === 'delete'
      ? plan('delete', 'no controller recreates it (drain.podsWithoutController: delete)')
      : plan('refuse', 'no controller recreates it (drain.podsWithoutController: refuse)');
  }
  return plan('evict', hasLocalStorage(pod) ? 'evicted, losing its emptyDir data' : 'evicted');
}

/** Whether `labels` match a Kubernetes label selector (matchLabels and matchExpressions). */
export function selectorMatches(
  selector: V1LabelSelector | undefined,
  labels: Record<string, string>,
): boolean {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(value!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(value!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** The PodDisruptionBudgets that cover `pod` (same namespace, selector matches; an empty selector matches none). */
export function budgetsOf(pod: V1Pod, pdbs: V1PodDisruptionBudget[]): V1PodDisruptionBudget[] {
  const labels = pod.metadata?.labels ?? {};
  return pdbs.filter((b) => {
    if (b.metadata?.namespace !== pod.metadata?.namespace) return false;
    const sel = b.spec?.selector;
    const empty = !sel || (!sel.matchLabels && !sel.matchExpressions);
    return !empty && selectorMatches(sel, labels);
  });
}

/** A PodDisruptionBudget that would refuse an eviction now, with the pods behind the refusal. */
export interface BlockingBudget {
  budget: string;
  allowed: number;
  pods: string[];
}

/**
 * The drain simulation: every PodDisruptionBudget that would refuse an eviction of a pod in
 * `plans` right now (`status.disruptionsAllowed` below 1, as the Eviction API answers 429), named
 * with the pods of the plans behind it. A budget allowing one disruption lets the drain go on: its
 * next eviction waits until the evicted pod is back elsewhere (the drain is retried).
 */
export function blockingBudgets(plans: PodPlan[], pdbs: V1PodDisruptionBudget[]): BlockingBudget[] {
  const wanted = new Map<string, { budget: V1PodDisruptionBudget; pods: string[] }>();
  for (const p of plans) {
    if (p.action !== 'evict') continue;
    for (const b of budgetsOf(p.pod, pdbs)) {
      const key = keyOf(b);
      const entry = wanted.get(key) ?? { budget: b, pods: [] };
      entry.pods.push(keyOf(p.pod));
      wanted.set(key, entry);
    }
  }
  const out: BlockingBudget[] = [];
  for (const [key, { budget, pods }] of wanted) {
    const allowed = budget.status?.disruptionsAllowed ?? 0;
    if (allowed < 1) out.push({ budget: key, allowed, pods: pods.sort() });
  }
  return out.sort((a, b) => a.budget.localeCompare(b.budget));
}
