/**
 * `npm run bench:k8s`: the operator upgrading a 10-replica and a 50-replica StatefulSet on the fake
 * API server (real HTTP, real client) with a fixed readiness delay. Prints ONE JSON object with,
 * per size: total time from the Upgrade's creation to Completed against the physical floor
 * (replicas x readiness delay: pods are replaced one at a time and each must become Ready), the
 * ratio of the two, API requests per member (every request the operator sent during the upgrade,
 * watches and Events included, from the fake server's counters), and the operator's resident
 * memory. The fake API server runs in a child process (this same file with `--fake-server`), so
 * the RSS is the operator's alone and the two do not share one event loop.
 * Targets: ratio <= 1.05, < 30 requests per member, < 150 MB resident. `breakdown` splits the
 * total into the start, the operator's reaction per member, the fake cluster's restart per member,
 * the readiness delay and the finish, from the fake server's own record of each pod.
 *
 * Environment: BATON_BENCH_READY_MS (default 200), BATON_BENCH_SIZES (default 10,50),
 * BATON_BENCH_NO_EVENTS=1 (record no Kubernetes Events, to see what they cost; with --in-process),
 * BATON_BENCH_NODE_FLAGS (Node flags of the operator process instead of the Deployment's, e.g. to
 * add --cpu-prof), BATON_BENCH_SERVER_FLAGS (extra Node flags of the fake server process).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoordinationV1Api,
  CustomObjectsApi,
  KubeConfig,
} from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { GROUP, PLURAL, VERSION, upgradeCrd } from '../src/api/upgrade.js';
import { systemClock } from '../src/core/clock.js';
import { nullLogger } from '../src/core/logger.js';
import { OPERATOR_NODE_OPTIONS } from '../src/operator/manifests.js';
import { Operator } from '../src/operator/operator.js';
import { startFakeApiServer, type RequestStats } from '../test/kube/fake-apiserver.js';
import { statefulSet } from '../test/k8s/operator-fixtures.js';

const NS = 'default';

const READINESS_DELAY_MS = Number(process.env.BATON_BENCH_READY_MS ?? 200);
const SIZES = (process.env.BATON_BENCH_SIZES ?? '10,50').split(',').map(Number);
const TERMINAL = ['Completed', 'Failed', 'Paused', 'Cancelled', 'Expired'];

type Request = { id: number; op: 'requests' | 'reset' | 'finished' | 'timeline' | 'close'; name?: string };

/** One pod incarnation (uid) as the fake server saw it: wall-clock ms of each transition. */
interface PodLife {
  name: string;
  uid: string;
  created: number;
  ready?: number;
  /** Deletion started (deletionTimestamp set, or removed outright). */
  down?: number;
}

/** What the fake server saw of one upgrade, for the breakdown. */
interface Timeline {
  pods: PodLife[];
  /** Arrival times of the operator's Upgrade status writes and StatefulSet patches. */
  statusWrites: number[];
  stsPatches: number[];
  /** When the Upgrade reached a terminal phase. */
  finished?: number;
}
type Reply = { id: number; result?: unknown };

