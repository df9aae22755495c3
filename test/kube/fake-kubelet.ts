/**
 * The one simulated part of the test stack: a kubelet for one or more fake nodes, talking to the
 * real kube-apiserver. It follows what the real kubelet writes (pkg/kubelet/kubelet_node_status.go,
 * pkg/kubelet/nodelease/, pkg/kubelet/status/status_manager.go) without running containers:
 *
 * - registers each Node (labels, taints, capacity, `nodeInfo.kubeletVersion`, addresses, the Ready
 *   condition) and renews its Lease in `kube-node-lease` every 10 s, so the real node lifecycle
 *   controller keeps it Ready;
 * - watches the pods the real scheduler binds to its nodes (`spec.nodeName=<node>`) and takes them
 *   Pending -> Running -> Ready after the readiness delay (settings, or the pod annotation
 *   {@link READY_DELAY_ANNOTATION}); {@link NEVER_READY_ANNOTATION} keeps a pod unready,
 *   {@link CRASH_ANNOTATION} puts it in CrashLoopBackOff, a "bad image" leaves it Pending in
 *   ImagePullBackOff, and a changed container image restarts it;
 * - pods that do not restart (`restartPolicy` Never/OnFailure: Job pods) finish after
 *   {@link RUN_MS_ANNOTATION} (default: the readiness delay) with {@link EXIT_CODE_ANNOTATION}
 *   (default 0), Succeeded or Failed;
 * - honours graceful deletion: a deleted pod turns unready, its containers "stop" within the
 *   termination delay (bounded by its grace period), and the kubelet then deletes it for good
 *   with grace period 0 and a UID precondition, as the status manager does;
 * - with a {@link PodRuntime}, the pods it claims run real processes (see process-pods.ts):
 *   started once bound, Ready only while the runtime's probe says so, Terminating until stopped.
 *
 * Pod status is written with strategic merge patches of `pods/status`, only when it changes.
 */
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { PATCH, Rest } from './rest.js';

/** Pod annotation: readiness delay of this pod in milliseconds. */
export const READY_DELAY_ANNOTATION = 'fake.baton.dev/ready-delay-ms';
/** Pod annotation: `"true"` keeps the pod Running but unready forever. */
export const NEVER_READY_ANNOTATION = 'fake.baton.dev/never-ready';
/** Pod annotation: `"true"` makes its containers crash (CrashLoopBackOff, never Ready). */
export const CRASH_ANNOTATION = 'fake.baton.dev/crash';
/** Pod annotation: how long a pod that does not restart runs before it exits (ms). */
export const RUN_MS_ANNOTATION = 'fake.baton.dev/run-ms';
/** Pod annotation: exit code of such a pod (default 0). */
export const EXIT_CODE_ANNOTATION = 'fake.baton.dev/exit-code';
/** Version the fake nodes report as `nodeInfo.kubeletVersion` by default. */
export const DEFAULT_KUBELET_VERSION = 'v1.37.2';

/**
 * What runs the containers of the pods it claims (a test's real processes). Calls for one pod
 * never overlap: start, stop and restart are chained in order.
 */
export interface PodRuntime {
  /** Whether this runtime runs `pod` (others keep the simulated behaviour). */
  claims(pod: V1Pod): boolean;
  /** Start the pod's containers; a rejection leaves the pod Running and unready. */
  start(pod: V1Pod): Promise<void>;
  /** Stop them; the pod stays Terminating until this settles. Must be harmless when not running. */
  stop(pod: V1Pod): Promise<void>;
  /** Readiness probe: the pod serves now. Must not throw. */
  ready(pod: V1Pod): Promise<boolean>;
}

/** Default period of a runtime's readiness probe. */
export const DEFAULT_PROBE_PERIOD_MS = 100;

