/**
 * `npm run bench:nodes`: a node upgrade of 1,000 fake nodes (3 control-plane, the rest one worker
 * pool) on the real control plane (test/kube/), one pod per node (a Deployment spread one per node
 * by a topology spread constraint, so an evicted pod comes back to its node once it is uncordoned),
 * driven by the operator (the image's program, dist/baton-operator.js, in its own process with the
 * image's jemalloc and the ServiceAccount token deploy/ binds, through the fault proxy) with the
 * `job` actuator and the default batches (1, 2, 4, ... capped at 10% of the pool). The node side
 * (test/nodes/fake-nodes.ts) runs each upgrade Job's pod for BATON_BENCH_JOB_MS and restarts the
 * node NotReady for BATON_BENCH_RESTART_MS; the nodes live in fake-kubelet processes of 250 nodes
 * each (bench/nodes-kubelet.ts), apart from the fault proxy the operator's requests go through.
 *
 * Prints ONE JSON object: the wall time from the Upgrade's creation to Completed against the floor
 * (the sum over batches of the slowest node's drain + upgrade + ready, each measured from the
 * cluster's side: drain = Baton's cordon to the node's pod gone, upgrade = its Job created to the
 * node Ready at the target, ready = the uncordon to its pod Ready again; what Baton adds between
 * those steps and between batches is what the ratio measures), the operator's API requests per node
 * (everything it sent through the proxy, watches and Lease renewals included), and its peak
 * resident memory (VmHWM). Targets: <= 1.10x the floor, <= 40 requests per node, <= 200 MB.
 *
 * Environment: BATON_BENCH_NODES (default 1000), BATON_BENCH_JOB_MS (default 1000),
 * BATON_BENCH_RESTART_MS (default 2000), BATON_CONTROLPLANE (use a running control plane),
 * BATON_BENCH_DETAIL (write the runner's history, the nodes' times and every request to a file).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Job, V1Node, V1Pod } from '@kubernetes/client-node';
import { NODE_ANNOTATIONS } from '../src/api/nodes.js';
import { GROUP, PLURAL, VERSION } from '../src/api/upgrade.js';
import { isReady } from '../src/api/conditions.js';
import { startControlPlane, type ControlPlane } from '../test/kube/controlplane.js';
import { applyDeploy, serviceAccountToken } from '../test/kube/deploy.js';
import { createTestCluster, NODE_GROUP_KEY, type TestCluster } from '../test/kube/test-cluster.js';
import type { FakeNodeSpec } from '../test/kube/fake-kubelet.js';
import type { KubeletProcessSettings } from './nodes-kubelet.js';
import { OperatorProcess } from './operator-process.js';

const NODES = Number(process.env.BATON_BENCH_NODES ?? 1000);
const CONTROL_PLANE = 3;
const JOB_MS = Number(process.env.BATON_BENCH_JOB_MS ?? 1000);
const RESTART_MS = Number(process.env.BATON_BENCH_RESTART_MS ?? 2000);
/** Nodes per fake-kubelet process. */
const NODES_PER_KUBELET = 250;
const FROM = 'v1.36.5';
const TO = 'v1.37.2';
const CP_LABEL = 'node-role.kubernetes.io/control-plane';
const TARGETS = { ratio: 1.1, requestsPerNode: 40, rssMb: 200 };
const TERMINAL = ['Completed', 'Failed', 'Paused', 'Cancelled', 'Expired'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 3) => Number(x.toFixed(d));

/** What the cluster's side saw of one node, in ms since the epoch. */
interface NodeTimes {
  cordon?: number;
  podGone?: number;
  job?: number;
  up?: number;
  uncordon?: number;
  back?: number;
}

/** The benchmark's nodes: 3 control-plane, the rest one pool, all at {@link FROM}. */
function nodeSpecs(group: string): FakeNodeSpec[] {
  return Array.from({ length: NODES }, (_, i) => {
    const cp = i < CONTROL_PLANE;
    const name = cp ? `cp-${i + 1}` : `w-${String(i - CONTROL_PLANE + 1).padStart(4, '0')}`;
    return {
      name: `${group}-${name}`,
      labels: { [NODE_GROUP_KEY]: group, ...(cp ? { [CP_LABEL]: '' } : { pool: 'workers' }) },
      taints: [{ key: NODE_GROUP_KEY, value: group, effect: 'NoSchedule' as const }],
      kubeletVersion: FROM,
    };
  });
}