/** Child mode: serve the fake API server and answer counter/peek requests over IPC. */
async function serve(kubeconfig: string): Promise<void> {
  const server = await startFakeApiServer({ readinessDelayMs: READINESS_DELAY_MS, podTerminationMs: 0 });
  await server.writeKubeconfig(kubeconfig);
  // Every pod incarnation and every Upgrade's end, stamped as the store changes (no requests).
  const lives = new Map<string, PodLife>();
  const finished = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  server.subscribe((e) => {
    const o = e.object as {
      metadata: { name?: string; uid?: string; deletionTimestamp?: string };
      status?: { phase?: string; conditions?: { type: string; status: string }[] };
    };
    const now = Date.now();
    if (e.key === '/pods') {
      const uid = o.metadata.uid ?? '';
      let life = lives.get(uid);
      if (!life) lives.set(uid, (life = { name: o.metadata.name ?? '', uid, created: now }));
      const ready = o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      if (ready && life.ready === undefined && !o.metadata.deletionTimestamp) life.ready = now;
      if ((e.type === 'DELETED' || o.metadata.deletionTimestamp) && life.down === undefined) life.down = now;
    } else if (e.key === `${GROUP}/${PLURAL}`) {
      const name = o.metadata.name ?? '';
      if (TERMINAL.includes(o.status?.phase ?? '') && !finished.has(name)) {
        finished.set(name, now);
        const w = waiters.get(name);
        waiters.delete(name);
        if (w) queueMicrotask(w);
      }
    }
  });
  process.on('message', (m: Request) => {
    const reply = (result?: unknown) => process.send!({ id: m.id, result } satisfies Reply);
    if (m.op === 'requests') {
      const r = server.requests();
      reply({ total: r.total, byVerbResource: r.byVerbResource });
    } else if (m.op === 'reset') {
      server.resetRequests();
      reply();
    } else if (m.op === 'finished') {
      // Answered from the store subscription when the Upgrade ends: waiting costs the server nothing.
      const name = `${m.name!}-up`;
      const phase = () =>
        (server.peek(GROUP, PLURAL, NS, name) as { status?: { phase?: string } } | undefined)?.status
          ?.phase ?? '';
      if (finished.has(name)) reply(phase());
      else waiters.set(name, () => reply(phase()));
    } else if (m.op === 'timeline') {
      const prefix = `${m.name!}-`;
      const entries = server.requests().entries;
      reply({
        pods: [...lives.values()].filter((l) => l.name.startsWith(prefix)),
        statusWrites: entries
          .filter((e) => e.verb === 'update' && e.resource === `${PLURAL}/status`)
          .map((e) => e.at),
        stsPatches: entries
          .filter((e) => e.verb === 'patch' && e.resource === 'statefulsets')
          .map((e) => e.at),
        finished: finished.get(`${m.name!}-up`),
      } satisfies Timeline);
    } else if (m.op === 'close') {
      void server.close().then(() => {
        reply();
        process.disconnect();
      });
    }
  });
  process.send!({ id: 0, result: 'ready' } satisfies Reply);
}

class FakeServerProcess {
  private next = 1;
  private readonly waiting = new Map<number, (v: unknown) => void>();

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: Reply) => {
      this.waiting.get(m.id)?.(m.result);
      this.waiting.delete(m.id);
    });
  }

  static async start(kubeconfig: string): Promise<FakeServerProcess> {
    const child = fork(new URL(import.meta.url).pathname, ['--fake-server', kubeconfig], {
      execArgv: [
        '--import',
        'tsx',
        ...(process.env.BATON_BENCH_SERVER_FLAGS ?? '').split(' ').filter(Boolean),
      ],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`fake API server exited with ${code}`)));
    });
    return new FakeServerProcess(child);
  }

  call<T>(op: Request['op'], name?: string): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve) => {
      this.waiting.set(id, resolve as (v: unknown) => void);
      this.child.send({ id, op, name } satisfies Request);
    });
  }

  async close(): Promise<void> {
    await this.call('close');
    if (this.child.exitCode === null) await new Promise((r) => this.child.once('exit', r));
  }
}

/** `baton operator` from the compiled build (`dist/`), in its own process. */
class OperatorProcess {
  private constructor(private readonly child: ChildProcess) {}

