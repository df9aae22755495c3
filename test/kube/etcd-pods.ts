/**
 * A {@link PodRuntime} that runs a real etcd process (`/usr/bin/etcd`) for each pod of one
 * StatefulSet on the fake API server, so Baton's etcd engine can be driven against pods.
 *
 * - Member name = pod name; client and peer ports are chosen per ordinal once, on 127.0.0.1 only,
 *   and {@link EtcdPods.endpoints} gives them as `spec.target.endpoints`.
 * - Every image tag maps to the installed binary, as a registry would serve the tag; the tag is
 *   recorded as the pod's version (`BATON_VERSION` in the process environment).
 * - Each ordinal has a data directory that outlives its pods (like a PersistentVolumeClaim): a
 *   replaced pod rejoins with its old data; the first start of an ordinal bootstraps the cluster.
 * - A deleted pod's process gets SIGTERM, then SIGKILL after `stopTimeoutMs`; before signalling,
 *   the runtime asks the member whether it leads, so a test can check no leader was ever stopped.
 * - Ready = the member's `/health` says `true` (it has a leader and no alarm).
 *
 * `close()` stops every process this runtime started (by its recorded identity) and removes the
 * temporary directory. Use {@link startEtcdPods} to get one wired to a server and cleaned up.
 */
import { mkdir, mkdtemp, rm, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etcdFlags } from '../../src/engines/etcd/local.js';
import { systemClock } from '../../src/core/clock.js';
import type { LocalMemberLayout } from '../../src/platforms/local/adapter.js';
import { pickFreePorts } from '../../src/platforms/local/ports.js';
import { spawnDetached, stopProcess, type ProcessIdentity } from '../../src/platforms/local/process.js';
import { imageTag, ordinalOf } from '../../src/platforms/kubernetes/members.js';
import type { PodRuntime } from './kubelet.js';
import type { FakeApiServer } from './fake-apiserver.js';
import type { KubeObject } from './types.js';

/** The installed etcd every tag runs. */
export const ETCD_BINARY = '/usr/bin/etcd';

/** Options of {@link EtcdPods}. */
export interface EtcdPodsOptions {
  /** StatefulSet whose pods this runtime runs. */
  statefulSet: string;
  replicas: number;
  /** Namespace of the StatefulSet (default `default`). */
  namespace?: string;
  /** SIGTERM to SIGKILL bound of a stop (default 5000 ms). */
  stopTimeoutMs?: number;
  /** Uniform [0, 1) numbers for the port choice (default Math.random). */
  random?: () => number;
}

/** One start or stop of a pod's process, in the order they happened. */
export interface EtcdPodEvent {
  kind: 'start' | 'stop';
  pod: string;
  uid: string;
  /** Image tag the pod runs. */
  version: string;
  /** For a stop: whether the member led the cluster just before it was signalled. */
  wasLeader?: boolean;
}

interface Running {
  uid: string;
  id: ProcessIdentity;
  exited: boolean;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Real etcd processes behind the pods of one StatefulSet (see the module comment). */
export class EtcdPods implements PodRuntime {
  /** Starts and stops, in order. */
  readonly events: EtcdPodEvent[] = [];
  private readonly running = new Map<number, Running>();
  private readonly started = new Set<number>();
  private closed = false;

  private constructor(
    private readonly opts: EtcdPodsOptions,
    /** Temporary directory holding data directories and logs. */
    readonly dir: string,
    /** Member layouts by ordinal. */
    readonly layouts: LocalMemberLayout[],
  ) {}

  /** Choose ports and make the directory; nothing runs until the kubelet starts pods. */
  static async create(opts: EtcdPodsOptions): Promise<EtcdPods> {
    const dir = await mkdtemp(join(tmpdir(), 'baton-etcd-pods-'));
    const ports = await pickFreePorts(opts.replicas * 2, { random: opts.random ?? Math.random });
    const layouts = Array.from({ length: opts.replicas }, (_, ordinal) => {
      const name = `${opts.statefulSet}-${ordinal}`;
      return {
        name,
        ordinal,
        host: '127.0.0.1',
        ports: { client: ports[ordinal * 2]!, peer: ports[ordinal * 2 + 1]! },
        dataDir: join(dir, `data-${ordinal}`),
        logFile: join(dir, `${name}.log`),
      };
    });
    return new EtcdPods(opts, dir, layouts);
  }

  /** Client endpoint per pod name, as `spec.target.endpoints` wants it. */
  endpoints(): Record<string, string> {
    return Object.fromEntries(this.layouts.map((m) => [m.name, `127.0.0.1:${m.ports.client}`]));
  }

