/**
 * Kubelet simulation. A new pod is bound to the fake node and goes Running at once, then Ready
 * after the readiness delay (server default, or the pod annotation
 * `fake.baton.dev/ready-delay-ms`). A pod annotated `fake.baton.dev/never-ready: "true"` (directly
 * or through its template) stays Running but unready; a pod using a "bad image" stays Pending in
 * ImagePullBackOff. Changing a pod's container images restarts it (unready, then ready after the
 * delay). A deleted pod turns unready, is Terminating for the termination delay, then leaves.
 *
 * With a {@link PodRuntime} in the settings, the pods it claims run something real: the runtime
 * starts them once bound, a readiness probe (every `probePeriodMs`) decides Ready instead of the
 * delay, a deleted pod stays Terminating until the runtime has stopped it, and a changed image
 * stops and starts it again. Without one (the default) nothing changes.
 */
import type { Clock } from '../../src/core/clock.js';
import type { Cluster } from './cluster.js';
import type { Scheduler } from './scheduler.js';
import type { StoreEvent } from './store.js';
import { clone, isObject, jsonEqual, stableStringify, type JsonObject, type KubeObject } from './types.js';

/** Pod annotation: readiness delay of this pod in milliseconds. */
export const READY_DELAY_ANNOTATION = 'fake.baton.dev/ready-delay-ms';
/** Pod annotation: `"true"` keeps the pod unready forever. */
export const NEVER_READY_ANNOTATION = 'fake.baton.dev/never-ready';
/** The node every pod is bound to. */
export const FAKE_NODE = 'fake-node-1';

/**
 * What runs the containers of the pods it claims (a test's real processes). Calls for one pod
 * never overlap: start, stop and restart are chained in order.
 */
export interface PodRuntime {
  /** Whether this runtime runs `pod` (others keep the simulated behaviour). */
  claims(pod: KubeObject): boolean;
  /** Start the pod's containers; a rejection leaves the pod Running and unready. */
  start(pod: KubeObject): Promise<void>;
  /** Stop them; the pod stays Terminating until this settles. Must be harmless when not running. */
  stop(pod: KubeObject): Promise<void>;
  /** Readiness probe: the pod serves now. Must not throw. */
  ready(pod: KubeObject): Promise<boolean>;
}

/** Default period of a runtime's readiness probe. */
export const DEFAULT_PROBE_PERIOD_MS = 100;

/** Kubelet settings that tests may change while the server runs. */
export interface KubeletSettings {
  readinessDelayMs: number;
  podTerminationMs: number;
  /** Images (exact string or pattern) that never start. */
  badImages: (string | RegExp)[];
  /** Runs claimed pods for real (see {@link PodRuntime}); unset: every pod is simulated. */
  runtime?: PodRuntime;
  /** Readiness probe period of runtime pods; default {@link DEFAULT_PROBE_PERIOD_MS}. */
  probePeriodMs?: number;
}

interface RuntimeState {
  runtime: PodRuntime;
  /** The pod as last seen, for probes and the stop after a removal. */
  pod: KubeObject;
  /** Tail of this pod's start/stop chain. */
  chain: Promise<void>;
  /** Last probe answer. */
  ready: boolean;
  probing: boolean;
  stopping: boolean;
}

interface PodState {
  specHash: string;
  runningSince: number;
  terminating: boolean;
  /** Clock time a readiness re-check is already scheduled for. */
  recheckAt?: number;
  /** Set for pods a {@link PodRuntime} runs, once bound. */
  rt?: RuntimeState;
}

interface Container {
  name: string;
  image?: string;
}

