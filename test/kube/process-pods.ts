/**
 * A {@link PodRuntime} that runs one real database process per pod of one StatefulSet on the test
 * control plane (the fake kubelet calls it for the pods bound to its nodes), built from the
 * engine's local-platform adapter (`wiring/local/<name>.ts`: command
 * line, data initialisation, cluster bootstrap), so Baton's engines can be driven against pods.
 *
 * - Member name = pod name; the adapter's ports are chosen per ordinal once, on 127.0.0.1 only,
 *   and {@link ProcessPods.endpoints} gives them as `spec.target.endpoints`.
 * - Every image tag runs the installed binary, as a registry would serve the tag; the tag is
 *   recorded as the pod's version (`BATON_VERSION` in the process environment).
 * - Each ordinal has a data directory that outlives its pods (like a PersistentVolumeClaim): a
 *   replaced pod comes back with its old data.
 * - A deleted pod's process gets the adapter's stop signal, then SIGKILL after `stopTimeoutMs`.
 *   Before signalling, the optional `leads` hook asks whether the member leads, so a test can
 *   check that no leader was ever stopped.
 * - Ready = the `ready` hook (default: the adapter's ping).
 *
 * `close()` stops every process this runtime started (by its recorded identity) and removes the
 * temporary directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../src/core/clock.js';
import { nullLogger } from '../../src/core/logger.js';
import type {
  AdapterContext,
  LocalEngineAdapter,
  LocalMemberLayout,
} from '../../src/platforms/local/adapter.js';
import { pickFreePorts } from '../../src/platforms/local/ports.js';
import {
  effectiveRunAs,
  spawnDetached,
  stopProcess,
  type ProcessIdentity,
} from '../../src/platforms/local/process.js';
import { imageTag, ordinalOf } from '../../src/platforms/kubernetes/members.js';
import type { V1Pod } from '@kubernetes/client-node';
import type { PodRuntime } from './fake-kubelet.js';
import type { TestCluster } from './test-cluster.js';

/** Options of {@link ProcessPods}. */
export interface ProcessPodsOptions {
  /** How the engine's processes run. */
  adapter: LocalEngineAdapter;
  /** StatefulSet whose pods this runtime runs. */
  statefulSet: string;
  replicas: number;
  /** Namespace of the StatefulSet (default: the test cluster's). */
  namespace?: string;
  /** Graceful-stop to SIGKILL bound (default 5000 ms). */
  stopTimeoutMs?: number;
  /** Uniform [0, 1) numbers for the port choice (default Math.random). */
  random?: () => number;
  /** Readiness of a running member (default: the adapter's ping). Must not throw. */
  ready?: (member: LocalMemberLayout) => Promise<boolean>;
  /** Whether a member leads right now, asked before its process is stopped. Must not throw. */
  leads?: (member: LocalMemberLayout) => Promise<boolean>;
}

/** One start or stop of a pod's process, in the order they happened. */
export interface PodProcessEvent {
  kind: 'start' | 'stop';
  pod: string;
  uid: string;
  /** Image tag the pod runs. */
  version: string;
  /** For a stop with a `leads` hook: whether the member led just before it was signalled. */
  wasLeader?: boolean;
}

interface Running {
  uid: string;
  id?: ProcessIdentity;
  exited: boolean;
}

function podImage(pod: V1Pod): string {
  return pod.spec?.containers?.[0]?.image ?? '';
}

/** Real processes behind the pods of one StatefulSet (see the module comment). */
export class ProcessPods implements PodRuntime {
  /** Starts and stops, in order. */
  readonly events: PodProcessEvent[] = [];
  private readonly running = new Map<number, Running>();
  private readonly initialised = new Set<number>();
  private installed: Promise<string> | undefined;
  private closed = false;

  private constructor(
    private readonly opts: ProcessPodsOptions,
    /** Temporary directory holding data directories and logs. */
    readonly dir: string,
    /** Member layouts by ordinal. */
    readonly layouts: LocalMemberLayout[],
  ) {}

  /** Choose ports and make the directory; nothing runs until the kubelet starts pods. */
  static async create(opts: ProcessPodsOptions): Promise<ProcessPods> {
    const dir = await mkdtemp(join(tmpdir(), `baton-${opts.adapter.engine}-pods-`));
    const names = opts.adapter.portNames;
    const ports = await pickFreePorts(opts.replicas * names.length, { random: opts.random ?? Math.random });
    const layouts = Array.from({ length: opts.replicas }, (_, ordinal) => {
      const name = `${opts.statefulSet}-${ordinal}`;
      return {
        name,
        ordinal,
        host: '127.0.0.1',
        ports: Object.fromEntries(names.map((n, i) => [n, ports[ordinal * names.length + i]!])),
        dataDir: join(dir, `data-${ordinal}`),
        logFile: join(dir, `${name}.log`),
      };
    });
    return new ProcessPods(opts, dir, layouts);
  }

  /** What the adapter is told about where it runs. */
  context(): AdapterContext {
    return {
      clock: systemClock,
      logger: nullLogger,
      cluster: {
        name: this.opts.statefulSet,
        engine: this.opts.adapter.engine,
        dir: this.dir,
        members: this.layouts,
      },
      registeredBinaries: {},
    };
  }

