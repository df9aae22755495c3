/**
 * Pure translation of StatefulSet and pod objects into {@link PlatformMember}s: image tags as
 * versions, readiness with `minReadySeconds`, failures that waiting will not cure, pod DNS
 * endpoints and the partition roll rank. No I/O here; {@link KubernetesPlatform} feeds it.
 */
import type { V1Container, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { PlatformMember } from '../../core/types.js';
import { readySince } from '../../api/conditions.js';

/** Label the StatefulSet controller puts on pods: the ControllerRevision they were made from. */
export const REVISION_LABEL = 'controller-revision-hash';

/** Container waiting reasons that mean the pod will not start by waiting. */
export const FAILING_WAIT_REASONS = [
  'CrashLoopBackOff',
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
];

/**
 * The tag of an image reference: `repo/db:1.2.3@sha256:..` -> `1.2.3`. A registry port
 * (`host:5000/db`) is not a tag; an image without a tag is `latest`.
 */
export function imageTag(image: string): string {
  const noDigest = image.split('@')[0]!;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(colon + 1) : 'latest';
}

/** `image` with its tag replaced by `tag` (digest dropped, since it pins the old image). */
export function withTag(image: string, tag: string): string {
  const noDigest = image.split('@')[0]!;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  const repo = colon > slash ? noDigest.slice(0, colon) : noDigest;
  return `${repo}:${tag}`;
}

/** The container whose tag is the version: the named one, or the first. Undefined when absent. */
export function versionContainer(
  containers: V1Container[] | undefined,
  name: string | undefined,
): V1Container | undefined {
  if (!containers || containers.length === 0) return undefined;
  return name ? containers.find((c) => c.name === name) : containers[0];
}

/** Ordinal of pod `name` of StatefulSet `sts`, or undefined when the name is not `<sts>-<n>`. */
export function ordinalOf(sts: string, name: string): number | undefined {
  if (!name.startsWith(`${sts}-`)) return undefined;
  const rest = name.slice(sts.length + 1);
  return /^(0|[1-9]\d*)$/.test(rest) ? Number(rest) : undefined;
}

/** Whether the StatefulSet rolls by partition (RollingUpdate, the default) rather than OnDelete. */
export function isRollingUpdate(sts: V1StatefulSet): boolean {
  return sts.spec?.updateStrategy?.type !== 'OnDelete';
}

/** How a StatefulSet's pods become members. */
export interface MemberContext {
  sts: V1StatefulSet;
  component: string;
  /** Container whose image tag is the version (default: the first). */
  container?: string;
  namespace: string;
  /** Headless Service for DNS names (default: the StatefulSet's serviceName). */
  service?: string;
  port?: number;
  /** `{pod}`, `{service}`, `{namespace}`, `{port}`, `{podIP}` placeholders. */
  endpointTemplate?: string;
  /** Admin endpoint per pod name (`spec.target.endpoints`); wins over the template for the pods it names. */
  endpoints?: Record<string, string>;
  minReadySeconds: number;
  now: number;
  /** Image tag pods of the current revision run, for pods that are missing below the partition. */
  currentRevisionTag?: string;
}

/** Why a pod will not come up by waiting, or undefined. */
export function podFailure(pod: V1Pod, updateRevision: string | undefined): string | undefined {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const s of statuses) {
    const reason = s.state?.waiting?.reason;
    if (reason && FAILING_WAIT_REASONS.includes(reason)) {
      return `${s.name}: ${reason}${s.state?.waiting?.message ? ` (${s.state.waiting.message})` : ''}`;
    }
  }
  // A container that exited with an error only counts against the revision the pod was created
  // at when that is the update revision: an old crash of the previous version says nothing new.
  const atUpdate = !!updateRevision && pod.metadata?.labels?.[REVISION_LABEL] === updateRevision;
  if (!atUpdate) return undefined;
  for (const s of statuses) {
    const term = s.state?.terminated ?? (s.ready ? undefined : s.lastState?.terminated);
    if (term && term.exitCode !== 0) {
      return `${s.name}: terminated with exit code ${term.exitCode}${term.reason ? ` (${term.reason})` : ''}`;
    }
  }
  return undefined;
}

/**
 * Whether a pod below a RollingUpdate StatefulSet's partition is missing from `pods` (by name):
 * the controller recreates it at the current revision, whose version only that revision tells.
 */
