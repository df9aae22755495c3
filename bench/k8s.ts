/**
 * `npm run bench:k8s`: Baton against the native StatefulSet controller, on the real control plane
 * (test/kube/): the same StatefulSet (10 and 50 replicas, the fake kubelet's readiness delay 1 s
 * and 200 ms) rolled to a new image
 *
 * - A, native: the real kube-controller-manager's RollingUpdate (the template patched; done when
 *   the status shows every replica updated and ready at the update revision);
 * - B, Baton: the operator (the image's program, dist/baton-operator.js, in its own process with
 *   the image's jemalloc and the ServiceAccount token deploy/ binds, through the fault proxy)
 *   driving an Upgrade with the generic engine (created; done when it is Completed),
 *
 * interleaved A B A B, 3 runs each, every run on a fresh StatefulSet. Prints ONE JSON object: for
 * each delay and size the seconds per pod of each (median of the runs, and every run), the ratio
 * Baton/native, the operator's API requests per member (everything it sent through the proxy
 * during its runs, watches, Events and Lease renewals included), and the operator's peak resident
 * memory (VmHWM). Targets: ratio <= 1.00 at 1 s and <= 1.05 at 200 ms; <= 20 requests per member;
 * operator RSS <= 120 MB.
 *
 * Environment: BATON_BENCH_DELAYS (default 1000,200), BATON_BENCH_SIZES (default 10,50),
 * BATON_BENCH_RUNS (default 3), BATON_BENCH_NODE_FLAGS (Node flags of the operator instead of the
 * Deployment command's), BATON_CONTROLPLANE (use a running control plane instead of starting one).
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../src/api/upgrade.js';
import { startControlPlane, type ControlPlane } from '../test/kube/controlplane.js';
import { applyDeploy, serviceAccountToken } from '../test/kube/deploy.js';
import { PATCH, type Rest } from '../test/kube/rest.js';
import { createTestCluster, type TestCluster } from '../test/kube/test-cluster.js';
import { OperatorProcess } from './operator-process.js';

const DELAYS = (process.env.BATON_BENCH_DELAYS ?? '1000,200').split(',').map(Number);
const SIZES = (process.env.BATON_BENCH_SIZES ?? '10,50').split(',').map(Number);
const RUNS = Number(process.env.BATON_BENCH_RUNS ?? 3);
const TARGET_RATIO: Record<number, number> = { 1000: 1.0, 200: 1.05 };
const TARGET_REQUESTS = 20;
const TARGET_RSS_MB = 120;
const TERMINAL = ['Completed', 'Failed', 'Paused', 'Cancelled', 'Expired'];

const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length ? v[Math.floor((v.length - 1) / 2)]! : 0;
};
const round3 = (x: number) => Number(x.toFixed(3));

/** A RollingUpdate StatefulSet; Parallel only speeds up its creation (updates go one pod at a time). */
function statefulSet(name: string, replicas: number): V1StatefulSet {
  return {
    metadata: { name },
    spec: {
      replicas,
      serviceName: name,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: { app: name } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'db', image: 'example/db:1.0.0' }] },
      },
    },
  };
}

/** Resolve with the wall time at which a watched object of `path` first satisfies `done`. */
function watchUntil<T>(rest: Rest, path: string, name: string, done: (o: T) => boolean): Promise<number> {
  return new Promise((resolve) => {
    const w = rest.listWatch<T & { metadata?: { resourceVersion?: string } }>(
      path,
      { fieldSelector: `metadata.name=${name}` },
      (_type, o) => {
        if (done(o)) {
          w.stop();
          resolve(Date.now());
        }
      },
    );
  });
}