/** Kubelet settings tests may change while it runs. */
export interface KubeletSettings {
  /** Time from container start to Ready (default 30 ms). */
  readinessDelayMs: number;
  /** How long containers take to stop after a deletion, at most the grace period (default 20 ms). */
  podTerminationMs: number;
  /**
   * Images (exact string or pattern) that never pull. Checked when a pod's containers start, as a
   * real pull fails then: a container already running an image keeps running when it is added.
   */
  badImages: (string | RegExp)[];
  /** Runs claimed pods for real (see {@link PodRuntime}). */
  runtime?: PodRuntime;
  /** Readiness probe period of runtime pods; default {@link DEFAULT_PROBE_PERIOD_MS}. */
  probePeriodMs?: number;
}

/** A fake node to register. */
export interface FakeNodeSpec {
  name: string;
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' }[];
  /** `nodeInfo.kubeletVersion` (default {@link DEFAULT_KUBELET_VERSION}). */
  kubeletVersion?: string;
  /** Capacity (default cpu 16, memory 64Gi, pods 110). */
  capacity?: Record<string, string>;
}

interface PodState {
  uid: string;
  pod: V1Pod;
  specKey: string;
  /** When the current containers started (ms). */
  startedAt: number;
  /** Whether the current containers' image failed to pull (decided when they started). */
  pullFailed: boolean;
  restarts: number;
  terminating: boolean;
  timer?: NodeJS.Timeout;
  rt?: {
    runtime: PodRuntime;
    chain: Promise<void>;
    ready: boolean;
    stopping: boolean;
    probe?: NodeJS.Timeout;
  };
  syncing: boolean;
  again: boolean;
  gone: boolean;
}

interface NodeState {
  spec: FakeNodeSpec;
  uid: string;
  watch: { stop(): void; synced: Promise<void> };
  lease?: NodeJS.Timeout;
  ready: boolean;
}

type Phase = 'bad' | 'crash' | 'running' | 'ready' | 'succeeded' | 'failed' | 'terminating';

/** A kubelet for a set of fake nodes (see the module comment). */
export class FakeKubelet {
  readonly settings: KubeletSettings;
  private readonly rest: Rest;
  private readonly nodes = new Map<string, NodeState>();
  private readonly pods = new Map<string, PodState>();
  private ipCounter = 0;
  private closed = false;
  /** Errors of background writes, for debugging a stuck test. */
  readonly errors: string[] = [];

  /** `kc` authenticates as the fake kubelet directly against the apiserver (not the fault proxy). */
  constructor(kc: KubeConfig, settings: Partial<KubeletSettings> = {}) {
    this.rest = new Rest(kc);
    this.settings = { readinessDelayMs: 30, podTerminationMs: 20, badImages: [], ...settings };
  }

  /** Names of the registered nodes. */
  nodeNames(): string[] {
    return [...this.nodes.keys()];
  }