/**
 * Fake-kubelet processes (bench/nodes-kubelet.ts), {@link NODES_PER_KUBELET} nodes each, with their
 * nodes registered; `stop()` removes the nodes and ends the processes.
 */
async function startKubelets(c: TestCluster): Promise<{ stop(): Promise<void> }> {
  const specs = nodeSpecs(c.namespace);
  const entry = new URL('./nodes-kubelet.ts', import.meta.url).pathname;
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(
        (ch) =>
          new Promise<void>((resolve) => {
            if (ch.exitCode !== null || ch.signalCode !== null) return resolve();
            ch.once('exit', () => resolve());
            ch.kill('SIGTERM');
          }),
      ),
    );
  };
  try {
    await Promise.all(
      Array.from({ length: Math.ceil(specs.length / NODES_PER_KUBELET) }, (_, k) => {
        const settings: KubeletProcessSettings = {
          controlPlane: c.controlPlane,
          namespace: c.namespace,
          nodes: specs.slice(k * NODES_PER_KUBELET, (k + 1) * NODES_PER_KUBELET),
          readinessDelayMs: 200,
          podTerminationMs: 0,
          jobRunMs: JOB_MS,
          restartMs: RESTART_MS,
        };
        const child = spawn(process.execPath, ['--import', 'tsx', entry, JSON.stringify(settings)], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        children.push(child);
        return new Promise<void>((resolve, reject) => {
          child.stdout!.on('data', (b: Buffer) => {
            if (b.toString().includes('ready')) resolve();
          });
          child.once('exit', (code) => reject(new Error(`kubelet process ${k} exited with ${code}`)));
        });
      }),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop };
}

/** Follow every node's cordon, pod, Job and version from the cluster's side. */
function timeline(c: TestCluster, upgrade: string) {
  const times = new Map<string, NodeTimes>();
  const at = (node: string) => {
    let t = times.get(node);
    if (!t) times.set(node, (t = {}));
    return t;
  };
  const nodes = c.rest.listWatch<V1Node>(
    '/api/v1/nodes',
    { labelSelector: `${NODE_GROUP_KEY}=${c.namespace}` },
    (type, n) => {
      if (type === 'DELETED') return;
      const t = at(n.metadata!.name!);
      const now = Date.now();
      const ours = n.metadata?.annotations?.[NODE_ANNOTATIONS.cordonedBy] === upgrade;
      if (t.cordon === undefined && n.spec?.unschedulable && ours) t.cordon = now;
      if (
        t.job !== undefined &&
        t.up === undefined &&
        isReady(n) &&
        n.status?.nodeInfo?.kubeletVersion === TO
      )
        t.up = now;
      if (t.up !== undefined && t.uncordon === undefined && !n.spec?.unschedulable) t.uncordon = now;
    },
  );
  const pods = c.rest.listWatch<V1Pod>(
    `/api/v1/namespaces/${c.namespace}/pods`,
    { labelSelector: 'app=load' },
    (type, p) => {
      const node = p.spec?.nodeName;
      if (!node) return;
      const t = at(node);
      const now = Date.now();
      if (t.cordon !== undefined && t.podGone === undefined && type === 'DELETED') t.podGone = now;
      if (t.uncordon !== undefined && t.back === undefined && type !== 'DELETED' && isReady(p)) t.back = now;
    },
  );
  const jobs = c.rest.listWatch<V1Job>(`/apis/batch/v1/namespaces/${c.namespace}/jobs`, {}, (type, j) => {
    const node = j.metadata?.annotations?.['baton.dev/node'];
    if (type === 'ADDED' && node && at(node).job === undefined) at(node).job = Date.now();
  });
  return {
    times,
    synced: Promise.all([nodes.synced, pods.synced, jobs.synced]),
    stop: () => [nodes, pods, jobs].forEach((w) => w.stop()),
  };
}

/**
 * Batches as the cluster saw them: nodes ordered by cordon time, a new batch whenever a node was
 * cordoned after every node of the current batch had its pod back. The floor of a batch is its
 * slowest node's drain + upgrade + ready.
 */
function floorOf(times: Map<string, NodeTimes>): {
  floorMs: number;
  batches: number[];
  incomplete: number;
  gapsSeconds: Record<string, number>;
  firstCordon?: number;
} {
  const done = [...times.values()].filter(
    (t): t is Required<NodeTimes> =>
      t.cordon !== undefined &&
      t.podGone !== undefined &&
      t.job !== undefined &&
      t.up !== undefined &&
      t.uncordon !== undefined &&
      t.back !== undefined,
  );
  const incomplete = [...times.values()].filter((t) => t.cordon !== undefined).length - done.length;
  done.sort((a, b) => a.cordon - b.cordon);
  const batches: Required<NodeTimes>[][] = [];
  let end = -Infinity;
  for (const t of done) {
    if (t.cordon > end) batches.push([]);
    batches.at(-1)!.push(t);
    end = Math.max(end, t.back);
  }
  const cost = (t: Required<NodeTimes>) =>
    Math.max(0, t.podGone - t.cordon) + Math.max(0, t.up - t.job) + Math.max(0, t.back - t.uncordon);
  const floorMs = batches.reduce((sum, b) => sum + Math.max(...b.map(cost)), 0);
  // Where Baton's time between the cluster's steps went, summed over batches (slowest node each).
  const gap = (f: (t: Required<NodeTimes>) => number) =>
    round(batches.reduce((sum, b) => sum + Math.max(...b.map(f)), 0) / 1000, 1);
  const between = batches
    .slice(1)
    .map((b, i) => Math.min(...b.map((t) => t.cordon)) - Math.max(...batches[i]!.map((t) => t.back)));
  const gapsSeconds = {
    drainedToJob: gap((t) => t.job - t.podGone),
    upToUncordon: gap((t) => t.uncordon - t.up),
    backToNextBatch: round(between.reduce((a, b) => a + b, 0) / 1000, 1),
  };
  return {
    floorMs,
    batches: batches.map((b) => b.length),
    incomplete,
    gapsSeconds,
    firstCordon: done[0]?.cordon,
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'baton-bench-nodes-'));
  let plane: ControlPlane | undefined;
  if (!process.env.BATON_CONTROLPLANE) {
    plane = await startControlPlane();
    process.env.BATON_CONTROLPLANE = join(dir, 'controlplane.json');
    await writeFile(process.env.BATON_CONTROLPLANE, JSON.stringify(plane.info));
  }
  const log = join(dir, 'operator.log');
  let c: TestCluster | undefined;
  let kubelets: { stop(): Promise<void> } | undefined;
  // Interrupted: remove the nodes and the namespace all the same (the control plane is shared).
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      void (async () => {
        await kubelets?.stop();
        await c?.close();
        await plane?.stop();
        process.exit(130);
      })();
    });
  try {
    c = await createTestCluster({ nodes: [], readinessDelayMs: 200, podTerminationMs: 0 });
    const ns = c.namespace;
    const setupStart = Date.now();
    kubelets = await startKubelets(c);
    // One pod per node: a spread of skew 1 over the nodes' hostnames.
    await c.rest.post(`/apis/apps/v1/namespaces/${ns}/deployments`, {
      metadata: { name: 'load' },
      spec: {
        replicas: NODES,
        selector: { matchLabels: { app: 'load' } },
        template: {
          metadata: { labels: { app: 'load' } },
          spec: {
            topologySpreadConstraints: [
              {
                maxSkew: 1,
                topologyKey: 'kubernetes.io/hostname',
                whenUnsatisfiable: 'DoNotSchedule',
                labelSelector: { matchLabels: { app: 'load' } },
              },
            ],
            containers: [{ name: 'app', image: 'registry.local:5000/load:1' }],
          },
        },
      },
    });
    for (;;) {
      const d = await c.rest.get<{ status?: { availableReplicas?: number } }>(
        `/apis/apps/v1/namespaces/${ns}/deployments/load`,
      );
      if ((d.status?.availableReplicas ?? 0) >= NODES) break;
      await sleep(500);
    }
    const setupSeconds = round((Date.now() - setupStart) / 1000, 1);

    await applyDeploy(c.controlPlane);
    const kubeconfig = join(dir, 'operator.kubeconfig');
    await c.writeKubeconfig(kubeconfig, { token: await serviceAccountToken(c.rest) });
    const op = await OperatorProcess.start(c, kubeconfig, log);
    const seen = timeline(c, `${ns}/nodes`);
    await seen.synced;
    try {
      const path = `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}`;
      c.resetRequests();
      const t0 = Date.now();
      await c.rest.post(path, {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'Upgrade',
        metadata: { name: 'nodes' },
        spec: {
          engine: 'kubernetes-nodes',
          version: TO,
          target: {
            nodes: {
              controlPlane: { selector: `${NODE_GROUP_KEY}=${ns},${CP_LABEL}` },
              pools: [{ name: 'workers', selector: `${NODE_GROUP_KEY}=${ns},pool=workers` }],
              actuator: {
                type: 'job',
                job: { image: 'registry.local:5000/kubeadm-upgrade:1', namespace: ns },
              },
            },
          },
        },
      });
      // The end is seen on a watch: a GET of the whole Upgrade (600 to 750 KB at 1,000 nodes) every
      // 100 ms, as this loop did, was 2.7 GB encoded by the API server over a run on the same two
      // cores as the upgrade it measured; a watch gets each status write once, encoded once for
      // every watcher by the API server's watch cache.
      const { phase, reason, endMs } = await new Promise<{ phase: string; reason: string; endMs: number }>(
        (resolve) => {
          const w = c!.rest.listWatch<{
            metadata?: { resourceVersion?: string };
            status?: { phase?: string; reason?: string };
          }>(path, { fieldSelector: 'metadata.name=nodes' }, (_type, u) => {
            const p = u.status?.phase ?? '';
            if (!TERMINAL.includes(p)) return;
            w.stop();
            resolve({ phase: p, reason: u.status?.reason ?? '', endMs: Date.now() });
          });
        },
      );
      const wallMs = endMs - t0;
      const requests = c.requests().total;
      if (process.env.BATON_BENCH_DETAIL) {
        // What happened when, for a reader of the gaps: the runner's history and the cluster's side.
        const u = await c.rest.get<{ status?: { history?: unknown[] } }>(`${path}/nodes`);
        const file = join(tmpdir(), `baton-bench-nodes-${process.pid}.detail.json`);
        const sent = c
          .requests()
          .entries.map(
            (e) => `${e.at - t0} +${(e.answeredAt ?? e.at) - e.at} ${e.method} ${e.path} ${e.status}`,
          );
        await writeFile(
          file,
          JSON.stringify({ t0, history: u.status?.history, nodes: Object.fromEntries(seen.times), sent }),
        );
        process.stderr.write(`detail: ${file}\n`);
      }
      const rssMb = round(op.peakRssBytes() / 2 ** 20, 1);
      const { floorMs, batches, incomplete, gapsSeconds, firstCordon } = floorOf(seen.times);
      const ratio = round(wallMs / floorMs);
      const perNode = round(requests / NODES, 1);
      process.stdout.write(
        JSON.stringify({
          controlPlane:
            'kube-apiserver, kube-controller-manager, kube-scheduler v1.37.2, etcd 3.6.17; fake kubelet',
          nodes: NODES,
          controlPlaneNodes: CONTROL_PLANE,
          podsPerNode: 1,
          jobRunMs: JOB_MS,
          restartMs: RESTART_MS,
          setupSeconds,
          phase,
          ...(phase === 'Completed' ? {} : { reason }),
          wallSeconds: round(wallMs / 1000, 1),
          floorSeconds: round(floorMs / 1000, 1),
          ratio,
          batches,
          batonGapsSeconds: {
            toFirstCordon: firstCordon ? round((firstCordon - t0) / 1000, 1) : null,
            ...gapsSeconds,
          },
          nodesNotMeasured: incomplete,
          requestsPerNode: perNode,
          requestsByVerbResource: c.requests().byVerbResource,
          operatorPeakRssMb: rssMb,
          operatorProcess: OperatorProcess.description,
          targets: TARGETS,
          met:
            phase === 'Completed' &&
            ratio <= TARGETS.ratio &&
            perNode <= TARGETS.requestsPerNode &&
            rssMb <= TARGETS.rssMb,
        }) + '\n',
      );
    } finally {
      seen.stop();
      await op.stop();
    }
  } catch (err) {
    const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
    process.stderr.write(`${text.split('\n').slice(-30).join('\n')}\n`);
    throw err;
  } finally {
    await kubelets?.stop();
    await c?.close();
    await rm(dir, { recursive: true, force: true });
    await plane?.stop();
  }
}

await main();