export function missingBelowPartition(sts: V1StatefulSet, pods: ReadonlyMap<string, V1Pod>): boolean {
  if (!isRollingUpdate(sts)) return false;
  const name = sts.metadata?.name ?? '';
  const below = Math.min(sts.spec?.updateStrategy?.rollingUpdate?.partition ?? 0, sts.spec?.replicas ?? 1);
  for (let i = 0; i < below; i++) if (!pods.has(`${name}-${i}`)) return true;
  return false;
}

/**
 * The admin endpoint of a pod: its entry in `ctx.endpoints` when there is one (a port-forward, a
 * test), else `ctx.endpointTemplate` filled in, else `<pod>.<service>.<namespace>.svc[:port]`.
 */
export function endpointOf(
  ctx: MemberContext,
  podName: string,
  podIP: string | undefined,
): string | undefined {
  const override = ctx.endpoints?.[podName];
  if (override !== undefined) return override;
  const service = ctx.service ?? ctx.sts.spec?.serviceName ?? ctx.sts.metadata?.name ?? '';
  if (ctx.endpointTemplate) {
    return ctx.endpointTemplate
      .replaceAll('{pod}', podName)
      .replaceAll('{service}', service)
      .replaceAll('{namespace}', ctx.namespace)
      .replaceAll('{port}', ctx.port !== undefined ? String(ctx.port) : '')
      .replaceAll('{podIP}', podIP ?? '');
  }
  const host = `${podName}.${service}.${ctx.namespace}.svc`;
  return ctx.port !== undefined ? `${host}:${ctx.port}` : host;
}

/**
 * The members of one StatefulSet: one per ordinal below `spec.replicas`, whether or not its pod
 * exists right now. `pods` are the StatefulSet's pods by name.
 */
export function membersOf(ctx: MemberContext, pods: Map<string, V1Pod>): PlatformMember[] {
  const name = ctx.sts.metadata!.name!;
  const replicas = ctx.sts.spec?.replicas ?? 1;
  const rolling = isRollingUpdate(ctx.sts);
  const partition = rolling ? (ctx.sts.spec?.updateStrategy?.rollingUpdate?.partition ?? 0) : 0;
  const templateImage = versionContainer(ctx.sts.spec?.template?.spec?.containers, ctx.container)?.image;
  const templateTag = templateImage ? imageTag(templateImage) : 'unknown';
  const updateRevision = ctx.sts.status?.updateRevision;
  const out: PlatformMember[] = [];
  for (let ordinal = 0; ordinal < replicas; ordinal++) {
    const podName = `${name}-${ordinal}`;
    const pod = pods.get(podName);
    const base = {
      name: podName,
      component: ctx.component,
      ordinal,
      ...(rolling ? { rollRank: replicas - 1 - ordinal } : {}),
    };
    if (!pod) {
      // The controller recreates a missing pod at the update revision, except below the
      // partition where it gets the current one.
      const version = rolling && ordinal < partition ? (ctx.currentRevisionTag ?? templateTag) : templateTag;
      out.push({
        ...base,
        version,
        ready: false,
        running: false,
        endpoint: endpointOf(ctx, podName, undefined),
        detail: 'pod missing (being recreated)',
      });
      continue;
    }
    const image = versionContainer(pod.spec?.containers, ctx.container)?.image;
    const terminating = !!pod.metadata?.deletionTimestamp;
    const since = terminating ? undefined : readySince(pod);
    const ready = since !== undefined && ctx.now - since >= ctx.minReadySeconds * 1000;
    const failure = terminating ? undefined : podFailure(pod, updateRevision);
    const detail = terminating
      ? 'Terminating'
      : failure
        ? failure
        : since !== undefined && !ready
          ? `Ready for less than minReadySeconds (${ctx.minReadySeconds}s)`
          : since === undefined
            ? `${pod.status?.phase ?? 'Pending'}, not Ready`
            : undefined;
    out.push({
      ...base,
      version: image ? imageTag(image) : 'unknown',
      ready,
      running: !terminating,
      endpoint: endpointOf(ctx, podName, pod.status?.podIP),
      ...(detail ? { detail } : {}),
      ...(failure ? { failed: true } : {}),
    });
  }
  return out;
}