  /**
   * Register a node (Node object, Ready status, Lease), start running the pods bound to it, and
   * resolve once the node lifecycle controller has made it schedulable.
   */
  async addNode(spec: FakeNodeSpec): Promise<void> {
    const capacity = spec.capacity ?? {
      cpu: '16',
      memory: '64Gi',
      pods: '110',
      'ephemeral-storage': '100Gi',
    };
    const created = await this.rest.post<{ metadata: { uid: string } }>('/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: spec.name,
        labels: {
          'kubernetes.io/hostname': spec.name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          ...spec.labels,
        },
      },
      spec: spec.taints?.length ? { taints: spec.taints } : {},
    });
    const state: NodeState = {
      spec,
      uid: created.metadata.uid,
      ready: true,
      watch: this.rest.listWatch<V1Pod>(
        '/api/v1/pods',
        { fieldSelector: `spec.nodeName=${spec.name}` },
        (type, pod) => this.observe(type, pod),
      ),
    };
    this.nodes.set(spec.name, state);
    await this.writeNodeStatus(spec.name, capacity);
    await this.renewLease(state, true);
    state.lease = setInterval(() => void this.renewLease(state, false), 10_000);
    await state.watch.synced;
    // A new Node gets the `node.kubernetes.io/not-ready` taint (TaintNodesByCondition) until the
    // node lifecycle controller sees it Ready; pods scheduled before then would back off.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const node = await this.rest.get<{ spec?: { taints?: { key: string }[] } }>(
        `/api/v1/nodes/${spec.name}`,
      );
      if (!node.spec?.taints?.some((t) => t.key.startsWith('node.kubernetes.io/'))) return;
      if (Date.now() > deadline) throw new Error(`node ${spec.name} still tainted not-ready after 60 s`);
      await sleep(50);
    }
  }

  /** Set the node's Ready condition (false: as a kubelet that lost its runtime reports). */
  async setNodeReady(name: string, ready: boolean): Promise<void> {
    const node = this.nodes.get(name);
    if (!node) throw new Error(`no fake node ${name}`);
    node.ready = ready;
    await this.rest.patch(
      `/api/v1/nodes/${name}/status`,
      { status: { conditions: [nodeReadyCondition(ready)] } },
      PATCH.strategic,
    );
  }

  /** Report another kubelet version (a node upgraded in place). */
  async setKubeletVersion(name: string, version: string): Promise<void> {
    const node = this.nodes.get(name);
    if (!node) throw new Error(`no fake node ${name}`);
    node.spec.kubeletVersion = version;
    await this.rest.patch(
      `/api/v1/nodes/${name}/status`,
      { status: { nodeInfo: { kubeletVersion: version } } },
      PATCH.strategic,
    );
  }

  /**
   * Stop serving a node: its pods' processes stop, its pods are deleted at once, the Node and its
   * Lease are removed.
   */
  async removeNode(name: string): Promise<void> {
    const node = this.nodes.get(name);
    if (!node) return;
    this.nodes.delete(name);
    node.watch.stop();
    clearInterval(node.lease);
    const mine = [...this.pods.values()].filter((p) => p.pod.spec?.nodeName === name);
    await Promise.all(
      mine.map(async (p) => {
        this.forget(p);
        if (p.rt) await this.stopRuntime(p);
        await this.rest.delete(podPath(p.pod), { gracePeriodSeconds: 0 }).catch(() => undefined);
      }),
    );
    await this.rest.delete(`/api/v1/nodes/${name}`).catch(() => undefined);
    await this.rest
      .delete(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`)
      .catch(() => undefined);
  }

  /** Remove every node (see {@link removeNode}) and stop all timers. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.nodeNames().map((n) => this.removeNode(n)));
    for (const p of this.pods.values()) this.forget(p);
    this.pods.clear();
  }

  /** True when an image is in the bad set. */
  isBadImage(image: string | undefined): boolean {
    if (!image) return false;
    return this.settings.badImages.some((b) => (typeof b === 'string' ? b === image : b.test(image)));
  }

  private pullFails(pod: V1Pod): boolean {
    return (pod.spec?.containers ?? []).some((c) => this.isBadImage(c.image));
  }

  private async writeNodeStatus(name: string, capacity: Record<string, string>): Promise<void> {
    const node = this.nodes.get(name)!;
    await this.rest.patch(
      `/api/v1/nodes/${name}/status`,
      {
        status: {
          capacity,
          allocatable: capacity,
          conditions: [
            pressure('MemoryPressure', 'KubeletHasSufficientMemory'),
            pressure('DiskPressure', 'KubeletHasNoDiskPressure'),
            pressure('PIDPressure', 'KubeletHasSufficientPID'),
            nodeReadyCondition(node.ready),
          ],
          addresses: [
            { type: 'InternalIP', address: '127.0.0.1' },
            { type: 'Hostname', address: name },
          ],
          daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
          nodeInfo: {
            machineID: node.uid.replaceAll('-', ''),
            systemUUID: node.uid,
            bootID: node.uid,
            kernelVersion: '6.1.0-fake',
            osImage: 'Baton fake kubelet',
            containerRuntimeVersion: 'fake://1.0.0',
            kubeletVersion: node.spec.kubeletVersion ?? DEFAULT_KUBELET_VERSION,
            kubeProxyVersion: '',
            operatingSystem: 'linux',
            architecture: 'amd64',
          },
        },
      },
      PATCH.strategic,
    );
  }

  private async renewLease(node: NodeState, create: boolean): Promise<void> {
    const name = node.spec.name;
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`;
    const renewTime = new Date().toISOString().replace('Z', '000Z');
    try {
      if (create) {
        await this.rest.post('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name,
            namespace: 'kube-node-lease',
            ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name, uid: node.uid }],
          },
          spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime },
        });
      } else {
        await this.rest.patch(path, { spec: { renewTime } });
      }
    } catch (err) {
      this.errors.push(`lease ${name}: ${String(err)}`);
    }
  }

  private observe(type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid || this.closed) return;
    let state = this.pods.get(uid);
    if (type === 'DELETED') {
      if (state) {
        this.forget(state);
        this.pods.delete(uid);
        // Removed without waiting for us (grace period 0, force delete): stop its processes.
        if (state.rt) void this.stopRuntime(state);
      }
      return;
    }
    if (!state) {
      state = {
        uid,
        pod,
        specKey: specKey(pod),
        startedAt: Date.now(),
        pullFailed: this.pullFails(pod),
        restarts: 0,
        terminating: false,
        syncing: false,
        again: false,
        gone: false,
      };
      this.pods.set(uid, state);
    }
    state.pod = pod;
    this.kick(state);
  }

  private forget(state: PodState): void {
    state.gone = true;
    clearTimeout(state.timer);
    if (state.rt) clearTimeout(state.rt.probe);
  }

  /** Run `sync` for this pod, never two at once; a kick during a sync runs it again after. */
  private kick(state: PodState): void {
    if (state.gone) return;
    if (state.syncing) {
      state.again = true;
      return;
    }
    state.syncing = true;
    void this.sync(state)
      .catch((err: unknown) => this.errors.push(`pod ${state.pod.metadata?.name}: ${String(err)}`))
      .finally(() => {
        state.syncing = false;
        if (state.again) {
          state.again = false;
          this.kick(state);
        }
      });
  }

  private after(state: PodState, ms: number): void {
    clearTimeout(state.timer);
    state.timer = setTimeout(() => this.kick(state), Math.max(0, ms) + 2);
  }

  private async sync(state: PodState): Promise<void> {
    const pod = state.pod;
    const now = Date.now();
    const key = specKey(pod);
    const restarted = key !== state.specKey;
    if (restarted) {
      state.specKey = key;
      state.startedAt = now;
      state.pullFailed = this.pullFails(pod);
    }
    const runtime = this.settings.runtime;
    if (pod.metadata?.deletionTimestamp) {
      if (!state.terminating) {
        state.terminating = true;
        clearTimeout(state.timer);
        await this.writeStatus(state, 'terminating');
        const grace = (pod.metadata.deletionGracePeriodSeconds ?? 30) * 1000;
        const stopped = state.rt ? this.stopRuntime(state) : Promise.resolve();
        await Promise.all([stopped, sleep(Math.min(this.settings.podTerminationMs, grace))]);
        if (state.gone) return;
        await this.rest.delete(podPath(pod), { gracePeriodSeconds: 0, preconditions: { uid: state.uid } });
      }
      return;
    }
    if (runtime && (!state.rt || restarted) && runtime.claims(pod))
      this.startRuntime(state, runtime, restarted);
    await this.writeStatus(state, this.phase(state, now));
  }

  private phase(state: PodState, now: number): Phase {
    const pod = state.pod;
    const ann = pod.metadata?.annotations ?? {};
    if (state.pullFailed) return 'bad';
    if (ann[CRASH_ANNOTATION] === 'true') return 'crash';
    const restarts = (pod.spec?.restartPolicy ?? 'Always') === 'Always';
    if (!restarts) {
      const runMs = numberAnnotation(ann[RUN_MS_ANNOTATION]) ?? this.settings.readinessDelayMs;
      if (now - state.startedAt < runMs) {
        this.after(state, state.startedAt + runMs - now);
        return 'running';
      }
      return (numberAnnotation(ann[EXIT_CODE_ANNOTATION]) ?? 0) === 0 ? 'succeeded' : 'failed';
    }
    if (ann[NEVER_READY_ANNOTATION] === 'true') return 'running';
    if (state.rt) return state.rt.ready ? 'ready' : 'running';
    const delay = numberAnnotation(ann[READY_DELAY_ANNOTATION]) ?? this.settings.readinessDelayMs;
    if (now - state.startedAt >= delay) return 'ready';
    this.after(state, state.startedAt + delay - now);
    return 'running';
  }

  private startRuntime(state: PodState, runtime: PodRuntime, restart: boolean): void {
    const previous = state.rt;
    if (previous) {
      previous.stopping = true;
      clearTimeout(previous.probe);
    }
    const rt: NonNullable<PodState['rt']> = {
      runtime,
      chain: previous?.chain ?? Promise.resolve(),
      ready: false,
      stopping: false,
    };
    state.rt = rt;
    const pod = state.pod;
    rt.chain = rt.chain
      .then(() => (restart && previous ? previous.runtime.stop(pod) : undefined))
      .then(() => (rt.stopping ? undefined : runtime.start(pod)))
      .then(
        () => this.probe(state, rt),
        (err: unknown) => {
          this.errors.push(`start ${pod.metadata?.name}: ${String(err)}`);
        },
      );
  }

  private probe(state: PodState, rt: NonNullable<PodState['rt']>): void {
    if (rt.stopping || state.gone) return;
    void rt.runtime
      .ready(state.pod)
      .catch(() => false)
      .then((ok) => {
        if (rt.stopping || state.gone) return;
        if (ok !== rt.ready) {
          rt.ready = ok;
          this.kick(state);
        }
        rt.probe = setTimeout(
          () => this.probe(state, rt),
          this.settings.probePeriodMs ?? DEFAULT_PROBE_PERIOD_MS,
        );
      });
  }

  private stopRuntime(state: PodState): Promise<void> {
    const rt = state.rt!;
    if (!rt.stopping) {
      rt.stopping = true;
      rt.ready = false;
      clearTimeout(rt.probe);
      const pod = state.pod;
      rt.chain = rt.chain.then(() => rt.runtime.stop(pod)).catch(() => undefined);
    }
    return rt.chain;
  }

  private async writeStatus(state: PodState, phase: Phase): Promise<void> {
    const status = this.status(state, phase);
    if (statusKey(state.pod.status) === statusKey(status)) return;
    const written = await this.rest.patch<V1Pod>(`${podPath(state.pod)}/status`, { status }, PATCH.strategic);
    if (written.metadata?.uid === state.uid) state.pod = written;
  }

  private status(state: PodState, phase: Phase): Record<string, unknown> {
    const pod = state.pod;
    const old = pod.status ?? {};
    const ready = phase === 'ready';
    const pulled = phase !== 'bad';
    const started = new Date(Math.floor(state.startedAt / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    const cond = (type: string, ok: boolean, reason?: string) => {
      const prev = old.conditions?.find((c) => c.type === type);
      const status = ok ? 'True' : 'False';
      const lastTransitionTime =
        prev && prev.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : nowStamp();
      return { type, status, lastProbeTime: null, lastTransitionTime, ...(reason && !ok ? { reason } : {}) };
    };
    const done = phase === 'succeeded' || phase === 'failed';
    const exitCode =
      phase === 'failed' ? (numberAnnotation(pod.metadata?.annotations?.[EXIT_CODE_ANNOTATION]) ?? 1) : 0;
    const containerState = (image: string) => {
      switch (phase) {
        case 'bad':
          return { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } };
        case 'crash':
          return { waiting: { reason: 'CrashLoopBackOff', message: 'back-off restarting failed container' } };
        case 'succeeded':
        case 'failed':
          return {
            terminated: {
              exitCode,
              reason: exitCode === 0 ? 'Completed' : 'Error',
              startedAt: started,
              finishedAt: nowStamp(),
            },
          };
        default:
          return { running: { startedAt: started } };
      }
    };
    const podIP = old.podIP ?? this.nextIP();
    const containerStatuses = (pod.spec?.containers ?? []).map((c) => ({
      name: c.name,
      image: c.image ?? '',
      imageID: pulled ? `fake://${c.image ?? ''}` : '',
      containerID: pulled ? `fake://${state.uid}/${c.name}` : undefined,
      ready,
      started: pulled && phase !== 'crash' && !done,
      restartCount: phase === 'crash' ? 1 : 0,
      state: containerState(c.image ?? ''),
      ...(phase === 'crash' ? { lastState: { terminated: { exitCode: 1, reason: 'Error' } } } : {}),
    }));
    const initContainerStatuses = (pod.spec?.initContainers ?? []).map((c) => ({
      name: c.name,
      image: c.image ?? '',
      imageID: `fake://${c.image ?? ''}`,
      ready: true,
      restartCount: 0,
      state: { terminated: { exitCode: 0, reason: 'Completed' } },
    }));
    const podPhase =
      phase === 'bad'
        ? 'Pending'
        : phase === 'succeeded'
          ? 'Succeeded'
          : phase === 'failed'
            ? 'Failed'
            : 'Running';
    return {
      phase: podPhase,
      conditions: [
        cond('PodReadyToStartContainers', pulled && !done),
        cond('Initialized', true),
        cond('Ready', ready, done ? 'PodCompleted' : 'ContainersNotReady'),
        cond('ContainersReady', ready, done ? 'PodCompleted' : 'ContainersNotReady'),
      ],
      hostIP: '127.0.0.1',
      hostIPs: [{ ip: '127.0.0.1' }],
      podIP,
      podIPs: [{ ip: podIP }],
      startTime: old.startTime ?? nowStamp(),
      containerStatuses,
      ...(initContainerStatuses.length ? { initContainerStatuses } : {}),
    };
  }

  private nextIP(): string {
    const n = ++this.ipCounter;
    return `10.244.${Math.floor(n / 250) % 250}.${(n % 250) + 2}`;
  }
}