/** The simulated kubelet of the single fake node. */
export class Kubelet {
  private readonly pods = new Map<string, PodState>();
  private ipCounter = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly scheduler: Scheduler,
    private readonly clock: Clock,
    readonly settings: KubeletSettings,
  ) {}

  /** React to a store change. */
  observe(e: StoreEvent): void {
    if (e.key !== '/pods') return;
    const uid = e.object.metadata.uid!;
    if (e.type === 'DELETED') {
      // Removed without waiting for termination (grace period 0, namespace deletion): stop now.
      const rt = this.pods.get(uid)?.rt;
      if (rt) this.stopRuntime(rt);
      this.pods.delete(uid);
      return;
    }
    this.enqueue(e.object);
  }

  private stopRuntime(rt: RuntimeState): Promise<void> {
    if (!rt.stopping) {
      rt.stopping = true;
      rt.ready = false;
      const pod = rt.pod;
      rt.chain = rt.chain.then(() => rt.runtime.stop(pod)).catch(() => undefined);
    }
    return rt.chain;
  }

  /** Start (or, after an image change, restart) a runtime pod, then keep probing it. */
  private startRuntime(state: PodState, pod: KubeObject, runtime: PodRuntime, restart: boolean): void {
    const previous = state.rt;
    const rt: RuntimeState = {
      runtime,
      pod,
      chain: previous?.chain ?? Promise.resolve(),
      ready: false,
      probing: false,
      stopping: false,
    };
    if (previous) previous.stopping = true;
    state.rt = rt;
    const prior = previous?.pod;
    rt.chain = rt.chain
      .then(() => (restart && prior ? runtime.stop(prior) : undefined))
      .then(() => (rt.stopping ? undefined : runtime.start(pod)))
      .then(
        () => this.probe(rt),
        () => undefined,
      );
  }

  private probe(rt: RuntimeState): void {
    if (rt.stopping || rt.probing) return;
    rt.probing = true;
    void rt.runtime
      .ready(rt.pod)
      .catch(() => false)
      .then((ok) => {
        rt.probing = false;
        if (rt.stopping) return;
        if (ok !== rt.ready) {
          rt.ready = ok;
          this.enqueue(rt.pod);
        }
        this.scheduler.after(this.settings.probePeriodMs ?? DEFAULT_PROBE_PERIOD_MS, () => this.probe(rt));
      });
  }

  private enqueue(pod: KubeObject): void {
    const ns = pod.metadata.namespace!;
    const name = pod.metadata.name!;
    const uid = pod.metadata.uid!;
    this.scheduler.enqueue(`kubelet/${uid}`, () => this.sync(ns, name, uid));
  }

  /** True when an image is in the bad set. */
  isBadImage(image: string | undefined): boolean {
    if (!image) return false;
    return this.settings.badImages.some((b) => (typeof b === 'string' ? b === image : b.test(image)));
  }

  private sync(namespace: string, name: string, uid: string): void {
    const t = this.cluster.registry.byResource('', 'pods')!;
    const pod = this.cluster.find(t, namespace, name);
    if (!pod || pod.metadata.uid !== uid) return;
    const spec = (isObject(pod.spec) ? pod.spec : {}) as { containers?: Container[]; nodeName?: string };
    const containers = spec.containers ?? [];
    const now = this.clock.now();
    const specHash = stableStringify(containers.map((c) => [c.name, c.image]));
    let state = this.pods.get(uid);
    const changed = !!state && state.specHash !== specHash;
    if (!state || changed) {
      state = { specHash, runningSince: now, terminating: state?.terminating ?? false, rt: state?.rt };
      this.pods.set(uid, state);
    }
    if (state.rt) state.rt.pod = pod;
    if (pod.metadata.deletionTimestamp) {
      if (!state.terminating) {
        state.terminating = true;
        this.writeStatus(pod, this.status(pod, containers, 'terminating', now));
        const gone = () => this.cluster.markPodTerminated(namespace, name, uid);
        if (state.rt) {
          // A runtime pod is gone only once its processes are (as a kubelet waits for containers).
          const stopped = this.stopRuntime(state.rt);
          this.scheduler.after(this.settings.podTerminationMs, () => void stopped.then(gone));
        } else if (this.settings.podTerminationMs > 0) {
          this.scheduler.after(this.settings.podTerminationMs, gone);
        } else {
          // No grace period: gone on the next turn, without waiting for a timer.
          this.scheduler.enqueue(`terminate/${uid}`, gone);
        }
      }
      return;
    }
    if (!spec.nodeName) {
      const bound = clone(pod);
      (bound.spec as JsonObject).nodeName = FAKE_NODE;
      this.cluster.controllerWrite(t, bound, false);
      return;
    }
    const runtime = this.settings.runtime;
    if (runtime && (!state.rt || changed) && runtime.claims(pod)) {
      this.startRuntime(state, pod, runtime, changed);
    }
    const annotations = pod.metadata.annotations ?? {};
    const bad = containers.some((c) => this.isBadImage(c.image));
    const neverReady = annotations[NEVER_READY_ANNOTATION] === 'true';
    const parsed = Number(annotations[READY_DELAY_ANNOTATION]);
    const delay =
      annotations[READY_DELAY_ANNOTATION] !== undefined && Number.isFinite(parsed)
        ? parsed
        : this.settings.readinessDelayMs;
    let phase: 'bad' | 'running' | 'ready';
    if (bad) phase = 'bad';
    else if (neverReady) phase = 'running';
    else if (state.rt) phase = state.rt.ready ? 'ready' : 'running';
    else if (now - state.runningSince >= delay) phase = 'ready';
    else {
      phase = 'running';
      const at = state.runningSince + delay;
      if (state.recheckAt !== at) {
        state.recheckAt = at;
        const s = state;
        // Timers may fire a little before the wall clock reaches `at`; forgetting the pending
        // re-check lets the next sync schedule another one instead of waiting forever.
        this.scheduler.after(at - now, () => {
          s.recheckAt = undefined;
          this.enqueue(pod);
        });
      }
    }
    this.writeStatus(pod, this.status(pod, containers, phase, state.runningSince));
  }

  private writeStatus(pod: KubeObject, status: JsonObject): void {
    if (jsonEqual(pod.status, status)) return;
    const t = this.cluster.registry.byResource('', 'pods')!;
    const next = clone(pod);
    next.status = status;
    this.cluster.controllerWrite(t, next, true);
  }

  private status(
    pod: KubeObject,
    containers: Container[],
    phase: 'bad' | 'running' | 'ready' | 'terminating',
    since: number,
  ): JsonObject {
    const old = (isObject(pod.status) ? pod.status : {}) as {
      conditions?: { type: string; status: string; lastTransitionTime?: string }[];
      podIP?: string;
      startTime?: string;
    };
    const stamp = new Date(Math.floor(since / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    const ready = phase === 'ready';
    const started = phase !== 'bad';
    const cond = (type: string, ok: boolean, reason?: string): JsonObject => {
      const prev = old.conditions?.find((c) => c.type === type);
      const status = ok ? 'True' : 'False';
      const lastTransitionTime =
        prev && prev.status === status && prev.lastTransitionTime
          ? prev.lastTransitionTime
          : this.cluster.timestamp();
      return { type, status, lastProbeTime: null, lastTransitionTime, ...(reason && !ok ? { reason } : {}) };
    };
    const podIP = old.podIP ?? `10.244.0.${(++this.ipCounter % 250) + 2}`;
    const containerStatuses = containers.map((c) => ({
      name: c.name,
      image: c.image ?? '',
      imageID: started ? `fake://${c.image ?? ''}` : '',
      ready,
      started,
      restartCount: 0,
      state:
        phase === 'bad'
          ? { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image ?? ''}"` } }
          : { running: { startedAt: stamp } },
    }));
    return {
      phase: phase === 'bad' ? 'Pending' : 'Running',
      conditions: [
        cond('PodReadyToStartContainers', started),
        cond('Initialized', true),
        cond('Ready', ready, 'ContainersNotReady'),
        cond('ContainersReady', ready, 'ContainersNotReady'),
        cond('PodScheduled', true),
      ],
      hostIP: '10.0.0.1',
      hostIPs: [{ ip: '10.0.0.1' }],
      podIP,
      podIPs: [{ ip: podIP }],
      startTime: old.startTime ?? this.cluster.timestamp(),
      containerStatuses,
      qosClass: 'BestEffort',
    };
  }
}

/** True when the pod is Running with condition Ready=True and not being deleted. */
export function isPodReady(pod: KubeObject): boolean {
  if (pod.metadata.deletionTimestamp) return false;
  const status = (isObject(pod.status) ? pod.status : {}) as {
    phase?: string;
    conditions?: { type: string; status: string }[];
  };
  return (
    status.phase === 'Running' &&
    (status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}