  static async start(kubeconfig: string): Promise<OperatorProcess> {
    const entry = new URL('../dist/operator/entrypoint.js', import.meta.url).pathname;
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first`);
    const child = spawn(
      process.execPath,
      [
        // The V8 limits the Deployment sets (NODE_OPTIONS); BATON_BENCH_NODE_FLAGS tries others.
        ...(process.env.BATON_BENCH_NODE_FLAGS ?? OPERATOR_NODE_OPTIONS).split(' ').filter(Boolean),
        entry,
        'operator',
        '--kubeconfig',
        kubeconfig,
        '-n',
        NS,
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--identity',
        'bench',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    return new OperatorProcess(child);
  }

  /** Until the operator holds the leader Lease. */
  async waitLeader(kc: KubeConfig): Promise<void> {
    const leases = kc.makeApiClient(CoordinationV1Api);
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`operator exited with ${this.child.exitCode}`);
      const lease = await leases
        .readNamespacedLease({ namespace: NS, name: 'baton-operator' })
        .catch(() => undefined);
      if (lease?.spec?.holderIdentity === 'bench') return;
      await sleep(20);
    }
  }

  private status(field: 'VmRSS' | 'VmHWM'): number {
    const text = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    const kb = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    return kb * 1024;
  }

  rssBytes(): number {
    return this.status('VmRSS');
  }

  /** Peak resident set of the operator process. */
  peakRssBytes(): number {
    return this.status('VmHWM');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length ? v[Math.floor((v.length - 1) / 2)]! : 0;
};

/**
 * Where the time went, from the fake server's own record of each pod and of the Upgrade:
 * - `startMs`: Upgrade created -> first pod going down (planning, prechecks, template write).
 * - `reactionMs`: a replaced pod Ready -> the next pod going down (the operator noticing, writing
 *   its intent, reading the StatefulSet and pods, stepping the partition, and the controller acting).
 * - `restartMs`: a pod going down -> its replacement created (the fake controller and kubelet).
 * - `readyMs`: replacement created -> Ready (the fixed readiness delay).
 * - `finishMs`: last pod Ready -> Upgrade Completed (the health gate and the last writes).
 * The sum is the total; everything except `readyMs` is what the floor does not count.
 */
function breakdown(t: Timeline, createdAt: number) {
  // Old incarnations went down in roll order; each one's successor is the next pod of that name.
  const downs = t.pods
    .filter((l) => l.down !== undefined && l.down >= createdAt)
    .sort((a, b) => a.down! - b.down!);
  const steps = downs.map((old) => {
    const next = t.pods
      .filter((l) => l.name === old.name && l.created >= old.down! && l.uid !== old.uid)
      .sort((a, b) => a.created - b.created)[0];
    return { down: old.down!, created: next?.created, ready: next?.ready };
  });
  const complete = steps.every((s) => s.created !== undefined && s.ready !== undefined);
  if (!complete || steps.length === 0) return undefined;
  const reaction = steps.slice(1).map((s, i) => s.down - steps[i]!.ready!);
  // The reaction in three parts: Ready -> the intent write arrives -> the partition patch arrives
  // -> the pod goes down (the StatefulSet controller's part).
  const firstAfter = (xs: number[], t0: number) => xs.find((x) => x >= t0);
  const parts = steps.slice(1).flatMap((s, i) => {
    const readyAt = steps[i]!.ready!;
    const intent = firstAfter(t.statusWrites, readyAt);
    const patch = intent !== undefined ? firstAfter(t.stsPatches, intent) : undefined;
    return intent !== undefined && patch !== undefined && patch <= s.down
      ? [{ wake: intent - readyAt, write: patch - intent, controller: s.down - patch }]
      : [];
  });
  const restart = steps.map((s) => s.created! - s.down);
  const ready = steps.map((s) => s.ready! - s.created!);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return {
    startMs: steps[0]!.down - createdAt,
    reactionMs: {
      median: median(reaction),
      max: Math.max(0, ...reaction),
      total: sum(reaction),
      // Medians of: Ready -> intent write arrives; -> partition patch arrives; -> pod going down.
      wakeToIntent: median(parts.map((p) => p.wake)),
      intentToPatch: median(parts.map((p) => p.write)),
      patchToDown: median(parts.map((p) => p.controller)),
    },
    restartMs: { median: median(restart), max: Math.max(...restart), total: sum(restart) },
    readyMs: { median: median(ready), total: sum(ready) },
    finishMs: t.finished !== undefined ? t.finished - steps.at(-1)!.ready! : undefined,
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'baton-bench-k8s-'));
  const fake = await FakeServerProcess.start(join(dir, 'kubeconfig'));
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(join(dir, 'kubeconfig'));
    await kc
      .makeApiClient(ApiextensionsV1Api)
      .createCustomResourceDefinition({ body: upgradeCrd() as never });
    const apps = kc.makeApiClient(AppsV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const baselineRss = process.memoryUsage().rss;
    // By default the operator runs as it is deployed: the compiled CLI (`npm run build`) on plain
    // Node in its own process, so its memory is its own. `--in-process` runs it inside this
    // (tsx) process instead, for profiling.
    const inProcess = process.argv.includes('--in-process');
    const child = inProcess ? undefined : await OperatorProcess.start(join(dir, 'kubeconfig'));
    const op = inProcess
      ? new Operator({
          kc,
          namespace: NS,
          identity: 'bench',
          ...(process.env.BATON_BENCH_NO_EVENTS ? { events: false as const } : {}),
          clock: systemClock,
          logger: nullLogger,
          registry: new Registry(),
        })
      : undefined;
    if (op) {
      await op.start();
      while (!op.isLeader()) await sleep(5);
    } else {
      await child!.waitLeader(kc);
    }
    const rss = () => (child ? child.rssBytes() : process.memoryUsage().rss);
    let peakRss = rss();
    const sizes = [];
    for (const replicas of SIZES) {
      const name = `bench${replicas}`;
      await apps.createNamespacedStatefulSet({ namespace: NS, body: statefulSet(name, replicas) });
      for (;;) {
        const s = await apps.readNamespacedStatefulSet({ namespace: NS, name });
        if (s.status?.readyReplicas === replicas && s.status.updatedReplicas === replicas) break;
        await sleep(20);
      }
      await fake.call('reset');
      const createdAt = Date.now();
      await custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: NS,
        plural: PLURAL,
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'Upgrade',
          metadata: { name: `${name}-up` },
          spec: { target: { statefulSet: name }, version: '1.1.0' },
        },
      });
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, rss())), 20);
      const phase = await fake.call<string>('finished', name);
      clearInterval(sampler);
      const stats = await fake.call<Pick<RequestStats, 'total' | 'byVerbResource'>>('requests');
      // The benchmark's own create of the Upgrade is not the operator's.
      const requests = stats.total - 1;
      const floorMs = replicas * READINESS_DELAY_MS;
      const timeline = await fake.call<Timeline>('timeline', name);
      // From the create request to the status write that ended it, as the server recorded it.
      const totalMs = (timeline.finished ?? Date.now()) - createdAt;
      sizes.push({
        replicas,
        phase,
        totalMs: Math.round(totalMs),
        floorMs,
        ratio: Number((totalMs / floorMs).toFixed(3)),
        requestsPerMember: Number((requests / replicas).toFixed(1)),
        requests,
        requestsByVerbResource: stats.byVerbResource,
        breakdown: breakdown(timeline, createdAt),
      });
    }
    peakRss = Math.max(peakRss, child ? child.peakRssBytes() : rss());
    const rssMb = Number((peakRss / 2 ** 20).toFixed(1));
    process.stdout.write(
      JSON.stringify({
        readinessDelayMs: READINESS_DELAY_MS,
        sizes,
        operatorRssMb: rssMb,
        operatorProcess: child ? 'compiled CLI in its own process (VmHWM)' : 'in the benchmark process (tsx)',
        // The benchmark process before the operator started: Node, tsx and the loaded modules.
        baselineRssMb: Number((baselineRss / 2 ** 20).toFixed(1)),
        targets: { ratio: 1.05, requestsPerMember: 30, rssMb: 150 },
        met:
          sizes.every((s) => s.phase === 'Completed' && s.ratio <= 1.05 && s.requestsPerMember < 30) &&
          rssMb < 150,
      }) + '\n',
    );
    await op?.stop();
    await child?.stop();
  } finally {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--fake-server') await serve(process.argv[3]!);
else await main();