/** True when the pod is Running with condition Ready=True and not being deleted. */
export function isPodReady(pod: V1Pod): boolean {
  if (pod.metadata?.deletionTimestamp) return false;
  return (
    pod.status?.phase === 'Running' &&
    (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

function podPath(pod: V1Pod): string {
  return `/api/v1/namespaces/${pod.metadata!.namespace}/pods/${pod.metadata!.name}`;
}

function specKey(pod: V1Pod): string {
  return JSON.stringify((pod.spec?.containers ?? []).map((c) => [c.name, c.image]));
}

/** What of a pod status the kubelet decides, to skip writes that change nothing. */
function statusKey(status: unknown): string {
  const s = (status ?? {}) as {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      name: string;
      image: string;
      ready: boolean;
      restartCount: number;
      state?: object;
    }[];
  };
  const conds = (s.conditions ?? [])
    .filter((c) => c.type !== 'PodScheduled' && c.type !== 'DisruptionTarget')
    .map((c) => `${c.type}=${c.status}`)
    .sort();
  const cs = (s.containerStatuses ?? []).map((c) => [
    c.name,
    c.image,
    c.ready,
    c.restartCount,
    Object.keys(c.state ?? {}),
  ]);
  return JSON.stringify([s.phase, s.podIP ? 'ip' : '', conds, cs]);
}

function nodeReadyCondition(ready: boolean) {
  const now = nowStamp();
  return {
    type: 'Ready',
    status: ready ? 'True' : 'False',
    reason: ready ? 'KubeletReady' : 'KubeletNotReady',
    message: ready ? 'kubelet is posting ready status' : 'container runtime is down',
    lastHeartbeatTime: now,
    lastTransitionTime: now,
  };
}

function pressure(type: string, reason: string) {
  const now = nowStamp();
  return { type, status: 'False', reason, message: reason, lastHeartbeatTime: now, lastTransitionTime: now };
}

function nowStamp(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function numberAnnotation(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
