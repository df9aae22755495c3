/**
 * Redis Enterprise cluster (REC) nodes behind the pods of the REC's StatefulSet on the test
 * control plane: the fake kubelet's {@link PodRuntime} over a {@link RecDoubleCluster}. Pod
 * `<rec>-<i>` is node `i + 1` (hostname = pod name, as the operator names REC nodes); each node
 * serves the REST API over HTTPS on a port of its own on 127.0.0.1 while its pod runs (the real
 * API listens on 9443 of every node; the certificate is self-signed: the control plane's serving
 * certificate here). Starting a pod starts its node on the Redis Enterprise software its image tag
 * names (`redislabs/redis:7.4.6-22`); stopping it stops the node (its shards go down, the cluster
 * fails their primaries over by itself after a while). The nodes exist when the runtime is created
 * (the REC was bootstrapped); a pod's first start only opens its node's API. Ready = the node is up
 * and its API listens.
 *
 * Before a node stops the runtime records how many primary shards it still held and whether it was
 * the cluster's master node, so a test can check that every pod went only after Baton's hand-over.
 */
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { V1Pod } from '@kubernetes/client-node';
import { pickFreePorts } from '../../src/platforms/local/ports.js';
import { imageTag, ordinalOf } from '../../src/platforms/kubernetes/members.js';
import type { PodRuntime } from '../kube/fake-kubelet.js';
import type { TestCluster } from '../kube/test-cluster.js';
import { RecDoubleCluster, type RecDoubleOptions } from './cluster.js';
import type { PodStop } from './double.js';
import { REC_PASSWORD, REC_USER } from './double.js';
import { createRecApiServer } from './server.js';

/** The REC double behind the pods of one StatefulSet (see the module comment). */
export class RecPods implements PodRuntime {
  readonly stops: (PodStop & { at: number })[] = [];
  /** Pod starts after the first (restarts), with when they happened. */
  readonly restarts: { member: string; version: string; at: number }[] = [];
  private readonly servers = new Map<number, Server>();
  private readonly uids = new Map<number, string>();
  private readonly adopted = new Set<number>();
  private closed = false;

  private constructor(
    readonly cluster: RecDoubleCluster,
    private readonly statefulSet: string,
    private readonly namespace: string,
    private readonly ports: number[],
    private readonly tls: { cert: Buffer; key: Buffer },
  ) {}

  static async create(opts: RecDoubleOptions, statefulSet: string, server: TestCluster): Promise<RecPods> {
    const cluster = new RecDoubleCluster(opts);
    for (const n of cluster.nodes) n.hostname = `${statefulSet}-${n.uid - 1}`;
    const cp = server.controlPlane;
    const [cert, key] = await Promise.all([readFile(cp.certFile), readFile(cp.keyFile)]);
    const ports = await pickFreePorts(opts.nodes, { random: Math.random });
    cluster.start();
    return new RecPods(cluster, statefulSet, server.namespace, ports, { cert, key });
  }

  private uidOf(pod: V1Pod): number | undefined {
    const o = ordinalOf(this.statefulSet, pod.metadata?.name ?? '');
    return o !== undefined && o < this.cluster.nodes.length ? o + 1 : undefined;
  }

  /** `spec.target.endpoints`: each pod's REST API address. */
  endpoints(): Record<string, string> {
    return Object.fromEntries(
      this.cluster.nodes.map((n) => [n.hostname, `127.0.0.1:${this.ports[n.uid - 1]!}`]),
    );
  }

  /** Pods in the order their nodes were stopped. */
  stopOrder(): string[] {
    return this.stops.map((s) => s.member);
  }

  claims(pod: V1Pod): boolean {
    return !this.closed && pod.metadata?.namespace === this.namespace && this.uidOf(pod) !== undefined;
  }

  async start(pod: V1Pod): Promise<void> {
    const uid = this.uidOf(pod)!;
    this.uids.set(uid, pod.metadata!.uid!);
    if (this.adopted.has(uid)) {
      const version = imageTag(pod.spec?.containers?.[0]?.image ?? '');
      this.cluster.startNode(uid, version);
      this.restarts.push({ member: pod.metadata!.name!, version, at: Date.now() });
    } else {
      this.adopted.add(uid);
    }
    await this.listen(uid);
  }

  private async listen(uid: number): Promise<void> {
    if (this.servers.has(uid) || this.closed) return;
    const server = createRecApiServer(this.cluster, REC_USER, REC_PASSWORD, this.tls);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.ports[uid - 1], '127.0.0.1', () => resolve());
    });
    this.servers.set(uid, server);
  }

  private async shut(uid: number): Promise<void> {
    const server = this.servers.get(uid);
    if (!server) return;
    this.servers.delete(uid);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async stop(pod: V1Pod): Promise<void> {
    const uid = this.uidOf(pod);
    if (uid === undefined || this.uids.get(uid) !== pod.metadata?.uid) return;
    this.uids.delete(uid);
    const c = this.cluster;
    if (c.node(uid).up) {
      this.stops.push({
        member: pod.metadata!.name!,
        primaries: c.shards.filter((s) => s.nodeUid === uid && s.role === 'master').length,
        wasMaster: c.masterNode === uid,
        at: Date.now(),
      });
      c.stopNode(uid);
    }
    await this.shut(uid);
  }

  async ready(pod: V1Pod): Promise<boolean> {
    const uid = this.uidOf(pod);
    if (uid === undefined || this.uids.get(uid) !== pod.metadata?.uid) return false;
    return this.cluster.node(uid).up && this.servers.has(uid);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cluster.stop();
    for (const uid of [...this.servers.keys()]) await this.shut(uid);
  }
}

/** REC pods installed as the test cluster's kubelet runtime, closed when `t` ends. */
export async function startRecPods(
  t: { after(fn: () => unknown): void },
  server: TestCluster,
  opts: RecDoubleOptions & { statefulSet: string },
): Promise<RecPods> {
  const pods = await RecPods.create(opts, opts.statefulSet, server);
  t.after(() => pods.close());
  server.kubelet.settings.runtime = pods;
  return pods;
}
