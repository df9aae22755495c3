/**
 * PodDisruptionBudgets and the Eviction API. The disruption controller keeps each PDB's status
 * (`currentHealthy`, `desiredHealthy`, `disruptionsAllowed`, `expectedPods`) up to date; an
 * eviction recomputes the same numbers from live pods, refuses with 429 TooManyRequests when the
 * budget has no disruption left, and otherwise deletes the pod (gracefully).
 *
 * Approximations: the expected pod count is the sum of `spec.replicas` of the StatefulSets that
 * own matching pods (or the number of matching pods when none is owned); an unready pod may be
 * evicted whenever the budget is currently met (`unhealthyPodEvictionPolicy: IfHealthyBudget`);
 * `DisruptedPods` bookkeeping is replaced by the pod turning unready the moment it is deleted.
 */
import type { Cluster } from './cluster.js';
import { ApiError, notFound, statusBody } from './errors.js';
import { isPodReady } from './kubelet.js';
import type { Scheduler } from './scheduler.js';
import { fromLabelSelector, matchesLabels } from './selectors.js';
import type { StoreEvent } from './store.js';
import {
  clone,
  isObject,
  jsonEqual,
  type JsonObject,
  type KubeObject,
  type LabelSelectorSpec,
} from './types.js';

interface PdbSpec {
  selector?: LabelSelectorSpec;
  minAvailable?: number | string;
  maxUnavailable?: number | string;
}

/** The numbers of one budget. */
export interface BudgetState {
  expectedPods: number;
  currentHealthy: number;
  desiredHealthy: number;
  disruptionsAllowed: number;
}

/** Resolve an int-or-percent against a total (percentages round up, like the real controller). */
function scaled(v: number | string, total: number): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (m) return Math.ceil((Number(m[1]) * total) / 100);
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}

/** PDB status upkeep and eviction decisions. */
export class DisruptionController {
  constructor(
    private readonly cluster: Cluster,
    private readonly scheduler: Scheduler,
  ) {}

  /** React to changes of pods, budgets and StatefulSets by refreshing the namespace's budgets. */
  observe(e: StoreEvent): void {
    if (e.key !== '/pods' && e.key !== 'policy/poddisruptionbudgets' && e.key !== 'apps/statefulsets') return;
    const namespace = e.object.metadata.namespace!;
    this.scheduler.enqueue(`pdb/${namespace}`, () => this.refresh(namespace));
  }

  private refresh(namespace: string): void {
    const t = this.cluster.registry.byResource('policy', 'poddisruptionbudgets')!;
    for (const pdb of this.cluster.list(t, namespace)) {
      const s = this.budget(pdb);
      const status: JsonObject = {
        observedGeneration: pdb.metadata.generation,
        disruptionsAllowed: s.disruptionsAllowed,
        currentHealthy: s.currentHealthy,
        desiredHealthy: s.desiredHealthy,
        expectedPods: s.expectedPods,
        conditions: [
          {
            type: 'DisruptionAllowed',
            status: s.disruptionsAllowed > 0 ? 'True' : 'False',
            reason: s.disruptionsAllowed > 0 ? 'SufficientPods' : 'InsufficientPods',
            message: '',
            observedGeneration: pdb.metadata.generation,
            lastTransitionTime: this.transitionTime(pdb, s.disruptionsAllowed > 0),
          },
        ],
      };
      if (jsonEqual(pdb.status, status)) continue;
      const next = clone(pdb);
      next.status = status;
      this.cluster.controllerWrite(t, next, true);
    }
  }

  private transitionTime(pdb: KubeObject, allowed: boolean): string {
    const old = (
      pdb.status as
        { conditions?: { type: string; status: string; lastTransitionTime: string }[] } | undefined
    )?.conditions?.find((c) => c.type === 'DisruptionAllowed');
    return old && old.status === (allowed ? 'True' : 'False')
      ? old.lastTransitionTime
      : this.cluster.timestamp();
  }

