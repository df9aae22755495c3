/**
 * The TiDB cluster double behind the pods of a TidbCluster's StatefulSets on the test control
 * plane: the fake kubelet's {@link PodRuntime} over a {@link DoubleCluster} whose members are
 * named as TiDB Operator names its pods (`<cluster>-pd-0`, `<cluster>-tikv-1`, ...). Starting a pod
 * starts that member on the version its image tag names (`pingcap/tikv:v8.1.1` runs v8.1.1, as a
 * registry would serve it); deleting the pod stops the member gracefully (PD loses its leadership,
 * the store stops heartbeating, its leaders are re-elected elsewhere if it still held any). A PD
 * that refuses to start (a version in `brokenPdVersions`) leaves its pod Running and unready.
 * Readiness is TiDB Operator's default probe for these components: the member's port accepts
 * connections (here: its double's HTTP listener is up).
 *
 * Each stop of a running member is counted as a restart in the double's counters (restarts,
 * restartLog, leadersAtStop), so a test checks what each pod held when it went.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { imageTag } from '../../src/platforms/kubernetes/members.js';
import type { PodRuntime } from '../kube/fake-kubelet.js';
import type { TestCluster } from '../kube/test-cluster.js';
import { DoubleCluster, type DoubleClusterOptions } from './cluster.js';

/** The double behind a TidbCluster's pods (see the module comment). */
export class TidbPods implements PodRuntime {
  private readonly uids = new Map<string, string>();
  private closed = false;

  private constructor(
    readonly double: DoubleCluster,
    private readonly namespace: string,
  ) {}

  /**
   * A double of the cluster `prefix` names (`basic-`), formed once so that every member has its
   * ports, then stopped until its pod starts it.
   */
  static async create(opts: DoubleClusterOptions & { prefix: string }, namespace: string): Promise<TidbPods> {
    const double = await DoubleCluster.create(opts);
    for (const name of double.memberNames()) await double.stopMember(name);
    return new TidbPods(double, namespace);
  }

  /** `spec.target.endpoints`: each pod's admin address (PD client, TiKV/TiDB status port). */
  endpoints(): Record<string, string> {
    return Object.fromEntries(this.double.memberNames().map((n) => [n, this.double.endpoint(n)]));
  }

  claims(pod: V1Pod): boolean {
    const name = pod.metadata?.name ?? '';
    return (
      !this.closed &&
      pod.metadata?.namespace === this.namespace &&
      this.double.componentOf(name) !== undefined
    );
  }

  async start(pod: V1Pod): Promise<void> {
    const name = pod.metadata!.name!;
    this.uids.set(name, pod.metadata!.uid!);
    const version = imageTag(pod.spec?.containers?.[0]?.image ?? '');
    await this.double.startMember(name, version);
    if (!this.double.isUp(name)) throw new Error(`${name} ${version} exits at start`);
  }

  async stop(pod: V1Pod): Promise<void> {
    const name = pod.metadata?.name ?? '';
    if (this.uids.get(name) !== pod.metadata?.uid) return;
    this.uids.delete(name);
    if (this.double.isUp(name)) this.double.countRestart(name);
    await this.double.stopMember(name);
  }

  async ready(pod: V1Pod): Promise<boolean> {
    const name = pod.metadata?.name ?? '';
    return this.uids.get(name) === pod.metadata?.uid && this.double.isUp(name);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.double.close();
  }
}

/** TiDB pods installed as the test cluster's kubelet runtime, closed when `t` ends. */
export async function startTidbPods(
  t: { after(fn: () => unknown): void },
  server: TestCluster,
  opts: DoubleClusterOptions & { prefix: string },
): Promise<TidbPods> {
  const pods = await TidbPods.create(opts, server.namespace);
  t.after(() => pods.close());
  server.kubelet.settings.runtime = pods;
  return pods;
}
