/**
 * CockroachDB nodes behind the pods of one StatefulSet on the test control plane: the fake
 * kubelet's {@link PodRuntime} over a {@link CockroachDouble} (double.ts). Pod `<sts>-<i>` is node
 * `i + 1`; starting the pod starts the node on the binary its image tag names
 * (`cockroachdb/cockroach:v24.1.3` runs 24.1.3, as a registry would serve it), so the build tag
 * the engine reads is the pod's image; stopping the pod stops the node (its listeners close, its
 * leases expire onto the other replicas). A binary that refuses the cluster version leaves the pod
 * Running and unready (the real one exits: CrashLoopBackOff). Ready is the readiness probe of
 * CockroachDB's manifests and Helm chart: `GET /health?ready=1` on the HTTP port.
 *
 * Before stopping a node the runtime records whether it was draining and how many leases it still
 * held, so a test can check that every pod went only after the Admin API's Drain emptied it.
 */
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import type { V1Pod } from '@kubernetes/client-node';
import { imageTag, ordinalOf } from '../../src/platforms/kubernetes/members.js';
import type { PodRuntime } from '../kube/fake-kubelet.js';
import type { TestCluster } from '../kube/test-cluster.js';
import { CockroachDouble, type StartDoubleOptions } from './double.js';

/** One pod stop as the node saw it just before its process went. */
export interface CockroachPodStop {
  pod: string;
  /** The node was draining (the Admin API's Drain had been called on it). */
  draining: boolean;
  /** Range leases it still held. */
  leases: number;
  /** Binary it ran. */
  binary: string;
}

/** The CockroachDB binary an image runs: its tag without the `v` (`v24.1` is `24.1.0`). */
export function binaryOfImage(image: string): string {
  const tag = imageTag(image).replace(/^v/, '');
  return /^\d+\.\d+$/.test(tag) ? `${tag}.0` : tag;
}

/** The double behind the pods of StatefulSet `statefulSet` (see the module comment). */
export class CockroachPods implements PodRuntime {
  readonly stops: CockroachPodStop[] = [];
  /** Pods whose node refused to start, with the reason. */
  readonly crashes: { pod: string; reason: string }[] = [];
  private readonly uids = new Map<number, string>();
  private closed = false;

  private constructor(
    readonly double: CockroachDouble,
    private readonly statefulSet: string,
    private readonly namespace: string,
    /** The cluster CA of a secure double: the probe is HTTPS, as the operator's is (probeScheme). */
    private readonly ca?: string,
  ) {}

  /** A double of `opts.nodes` nodes, all stopped until their pods start them. */
  static async create(
    opts: StartDoubleOptions,
    statefulSet: string,
    namespace: string,
  ): Promise<CockroachPods> {
    const double = await CockroachDouble.start(opts);
    for (const n of double.cluster.nodes) await double.stopNode(n.id);
    return new CockroachPods(double, statefulSet, namespace, opts.tls?.ca);
  }

  private nodeOf(pod: V1Pod): number | undefined {
    const o = ordinalOf(this.statefulSet, pod.metadata?.name ?? '');
    return o !== undefined && o < this.double.cluster.nodes.length ? o + 1 : undefined;
  }

  /** `spec.target.endpoints`: each pod's SQL, HTTP and RPC addresses, named. */
  endpoints(): Record<string, string> {
    return Object.fromEntries(
      this.double.cluster.nodes.map((n) => {
        const a = this.double.addresses(n.id);
        return [`${this.statefulSet}-${n.id - 1}`, `sql=${a.sql},http=${a.http},rpc=${a.rpc}`];
      }),
    );
  }

  /** Pods in the order their nodes were stopped. */
  stopOrder(): string[] {
    return this.stops.map((s) => s.pod);
  }

  claims(pod: V1Pod): boolean {
    return !this.closed && pod.metadata?.namespace === this.namespace && this.nodeOf(pod) !== undefined;
  }

  async start(pod: V1Pod): Promise<void> {
    const id = this.nodeOf(pod)!;
    this.uids.set(id, pod.metadata!.uid!);
    const binary = binaryOfImage(pod.spec?.containers?.[0]?.image ?? '');
    if (!(await this.double.startNode(id, binary))) {
      const reason = this.double.cluster.node(id).crashReason ?? 'refused to start';
      this.crashes.push({ pod: pod.metadata!.name!, reason });
      throw new Error(`cockroach ${binary}: ${reason}`);
    }
  }

  async stop(pod: V1Pod): Promise<void> {
    const id = this.nodeOf(pod);
    if (id === undefined || this.uids.get(id) !== pod.metadata?.uid) return;
    this.uids.delete(id);
    const c = this.double.cluster;
    const n = c.node(id);
    if (n.process === 'running') {
      this.stops.push({
        pod: pod.metadata!.name!,
        draining: n.draining,
        leases: c.ranges.filter((r) => r.leaseholder === id).length,
        binary: n.binary,
      });
    }
    await this.double.stopNode(id);
  }

  async ready(pod: V1Pod): Promise<boolean> {
    const id = this.nodeOf(pod);
    if (id === undefined || this.uids.get(id) !== pod.metadata?.uid) return false;
    return this.probe(`${this.double.addresses(id).http}`);
  }

  /** The readiness probe, `GET /health?ready=1` (HTTPS with the CA on a secure double): 200 or not. */
  private probe(address: string): Promise<boolean> {
    const url = `${this.ca ? 'https' : 'http'}://${address}/health?ready=1`;
    return new Promise((resolve) => {
      const done = (res: import('node:http').IncomingMessage) => {
        res.resume();
        resolve(res.statusCode === 200);
      };
      const req = this.ca
        ? httpsGet(url, { ca: this.ca, timeout: 1000 }, done)
        : httpGet(url, { timeout: 1000 }, done);
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.double.close();
  }
}

/** CockroachDB pods installed as the test cluster's kubelet runtime, closed when `t` ends. */
export async function startCockroachPods(
  t: { after(fn: () => unknown): void },
  server: TestCluster,
  opts: StartDoubleOptions & { statefulSet: string },
): Promise<CockroachPods> {
  const pods = await CockroachPods.create(opts, opts.statefulSet, server.namespace);
  t.after(() => pods.close());
  server.kubelet.settings.runtime = pods;
  return pods;
}