  /** The budget's numbers computed from live pods. */
  budget(pdb: KubeObject): BudgetState {
    const spec = (pdb.spec ?? {}) as PdbSpec;
    const pods = this.matchingPods(pdb);
    const stsType = this.cluster.registry.byResource('apps', 'statefulsets')!;
    const owners = new Map<string, number>();
    for (const p of pods) {
      const ref = (p.metadata.ownerReferences ?? []).find((r) => r.controller && r.kind === 'StatefulSet');
      if (!ref) continue;
      const sts = this.cluster.find(stsType, pdb.metadata.namespace!, ref.name);
      if (sts) owners.set(sts.metadata.uid!, Number((sts.spec as { replicas?: number }).replicas ?? 1));
    }
    const expectedPods = owners.size > 0 ? [...owners.values()].reduce((a, b) => a + b, 0) : pods.length;
    const currentHealthy = pods.filter(isPodReady).length;
    let desiredHealthy: number;
    if (spec.maxUnavailable !== undefined)
      desiredHealthy = Math.max(0, expectedPods - scaled(spec.maxUnavailable, expectedPods));
    else if (spec.minAvailable !== undefined) desiredHealthy = scaled(spec.minAvailable, expectedPods);
    else desiredHealthy = expectedPods;
    return {
      expectedPods,
      currentHealthy,
      desiredHealthy,
      disruptionsAllowed: Math.max(0, currentHealthy - desiredHealthy),
    };
  }

  private matchingPods(pdb: KubeObject): KubeObject[] {
    const podType = this.cluster.registry.byResource('', 'pods')!;
    const sel = fromLabelSelector((pdb.spec as PdbSpec | undefined)?.selector);
    if (sel.length === 0) return [];
    return this.cluster
      .list(podType, pdb.metadata.namespace!)
      .filter((p) => matchesLabels(sel, p.metadata.labels));
  }

  /**
   * POST pods/<name>/eviction. Returns the 201 Success Status after deleting the pod; throws 429
   * TooManyRequests naming the budget when it allows no disruption, 500 when more than one budget
   * matches (as the real server does), 404 for a missing pod.
   */
  evict(namespace: string, name: string, body: unknown): JsonObject {
    const podType = this.cluster.registry.byResource('', 'pods')!;
    const pod = this.cluster.find(podType, namespace, name);
    if (!pod) throw notFound('', 'pods', name);
    const deleteOptions = (isObject(body) && isObject(body.deleteOptions) ? body.deleteOptions : {}) as {
      gracePeriodSeconds?: number;
      preconditions?: { uid?: string; resourceVersion?: string };
    };
    const success = () => {
      this.cluster.delete(podType, namespace, name, deleteOptions);
      const s = statusBody(201, '', '');
      delete s.reason;
      delete s.message;
      return s;
    };
    if (pod.metadata.deletionTimestamp) return success();
    const pdbType = this.cluster.registry.byResource('policy', 'poddisruptionbudgets')!;
    const pdbs = this.cluster.list(pdbType, namespace).filter((b) => {
      const sel = fromLabelSelector((b.spec as PdbSpec | undefined)?.selector);
      return sel.length > 0 && matchesLabels(sel, pod.metadata.labels);
    });
    if (pdbs.length === 0) return success();
    if (pdbs.length > 1) {
      throw new ApiError(
        500,
        'InternalError',
        'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.',
      );
    }
    const pdb = pdbs[0]!;
    const s = this.budget(pdb);
    const allowed = isPodReady(pod) ? s.disruptionsAllowed > 0 : s.currentHealthy >= s.desiredHealthy;
    if (!allowed) {
      throw new ApiError(
        429,
        'TooManyRequests',
        "Cannot evict pod as it would violate the pod's disruption budget.",
        {
          causes: [
            {
              reason: 'DisruptionBudget',
              message: `The disruption budget ${pdb.metadata.name} needs ${s.desiredHealthy} healthy pods and has ${s.currentHealthy} currently`,
            },
          ],
        },
      );
    }
    return success();
  }
}