/** BATON_BENCH_DETAIL: each pod's Ready and deletion times during a run, written beside the requests. */
function podTimeline(rest: Rest, ns: string, app: string): { stop(t0: number, file: string): Promise<void> } {
  const lines: string[] = [];
  const seen = new Map<string, string>();
  const w = rest.listWatch<V1Pod>(
    `/api/v1/namespaces/${ns}/pods`,
    { labelSelector: `app=${app}` },
    (type, p) => {
      const name = p.metadata!.name!;
      const ready = p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
      const state =
        type === 'DELETED' ? 'gone' : p.metadata?.deletionTimestamp ? 'deleting' : ready ? 'ready' : 'up';
      if (seen.get(name) === state) return;
      seen.set(name, state);
      lines.push(`${Date.now()} ${name} ${state}`);
    },
  );
  return {
    async stop(t0, file) {
      w.stop();
      await writeFile(
        file,
        lines
          .map((l) => {
            const [at, ...rest] = l.split(' ');
            return `${Number(at) - t0} ${rest.join(' ')}`;
          })
          .join('\n'),
      );
    },
  };
}

async function createSettled(rest: Rest, ns: string, body: V1StatefulSet): Promise<void> {
  const name = body.metadata!.name!;
  await rest.post(`/apis/apps/v1/namespaces/${ns}/statefulsets`, body);
  await watchUntil<V1StatefulSet>(
    rest,
    `/apis/apps/v1/namespaces/${ns}/statefulsets`,
    name,
    (s) => s.status?.readyReplicas === s.spec?.replicas && s.status?.updatedReplicas === s.spec?.replicas,
  );
}

/** A: the native controller rolls the template change; seconds per pod. */
async function native(c: TestCluster, name: string, replicas: number): Promise<number> {
  const ns = c.namespace;
  await createSettled(c.rest, ns, statefulSet(name, replicas));
  const path = `/apis/apps/v1/namespaces/${ns}/statefulsets`;
  const pods = process.env.BATON_BENCH_DETAIL ? podTimeline(c.rest, ns, name) : undefined;
  const t0 = Date.now();
  const patched = await c.rest.patch<V1StatefulSet>(
    `${path}/${name}`,
    { spec: { template: { spec: { containers: [{ name: 'db', image: 'example/db:1.1.0' }] } } } },
    PATCH.strategic,
  );
  const generation = patched.metadata!.generation!;
  const t1 = await watchUntil<V1StatefulSet>(
    c.rest,
    path,
    name,
    (s) =>
      (s.status?.observedGeneration ?? 0) >= generation &&
      s.status?.updatedReplicas === replicas &&
      s.status?.readyReplicas === replicas &&
      s.status?.currentRevision === s.status?.updateRevision,
  );
  await pods?.stop(t0, join(tmpdir(), `baton-bench-${name}.pods`));
  await c.rest.delete(`${path}/${name}`);
  return (t1 - t0) / 1000 / replicas;
}