  /** PIDs of the processes running now. */
  pids(): number[] {
    return [...this.running.values()].filter((r) => !r.exited).map((r) => r.id.pid);
  }

  private ordinal(pod: KubeObject): number | undefined {
    const o = ordinalOf(this.opts.statefulSet, pod.metadata.name ?? '');
    return o !== undefined && o < this.layouts.length ? o : undefined;
  }

  claims(pod: KubeObject): boolean {
    return (
      !this.closed &&
      (pod.metadata.namespace ?? 'default') === (this.opts.namespace ?? 'default') &&
      this.ordinal(pod) !== undefined
    );
  }

  async start(pod: KubeObject): Promise<void> {
    const ordinal = this.ordinal(pod)!;
    const member = this.layouts[ordinal]!;
    const uid = pod.metadata.uid!;
    if (this.closed) return;
    const old = this.running.get(ordinal);
    if (old && !old.exited) {
      throw new Error(`${member.name}: the previous pod's etcd (pid ${old.id.pid}) still runs`);
    }
    const version = imageTag(podImage(pod));
    // The first start of an ordinal bootstraps it; later ones find `member/` in the kept volume.
    const state =
      this.started.has(ordinal) || (await exists(join(member.dataDir, 'member'))) ? 'existing' : 'new';
    this.started.add(ordinal);
    await mkdir(member.dataDir, { recursive: true, mode: 0o700 });
    const run: Running = { uid, id: { pid: 0, startTicks: -1, bootId: '' }, exited: false };
    this.running.set(ordinal, run);
    run.id = await spawnDetached(
      {
        command: ETCD_BINARY,
        args: etcdFlags(member, this.layouts, this.opts.statefulSet, state, {}),
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', BATON_MEMBER: member.name, BATON_VERSION: version },
        logFile: member.logFile,
      },
      () => {
        run.exited = true;
      },
    );
    this.events.push({ kind: 'start', pod: member.name, uid, version });
  }

  async stop(pod: KubeObject): Promise<void> {
    const ordinal = this.ordinal(pod);
    if (ordinal === undefined) return;
    const run = this.running.get(ordinal);
    if (!run || run.uid !== pod.metadata.uid || run.exited) return;
    const member = this.layouts[ordinal]!;
    const wasLeader = await this.leads(member);
    await stopProcess(run.id, { timeoutMs: this.opts.stopTimeoutMs ?? 5000, clock: systemClock });
    run.exited = true;
    this.events.push({
      kind: 'stop',
      pod: member.name,
      uid: run.uid,
      version: imageTag(podImage(pod)),
      wasLeader,
    });
  }

  async ready(pod: KubeObject): Promise<boolean> {
    const ordinal = this.ordinal(pod);
    const run = ordinal !== undefined ? this.running.get(ordinal) : undefined;
    if (!run || run.uid !== pod.metadata.uid || run.exited) return false;
    try {
      const res = await fetch(`http://127.0.0.1:${this.layouts[ordinal!]!.ports.client}/health`, {
        signal: AbortSignal.timeout(1000),
      });
      const body = (await res.json()) as { health?: string };
      return res.ok && body.health === 'true';
    } catch {
      return false;
    }
  }

  /** Whether the member at `member` says it leads (false when it does not answer). */
  private async leads(member: LocalMemberLayout): Promise<boolean> {
    try {
      const res = await fetch(`http://127.0.0.1:${member.ports.client}/v3/maintenance/status`, {
        method: 'POST',
        body: '{}',
        signal: AbortSignal.timeout(1000),
      });
      const s = (await res.json()) as { leader?: string; header?: { member_id?: string } };
      return !!s.leader && s.leader === s.header?.member_id;
    } catch {
      return false;
    }
  }

  /** Stop every process this runtime started (SIGKILL after 2 s) and remove its directory. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.running.values()]
        .filter((r) => !r.exited && r.id.pid > 0)
        .map((r) => stopProcess(r.id, { timeoutMs: 2000, clock: systemClock }).catch(() => undefined)),
    );
    await rm(this.dir, { recursive: true, force: true });
  }
}

function podImage(pod: KubeObject): string {
  const spec = pod.spec as { containers?: { image?: string }[] } | undefined;
  return spec?.containers?.[0]?.image ?? '';
}

/**
 * An {@link EtcdPods} runtime installed as `server`'s kubelet runtime, closed (processes stopped,
 * directory removed) when `t` ends.
 */
export async function startEtcdPods(
  t: { after(fn: () => unknown): void },
  server: FakeApiServer,
  opts: EtcdPodsOptions,
): Promise<EtcdPods> {
  const pods = await EtcdPods.create(opts);
  t.after(() => pods.close());
  server.kubelet.runtime = pods;
  return pods;
}