  /** Admin endpoint per pod name, as `spec.target.endpoints` wants it. */
  endpoints(): Record<string, string> {
    return Object.fromEntries(
      this.layouts.map((m) => [m.name, `127.0.0.1:${m.ports[this.opts.adapter.endpointPort]!}`]),
    );
  }

  /** PIDs of the processes running now. */
  pids(): number[] {
    return [...this.running.values()].filter((r) => !r.exited && r.id).map((r) => r.id!.pid);
  }

  private ordinal(pod: V1Pod): number | undefined {
    const o = ordinalOf(this.opts.statefulSet, pod.metadata?.name ?? '');
    return o !== undefined && o < this.layouts.length ? o : undefined;
  }

  /** The one installed version every tag runs (the adapter's newest). */
  private installedVersion(): Promise<string> {
    this.installed ??= this.opts.adapter.installedVersions({ registeredBinaries: {} }).then((all) => {
      const v = all.at(-1);
      if (!v) throw new Error(`no ${this.opts.adapter.engine} binary is installed`);
      return v;
    });
    return this.installed;
  }

  claims(pod: V1Pod): boolean {
    return !this.closed && pod.metadata?.namespace === this.opts.namespace && this.ordinal(pod) !== undefined;
  }

  async start(pod: V1Pod): Promise<void> {
    const ordinal = this.ordinal(pod)!;
    const member = this.layouts[ordinal]!;
    const uid = pod.metadata!.uid!;
    const old = this.running.get(ordinal);
    if (old && !old.exited) {
      throw new Error(`${member.name}: the previous pod's process (pid ${old.id?.pid}) still runs`);
    }
    const run: Running = { uid, exited: false };
    this.running.set(ordinal, run);
    const ctx = this.context();
    const version = await this.installedVersion();
    if (!this.initialised.has(ordinal)) {
      await this.opts.adapter.initMember(member, version, ctx);
      this.initialised.add(ordinal);
    }
    const spec = await this.opts.adapter.launch(member, version, {}, ctx);
    // The unprivileged user the adapter asks for when the tests run as root (PostgreSQL refuses root).
    const user = await effectiveRunAs(spec.runAsUser);
    const tag = imageTag(podImage(pod));
    if (this.closed || run.exited) {
      run.exited = true;
      return;
    }
    run.id = await spawnDetached(
      {
        command: spec.command,
        args: spec.args,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          ...spec.env,
          BATON_MEMBER: member.name,
          BATON_VERSION: tag,
        },
        ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
        logFile: member.logFile,
        ...(user ? { user } : {}),
      },
      () => {
        run.exited = true;
      },
    );
    if (this.closed) {
      // close() ran while this process was being spawned: it did not see it, so stop it here.
      await stopProcess(run.id, { timeoutMs: 2000, clock: systemClock }).catch(() => undefined);
      run.exited = true;
      return;
    }
    this.events.push({ kind: 'start', pod: member.name, uid, version: tag });
  }

  async stop(pod: V1Pod): Promise<void> {
    const ordinal = this.ordinal(pod);
    if (ordinal === undefined) return;
    const run = this.running.get(ordinal);
    if (!run || run.uid !== pod.metadata?.uid || run.exited || !run.id) return;
    const member = this.layouts[ordinal]!;
    const wasLeader = this.opts.leads ? await this.opts.leads(member) : undefined;
    await stopProcess(run.id, {
      signal: this.opts.adapter.stopSignal ?? 'SIGTERM',
      timeoutMs: this.opts.stopTimeoutMs ?? 5000,
      clock: systemClock,
    });
    run.exited = true;
    this.events.push({
      kind: 'stop',
      pod: member.name,
      uid: run.uid,
      version: imageTag(podImage(pod)),
      ...(wasLeader !== undefined ? { wasLeader } : {}),
    });
  }

  async ready(pod: V1Pod): Promise<boolean> {
    const ordinal = this.ordinal(pod);
    const run = ordinal !== undefined ? this.running.get(ordinal) : undefined;
    if (!run || run.uid !== pod.metadata?.uid || run.exited || !run.id) return false;
    const member = this.layouts[ordinal!]!;
    try {
      return await (this.opts.ready
        ? this.opts.ready(member)
        : this.opts.adapter.ping(member, this.context()));
    } catch {
      return false;
    }
  }

  /** Pods in the order their processes were stopped. */
  stopOrder(): string[] {
    return this.events.filter((e) => e.kind === 'stop').map((e) => e.pod);
  }

  /** Pods that were stopped while their member led (needs a `leads` hook). */
  leaderStops(): string[] {
    return this.events.filter((e) => e.kind === 'stop' && e.wasLeader).map((e) => e.pod);
  }

  /** Stop every process this runtime started (SIGKILL after 2 s) and remove its directory. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.running.values()]
        .filter((r) => !r.exited && r.id)
        .map((r) => stopProcess(r.id, { timeoutMs: 2000, clock: systemClock }).catch(() => undefined)),
    );
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * A {@link ProcessPods} runtime installed as the test cluster's kubelet runtime, closed (processes
 * stopped, directory removed) when `t` ends.
 */
export async function startProcessPods(
  t: { after(fn: () => unknown): void },
  server: TestCluster,
  opts: ProcessPodsOptions,
): Promise<ProcessPods> {
  const pods = await ProcessPods.create({ ...opts, namespace: opts.namespace ?? server.namespace });
  t.after(() => pods.close());
  server.kubelet.settings.runtime = pods;
  return pods;
}