/** B: the operator drives an Upgrade; seconds per pod and the operator's requests. */
async function baton(
  c: TestCluster,
  name: string,
  replicas: number,
): Promise<{ secondsPerPod: number; requests: number; phase: string }> {
  const ns = c.namespace;
  await createSettled(c.rest, ns, statefulSet(name, replicas));
  const path = `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}`;
  let phase = '';
  const ended = watchUntil<{ status?: { phase?: string } }>(c.rest, path, `${name}-up`, (u) => {
    phase = u.status?.phase ?? '';
    return TERMINAL.includes(phase);
  });
  c.resetRequests();
  const pods = process.env.BATON_BENCH_DETAIL ? podTimeline(c.rest, ns, name) : undefined;
  const t0 = Date.now();
  await c.rest.post(path, {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'Upgrade',
    metadata: { name: `${name}-up` },
    spec: { target: { statefulSet: name }, version: '1.1.0' },
  });
  const t1 = await ended;
  await pods?.stop(t0, join(tmpdir(), `baton-bench-${name}.pods`));
  const stats = c.requests();
  const requests = stats.total;
  if (process.env.BATON_BENCH_DETAIL) {
    const top = Object.entries(stats.byVerbResource).sort((x, y) => y[1] - x[1]);
    process.stderr.write(`${name}: ${requests} requests ${JSON.stringify(Object.fromEntries(top))}\n`);
    const lines = stats.entries.map(
      (e) => `${e.at - t0} +${(e.answeredAt ?? e.at) - e.at} ${e.method} ${e.path} ${e.status}`,
    );
    await writeFile(join(tmpdir(), `baton-bench-${name}.requests`), lines.join('\n'));
    const up = await c.rest.get(`${path}/${name}-up`);
    await writeFile(join(tmpdir(), `baton-bench-${name}.upgrade.json`), JSON.stringify(up, null, 1));
  }
  await c.rest.delete(`/apis/apps/v1/namespaces/${ns}/statefulsets/${name}`);
  return { secondsPerPod: (t1 - t0) / 1000 / replicas, requests, phase };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'baton-bench-k8s-'));
  let plane: ControlPlane | undefined;
  if (!process.env.BATON_CONTROLPLANE) {
    // The harness reads the control plane from this file (as in a test run).
    plane = await startControlPlane();
    process.env.BATON_CONTROLPLANE = join(dir, 'controlplane.json');
    await writeFile(process.env.BATON_CONTROLPLANE, JSON.stringify(plane.info));
  }
  const results = [];
  let peakRss = 0;
  try {
    for (const delay of DELAYS) {
      // One namespace, kubelet and operator per readiness delay; pods are deleted at once.
      const c = await createTestCluster({ readinessDelayMs: delay, podTerminationMs: 0 });
      try {
        await applyDeploy(c.controlPlane);
        const kubeconfig = join(dir, `${c.namespace}.kubeconfig`);
        await c.writeKubeconfig(kubeconfig, { token: await serviceAccountToken(c.rest) });
        const op = await OperatorProcess.start(c, kubeconfig, join(dir, 'operator.log'));
        try {
          for (const replicas of SIZES) {
            const a: number[] = [];
            const b: number[] = [];
            const requests: number[] = [];
            const phases: string[] = [];
            for (let run = 1; run <= RUNS; run++) {
              a.push(await native(c, `n${replicas}-${run}`, replicas));
              const r = await baton(c, `b${replicas}-${run}`, replicas);
              b.push(r.secondsPerPod);
              requests.push(r.requests / replicas);
              phases.push(r.phase);
            }
            const nativeS = median(a);
            const batonS = median(b);
            const ratio = round3(batonS / nativeS);
            const perMember = Number(median(requests).toFixed(1));
            results.push({
              readinessDelayMs: delay,
              replicas,
              nativeSecondsPerPod: round3(nativeS),
              batonSecondsPerPod: round3(batonS),
              ratio,
              requestsPerMember: perMember,
              runs: { native: a.map(round3), baton: b.map(round3), batonPhases: phases },
              met:
                phases.every((p) => p === 'Completed') &&
                ratio <= (TARGET_RATIO[delay] ?? 1.05) &&
                perMember <= TARGET_REQUESTS,
            });
          }
          peakRss = Math.max(peakRss, op.peakRssBytes());
        } finally {
          await op.stop();
        }
      } finally {
        await c.close();
      }
    }
    const rssMb = Number((peakRss / 2 ** 20).toFixed(1));
    process.stdout.write(
      JSON.stringify({
        controlPlane:
          'kube-apiserver, kube-controller-manager, kube-scheduler v1.37.2, etcd 3.6.17; fake kubelet',
        runsEach: RUNS,
        order: 'native, Baton, native, Baton, ... (fresh StatefulSet each run)',
        results,
        operatorPeakRssMb: rssMb,
        operatorProcess: OperatorProcess.description,
        targets: { ratio: TARGET_RATIO, requestsPerMember: TARGET_REQUESTS, rssMb: TARGET_RSS_MB },
        met: results.every((r) => r.met) && rssMb <= TARGET_RSS_MB,
      }) + '\n',
    );
  } catch (err) {
    const log = existsSync(join(dir, 'operator.log')) ? readFileSync(join(dir, 'operator.log'), 'utf8') : '';
    process.stderr.write(`${log.split('\n').slice(-30).join('\n')}\n`);
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
    await plane?.stop();
  }
}

await main();
