/**
 * The Kubernetes platform: members are the pods of one or more StatefulSets (one component each),
 * and Baton, not the StatefulSet controller, decides which pod is replaced when.
 *
 * How a replacement works (see {@link KubernetesPlatform.replaceMember}):
 * - Before the first replacement the runner takes the members over ({@link KubernetesCustody}):
 *   RollingUpdate StatefulSets are frozen with `partition = replicas`, so the controller restarts
 *   nothing by itself (the original strategy is kept in the annotation
 *   `baton.dev/original-update-strategy`), and a TidbCluster is paused. When the pass ends the
 *   runner hands them back. Observation (`listMembers`, `membersFrom`) never writes.
 * - The first replacement of a roll changes the pod template's image tag (and, in the same write,
 *   keeps the freeze, should anything have lifted it).
 * - RollingUpdate: the partition steps down to the member's ordinal; the controller then replaces
 *   exactly that pod (every higher ordinal already runs the update revision). Members therefore
 *   carry `rollRank = replicas - 1 - ordinal`, highest ordinal first.
 * - OnDelete: the pod is deleted and the controller recreates it at the update revision; no rank,
 *   so Baton's safety order applies.
 * - The "rollback trap": the controller never replaces a pod that is not Ready, so a pod stuck at
 *   an abandoned revision is deleted by Baton (it is already unavailable, so this costs nothing).
 *
 * Every write uses the object's resourceVersion; conflicts are retried after a fresh read, and 5xx
 * answers with back-off. A pod cannot be stopped without being replaced, so there is no
 * `stopMember`: engines that need one (PostgreSQL switchover) hand over without it here.
 */
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1Pod,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import type { Clock } from '../../core/clock.js';
import { waitUntil } from '../../core/wait.js';
import { BadInputError, OperationalError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Custody, JournalStore, Platform, PortContext, ReplaceOptions } from '../../core/ports.js';
import type { EngineRules, RulesByName } from '../../core/rules.js';
import type { PlatformMember, PrecheckResult, Snapshot, UpgradeSpec } from '../../core/types.js';
import { LABELS, type UpgradeResource } from '../../api/upgrade.js';
import {
  apiMessage,
  isConflict,
  isNotFound,
  isPreconditionFailed,
  JSON_PATCH,
  MERGE_PATCH,
  withRetry,
} from './api.js';
import {
  isPausable,
  ownerVerdict,
  PAUSED_BY_ANNOTATION,
  readClusterObject,
  resolveCluster,
  type ClusterIo,
  type ClusterKind,
  type ResolvedCluster,
} from './cluster-ref.js';
import { KubernetesCustody, ORIGINAL_STRATEGY_ANNOTATION } from './custody.js';
import { crdbOwnerVerdict, isCrdbCluster, pointCrdbClusterAt } from './crdb-ref.js';
import { isRecCluster, recRefVerdict, setRecVersion } from './rec-ref.js';
import type { EventSink } from './events.js';
import {
  imageTag,
  isRollingUpdate,
  missingBelowPartition,
  membersOf,
  ordinalOf,
  REVISION_LABEL,
  versionContainer,
  withTag,
} from './members.js';
import { isReady } from '../../api/conditions.js';

export { ORIGINAL_STRATEGY_ANNOTATION } from './custody.js';

/** A StatefulSet the upgrade targets, and the component its pods form. */
export interface TargetStatefulSet {
  name: string;
  /** From `statefulSets[].component`; else resolved from the label or the name when read. */
  component?: string;
}

/**
 * The StatefulSets an Upgrade targets: `statefulSet`, `statefulSets`, or for a `cluster` target the
 * list `resolved` from it (see {@link KubernetesPlatform.targets}, which resolves and caches it).
 * BadInputError when the Upgrade names no StatefulSet (a cluster target not resolved yet included).
 */
export function targetStatefulSets(
  upgrade: UpgradeResource,
  resolved?: TargetStatefulSet[],
): TargetStatefulSet[] {
  const t = upgrade.spec.target;
  if (t.statefulSet) return [{ name: t.statefulSet }];
  if (t.statefulSets && t.statefulSets.length > 0) {
    return t.statefulSets.map((s) => ({ name: s.name, component: s.component }));
  }
  if (t.cluster && resolved && resolved.length > 0) return resolved;
  throw new BadInputError(
    'bad-target',
    `spec.target: upgrade ${upgrade.metadata.name} names no StatefulSet; set spec.target.statefulSet or spec.target.statefulSets`,
  );
}

/** Options of {@link KubernetesPlatform}. */
export interface KubernetesPlatformOptions {
  kc: KubeConfig;
  namespace: string;
  upgrade: UpgradeResource;
  journal: JournalStore;
  clock: Clock;
  logger: Logger;
  events?: EventSink;
  /**
   * Engine rules by name, for the engine `spec.engine` names: its component order (a cluster
   * target's StatefulSets) and its default admin port (`spec.target.port` unset).
   */
  engines: RulesByName;
  /**
   * Admin endpoints by pod name that take precedence over `spec.target.endpoints` for this process
   * only (the CLI's `--endpoint`, e.g. port-forwards from outside the cluster); never written.
   */
  endpoints?: Record<string, string>;
}

/**
 * Copies of objects a caller has already observed (the operator's informer caches), which
 * {@link KubernetesPlatform.replaceMember} may decide on instead of reading them again.
 */
export interface SeenObjects {
  /** The StatefulSet `name` of the platform's namespace, if observed. */
  statefulSet(name: string): V1StatefulSet | undefined;
  /** The pods of `sts` by name, or undefined when they cannot be answered from the copies. */
  pods(sts: V1StatefulSet): Map<string, V1Pod> | undefined;
}

const MAX_CONFLICT_RETRIES = 10;
/** How long (and how often) to wait for the controller to observe a template change. */
const STATUS_WAIT_MS_TOTAL = 3_000;
const STATUS_WAIT_MS = 50;
/** How long (and how often) to wait for the CockroachDB operator to acknowledge a CrdbCluster's new image. */
const CRDB_ACK_MS_TOTAL = 60_000;
const CRDB_ACK_MS = 100;

/** Members are StatefulSet pods; replacements step the partition (RollingUpdate) or delete pods (OnDelete). */
export class KubernetesPlatform implements Platform {
  readonly name = 'kubernetes';
  /** A lowered partition (or a deleted pod) is carried out by the StatefulSet controller. */
  readonly durableActions = true;
  readonly journal: JournalStore;
  /** Taking the StatefulSets (and a TidbCluster) over before the roll and handing them back after. */
  readonly custody: Custody = new KubernetesCustody(this);
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  readonly namespace: string;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly events?: EventSink;
  private readonly endpointOverrides?: Record<string, string>;
  private readonly engines: RulesByName;
  private upgradeResource: UpgradeResource;
  /** The cluster target resolved for one Upgrade generation (`uid/generation`). */
  private resolution?: { key: string; cluster: ResolvedCluster };

  constructor(opts: KubernetesPlatformOptions) {
    this.apps = opts.kc.makeApiClient(AppsV1Api);
    this.core = opts.kc.makeApiClient(CoreV1Api);
    this.custom = opts.kc.makeApiClient(CustomObjectsApi);
    this.namespace = opts.namespace;
    this.upgradeResource = opts.upgrade;
    this.journal = opts.journal;
    this.clock = opts.clock;
    this.logger = opts.logger;
    this.events = opts.events;
    this.endpointOverrides = opts.endpoints;
    this.engines = opts.engines;
  }

  /** The rules of the engine the Upgrade names; undefined for an engine without rules (validated elsewhere). */
  private engineRules(): EngineRules | undefined {
    try {
      return this.engines.get(this.upgradeResource.spec.engine ?? 'generic');
    } catch {
      return undefined;
    }
  }

  /** Components the Upgrade's engine versions on their own line (TiDB's TiProxy). */
  ownVersionComponents(): string[] {
    return (this.engineRules()?.components ?? [])
      .filter((c) => c.ownVersion !== undefined)
      .map((c) => c.name);
  }

  /**
   * The order of a cluster's components, from the injected rules only: the Upgrade's engine's,
   * then those of the engine the cluster kind belongs to (a TidbCluster upgraded with the generic
   * engine still rolls PD -> TiProxy -> TiFlash -> TiKV -> Pump -> TiDB -> TiCDC). Components
   * neither names go after, by name.
   */
  private componentOrder(kind: ClusterKind): string[] {
    const names = (engine: string | undefined): string[] => {
      if (engine === undefined) return [];
      try {
        return this.engines.get(engine).components.map((c) => c.name);
      } catch {
        return [];
      }
    };
    const own = names(this.upgradeResource.spec.engine ?? 'generic');
    return [...own, ...names(kind.engine).filter((n) => !own.includes(n))];
  }

  /** The Upgrade resource whose target this platform serves. */
  get upgrade(): UpgradeResource {
    return this.upgradeResource;
  }

  /** Use a newer copy of the Upgrade resource (the operator calls this after each read). */
  setUpgrade(upgrade: UpgradeResource): void {
    this.upgradeResource = upgrade;
  }

  private deps(ctx?: PortContext) {
    return { clock: ctx?.clock ?? this.clock, logger: ctx?.logger ?? this.logger, signal: ctx?.signal };
  }

  /** Clients and context for cluster-target reads and writes. */
  io(ctx?: PortContext): ClusterIo {
    return { custom: this.custom, apps: this.apps, namespace: this.namespace, deps: this.deps(ctx) };
  }

  /**
   * The cluster a `spec.target.cluster` Upgrade names, resolved once per Upgrade generation (a GET
   * of the object and a LIST of StatefulSets) and cached; undefined for StatefulSet targets.
   */
  async resolvedCluster(ctx: PortContext): Promise<ResolvedCluster | undefined> {
    const u = this.upgradeResource;
    if (!u.spec.target.cluster || u.spec.target.statefulSet || u.spec.target.statefulSets) return undefined;
    const key = `${u.metadata.uid ?? ''}/${u.metadata.generation ?? 1}`;
    if (this.resolution?.key === key) return this.resolution.cluster;
    const cluster = await resolveCluster(this.io(ctx), u, (kind) => this.componentOrder(kind));
    this.resolution = { key, cluster };
    return cluster;
  }

  /**
   * Names of the StatefulSets this Upgrade targets as far as known without a request: those the
   * spec names, or a cluster target's as last resolved (undefined before its first resolution).
   */
  knownTargetNames(): string[] | undefined {
    try {
      return targetStatefulSets(this.upgradeResource, this.resolution?.cluster.targets).map((t) => t.name);
    } catch {
      return undefined;
    }
  }

  /**
   * The StatefulSets this Upgrade targets ({@link targetStatefulSets}); a cluster target is
   * resolved through the API once per Upgrade generation and cached. StatefulSet targets cost no
   * request.
   */
  async targets(ctx: PortContext): Promise<TargetStatefulSet[]> {
    const cluster = await this.resolvedCluster(ctx);
    return targetStatefulSets(this.upgradeResource, cluster?.targets);
  }

  /**
   * Platform precheck `statefulset-owner` for a cluster target (see {@link ownerVerdict}): blocks
   * when a StatefulSet of the cluster is reconciled by a controller Baton cannot pause, or another
   * Upgrade holds the cluster. StatefulSet targets have no platform prechecks.
   */
  async prechecks(_snapshot: Snapshot, _spec: UpgradeSpec, ctx: PortContext): Promise<PrecheckResult[]> {
    const cluster = await this.resolvedCluster(ctx);
    if (!cluster) return [];
    // The held-by annotation may have changed since the cluster was resolved: judge a fresh copy.
    const object = await readClusterObject(
      this.io(ctx),
      this.upgradeResource,
      cluster.kind,
      cluster.object.metadata.name,
    );
    const fresh = { ...cluster, object };
    const me = this.upgradeResource.metadata.name;
    if (isCrdbCluster(cluster.kind)) return [crdbOwnerVerdict(fresh, me)];
    if (isRecCluster(cluster.kind)) return [recRefVerdict(fresh, me)];
    return [ownerVerdict(fresh, me)];
  }

  /** GET a StatefulSet of the namespace; BadInputError when it does not exist. */
  async readStatefulSet(name: string, ctx?: PortContext): Promise<V1StatefulSet> {
    try {
      return await withRetry(
        `read statefulset ${this.namespace}/${name}`,
        () => this.apps.readNamespacedStatefulSet({ namespace: this.namespace, name }),
        this.deps(ctx),
      );
    } catch (err) {
      if (isNotFound(err)) {
        throw new BadInputError(
          'no-statefulset',
          `statefulset ${this.namespace}/${name} not found: check spec.target (or --statefulset) and the namespace`,
        );
      }
      throw err;
    }
  }

  /** The pods of `sts` by name (one LIST by its selector). */
  async podsOf(sts: V1StatefulSet, ctx?: PortContext): Promise<Map<string, V1Pod>> {
    const labels = sts.spec?.selector?.matchLabels ?? {};
    const labelSelector = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const name = sts.metadata!.name!;
    const list = await withRetry(
      `list pods of statefulset ${this.namespace}/${name}`,
      () =>
        this.core.listNamespacedPod({
          namespace: this.namespace,
          ...(labelSelector ? { labelSelector } : {}),
        }),
      this.deps(ctx),
    );
    const out = new Map<string, V1Pod>();
    for (const pod of list.items) {
      const podName = pod.metadata?.name;
      if (podName && ordinalOf(name, podName) !== undefined) out.set(podName, pod);
    }
    return out;
  }

  /** The component the pods of `sts` form. */
  componentOf(target: TargetStatefulSet, sts: V1StatefulSet): string {
    return target.component ?? sts.metadata?.labels?.[LABELS.component] ?? target.name;
  }

  private minReadySeconds(sts: V1StatefulSet): number {
    return this.upgradeResource.spec.strategy?.minReadySeconds ?? sts.spec?.minReadySeconds ?? 0;
  }

  /** Image tag of the StatefulSet's current revision (for pods recreated below the partition). */
  private async currentRevisionTag(sts: V1StatefulSet, ctx?: PortContext): Promise<string | undefined> {
    const rev = sts.status?.currentRevision;
    if (!rev || rev === sts.status?.updateRevision) return undefined;
    try {
      const cr = await withRetry(
        `read controllerrevision ${rev}`,
        () => this.apps.readNamespacedControllerRevision({ namespace: this.namespace, name: rev }),
        this.deps(ctx),
      );
      const data = cr.data as {
        spec?: { template?: { spec?: { containers?: { name: string; image?: string }[] } } };
      };
      const image = versionContainer(
        data?.spec?.template?.spec?.containers,
        this.upgradeResource.spec.target.container,
      )?.image;
      return image ? imageTag(image) : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Every pod ordinal of every target StatefulSet as a member (missing pods included). */
  async listMembers(ctx: PortContext): Promise<PlatformMember[]> {
    const out: PlatformMember[] = [];
    for (const target of await this.targets(ctx)) {
      const sts = await this.readStatefulSet(target.name, ctx);
      const pods = await this.podsOf(sts, ctx);
      out.push(...(await this.membersFrom(target, sts, pods, ctx)));
    }
    return out;
  }

  /**
   * The members of one target StatefulSet from an already-read StatefulSet and its pods (by
   * name); an informer cache can feed it instead of a GET and a LIST. Never writes; reads the
   * current ControllerRevision only when a pod below the partition is missing.
   */
  async membersFrom(
    target: TargetStatefulSet,
    read: V1StatefulSet,
    pods: Map<string, V1Pod>,
    ctx: PortContext,
  ): Promise<PlatformMember[]> {
    const t = this.upgradeResource.spec.target;
    const sts = read;
    const members = membersOf(
      {
        sts,
        component: this.componentOf(target, sts),
        container: t.container,
        namespace: this.namespace,
        service: t.service,
        port: t.port ?? this.engineRules()?.defaultPort,
        endpointTemplate: t.endpointTemplate,
        endpoints: this.endpointOverrides ? { ...t.endpoints, ...this.endpointOverrides } : t.endpoints,
        minReadySeconds: this.minReadySeconds(sts),
        now: ctx.clock.now(),
        currentRevisionTag: missingBelowPartition(sts, pods)
          ? await this.currentRevisionTag(sts, ctx)
          : undefined,
      },
      pods,
    );
    // The order the targets are listed in (a cluster's resolved order, or the spec's list) orders
    // the components the engine's rules do not.
    const componentRank = (await this.targets(ctx)).findIndex((x) => x.name === target.name);
    if (componentRank >= 0) for (const m of members) m.componentRank = componentRank;
    return members;
  }

  /** The target StatefulSet a member (pod name) belongs to, and its ordinal. */
  private async locate(member: string, ctx: PortContext): Promise<{ sts: string; ordinal: number }> {
    const targets = await this.targets(ctx);
    let best: { sts: string; ordinal: number } | undefined;
    for (const target of targets) {
      const ordinal = ordinalOf(target.name, member);
      if (ordinal !== undefined && (!best || target.name.length > best.sts.length)) {
        best = { sts: target.name, ordinal };
      }
    }
    if (!best) {
      throw new BadInputError(
        'unknown-member',
        `member ${member} is not a pod of the upgrade's StatefulSets (${targets.map((s) => s.name).join(', ')})`,
      );
    }
    return best;
  }

  /** Log `message` and, with an event sink, record it as an Event on the Upgrade (and `pod`). */
  async event(type: 'Normal' | 'Warning', reason: string, message: string, pod?: string): Promise<void> {
    this.logger.info(message, { reason, pod });
    if (!this.events) return;
    await this.events.emit(
      { type, reason, message, member: pod, at: this.clock.now() },
      { upgrade: this.upgradeResource, pod },
    );
  }

  /**
   * Make the template run `version`, freezing a RollingUpdate StatefulSet in the same write.
   * Returns the StatefulSet as it stands afterwards. Retries conflicts on a fresh read.
   */
  private async ensureTemplate(stsName: string, version: string, ctx: PortContext): Promise<V1StatefulSet> {
    for (let attempt = 0; ; attempt++) {
      const sts = await this.readStatefulSet(stsName, ctx);
      const containers = sts.spec?.template?.spec?.containers ?? [];
      const c = versionContainer(containers, this.upgradeResource.spec.target.container);
      if (!c?.image) {
        throw new BadInputError(
          'no-container',
          `statefulset ${this.namespace}/${stsName} has no container ${this.upgradeResource.spec.target.container ?? '(first)'} with an image: fix spec.target.container`,
        );
      }
      if (imageTag(c.image) === version) return sts;
      const replicas = sts.spec?.replicas ?? 1;
      // A CrdbCluster's StatefulSet: its spec names the image first, and the operator's own
      // annotations go with the template (crdb-ref.ts), so the operator finds nothing to undo.
      const annotations: Record<string, string> = await this.crdbAnnotations(
        stsName,
        withTag(c.image, version),
        ctx,
      );
      const spec: Record<string, unknown> = {
        template: {
          spec: {
            containers: containers.map((x) => (x === c ? { ...x, image: withTag(c.image!, version) } : x)),
          },
        },
      };
      if (isRollingUpdate(sts)) {
        if (!sts.metadata?.annotations?.[ORIGINAL_STRATEGY_ANNOTATION]) {
          annotations[ORIGINAL_STRATEGY_ANNOTATION] = JSON.stringify(
            sts.spec?.updateStrategy ?? { type: 'RollingUpdate' },
          );
        }
        spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { partition: replicas } };
      }
      const patch = {
        metadata: {
          resourceVersion: sts.metadata!.resourceVersion,
          ...(Object.keys(annotations).length ? { annotations } : {}),
        },
        spec,
      };
      try {
        const out = await withRetry(
          `patch statefulset ${this.namespace}/${stsName}`,
          () =>
            this.apps.patchNamespacedStatefulSet(
              { namespace: this.namespace, name: stsName, body: patch },
              MERGE_PATCH,
            ),
          this.deps(ctx),
        );
        await this.event(
          'Normal',
          'TemplateUpdated',
          `statefulset ${stsName}: image ${c.image} -> ${withTag(c.image, version)}${
            isRollingUpdate(sts)
              ? `, roll frozen at partition ${replicas} (Baton replaces pods one at a time)`
              : ''
          }`,
        );
        return out;
      } catch (err) {
        if (isConflict(err) && attempt < MAX_CONFLICT_RETRIES) continue;
        throw err;
      }
    }
  }

  /**
   * For the StatefulSet of a CrdbCluster target: point the CrdbCluster at `image` and wait for its
   * operator (see {@link pointCrdbClusterAt}); the annotations to write with the template. Nothing
   * for any other target.
   */
  private async crdbAnnotations(
    stsName: string,
    image: string,
    ctx: PortContext,
  ): Promise<Record<string, string>> {
    const cluster = await this.resolvedCluster(ctx);
    if (!cluster || !isCrdbCluster(cluster.kind) || !cluster.targets.some((t) => t.name === stsName))
      return {};
    const name = cluster.object.metadata.name;
    const { annotations, message } = await pointCrdbClusterAt(
      this.io(ctx),
      this.upgradeResource,
      cluster.kind,
      name,
      image,
      { timeoutMs: CRDB_ACK_MS_TOTAL, pollMs: CRDB_ACK_MS, clock: ctx.clock, signal: ctx.signal },
    );
    if (message) await this.event('Normal', 'OwnerPointed', message);
    return annotations;
  }

  /**
   * Set the partition of a RollingUpdate StatefulSet read as `sts`. The JSON patch tests that the
   * spec is still the one read (`metadata.generation`) and the partition still the one seen, so
   * a status write by the StatefulSet controller (which changes the resourceVersion, and happens
   * exactly when a pod turns Ready) does not fail it, while any change to the spec does: the
   * caller then decides the whole step again on fresh reads ({@link replaceMember}).
   */
  private async setPartition(
    sts: V1StatefulSet,
    partition: number,
    ctx: PortContext,
  ): Promise<V1StatefulSet> {
    const stsName = sts.metadata!.name!;
    const seen = sts.spec?.updateStrategy?.rollingUpdate?.partition;
    if ((seen ?? 0) === partition) return sts;
    const generation = sts.metadata?.generation;
    const patch = [
      ...(generation !== undefined ? [{ op: 'test', path: '/metadata/generation', value: generation }] : []),
      ...(seen !== undefined
        ? [{ op: 'test', path: '/spec/updateStrategy/rollingUpdate/partition', value: seen }]
        : []),
      sts.spec?.updateStrategy?.rollingUpdate
        ? { op: 'add', path: '/spec/updateStrategy/rollingUpdate/partition', value: partition }
        : { op: 'add', path: '/spec/updateStrategy/rollingUpdate', value: { partition } },
    ];
    return withRetry(
      `patch statefulset ${this.namespace}/${stsName}`,
      () =>
        this.apps.patchNamespacedStatefulSet(
          { namespace: this.namespace, name: stsName, body: patch },
          JSON_PATCH,
        ),
      this.deps(ctx),
    );
  }

  /** Delete a pod only if it is still the object we looked at (uid precondition). */
  private async deletePod(pod: V1Pod, why: string, ctx: PortContext): Promise<void> {
    const name = pod.metadata!.name!;
    try {
      await withRetry(
        `delete pod ${this.namespace}/${name}`,
        () =>
          this.core.deleteNamespacedPod({
            namespace: this.namespace,
            name,
            body: { preconditions: { uid: pod.metadata!.uid } },
          }),
        this.deps(ctx),
      );
      await this.event('Normal', 'PodDeleted', `deleted pod ${name}: ${why}`, name);
    } catch (err) {
      // Already gone, or already replaced by a newer pod of the same name: nothing to do.
      if (isNotFound(err) || isConflict(err)) return;
      throw new OperationalError('delete-pod-failed', `delete pod ${name}: ${apiMessage(err)}`, {
        cause: err,
      });
    }
  }

  /**
   * Replace pod `name` so that it runs image tag `version` (forward or rollback alike).
   * Idempotent: a pod already running `version`, or terminating towards it, is left alone. A pod
   * of a RedisEnterpriseCluster target is not touched: the REC's versionTag is set (rec-ref.ts).
   * Throws OperationalError `out-of-order` when a RollingUpdate member is asked for before a higher
   * ordinal runs the update revision (the partition cannot skip it).
   */
  async replaceMember(
    name: string,
    version: string,
    _opts: ReplaceOptions,
    ctx: PortContext,
    seen?: SeenObjects,
  ): Promise<void> {
    const { sts: stsName, ordinal } = await this.locate(name, ctx);
    await this.checkOwnerHeld(ctx);
    const cluster = await this.resolvedCluster(ctx);
    if (cluster && isRecCluster(cluster.kind)) {
      // The Redis operator rolls the REC's pods itself once its spec names the version: Baton
      // writes that spec (once) and the runner gates each pod; the StatefulSet is left alone.
      const message = await setRecVersion(
        this.io(ctx),
        this.upgradeResource,
        cluster.kind,
        cluster.object.metadata.name,
        version,
      );
      if (message) await this.event('Normal', 'OwnerVersionSet', message, name);
      return;
    }
    // The fast path decides on the copies the caller observed (an informer cache) when the template
    // already runs `version`: the partition patch tests generation and partition, and pod deletes
    // carry the uid, so a stale copy can only fail a write (and fall back to fresh reads), never
    // make a wrong one. The pod that restarts next is then one PATCH away from its turn.
    for (let attempt = 0; ; attempt++) {
      let cached = seen && attempt === 0 ? this.seenAt(seen, stsName, version) : undefined;
      try {
        if (cached) {
          await this.step(name, ordinal, version, cached.sts, cached.pods, ctx);
          return;
        }
        // One read of the StatefulSet and one list of its pods decide the step; every write below
        // is guarded by what they returned (generation and partition, pod uid), so the step is as
        // safe as reading each object again, and the pod that must restart next is not kept
        // waiting for the reads. The first replacement of a roll (the template written just now,
        // the partition still frozen, so no pod moved) takes the observed pods when there are.
        const sts = await this.ensureTemplate(stsName, version, ctx);
        const seenPods = seen && attempt === 0 ? seen.pods(sts) : undefined;
        if (seenPods) cached = { sts, pods: seenPods };
        await this.step(name, ordinal, version, sts, seenPods ?? (await this.podsOf(sts, ctx)), ctx);
        return;
      } catch (err) {
        // The copies lagged behind a pod just replaced, or someone changed the StatefulSet since
        // it was read: decide the whole step again on fresh reads.
        const outOfOrder = err instanceof OperationalError && err.code === 'out-of-order';
        const raced = isPreconditionFailed(err);
        if (!((cached && outOfOrder) || raced) || attempt >= MAX_CONFLICT_RETRIES) throw err;
      }
    }
  }

  /** The observed StatefulSet and its pods, when its template already runs `version`. */
  private seenAt(
    seen: SeenObjects,
    stsName: string,
    version: string,
  ): { sts: V1StatefulSet; pods: Map<string, V1Pod> } | undefined {
    const sts = seen.statefulSet(stsName);
    if (!sts) return undefined;
    const image = versionContainer(
      sts.spec?.template?.spec?.containers,
      this.upgradeResource.spec.target.container,
    )?.image;
    if (!image || imageTag(image) !== version) return undefined;
    const pods = seen.pods(sts);
    return pods ? { sts, pods } : undefined;
  }

  /** Replace pod `name` (ordinal `ordinal`) of `sts`, whose template runs `version`, given its pods. */
  private async step(
    name: string,
    ordinal: number,
    version: string,
    sts: V1StatefulSet,
    pods: Map<string, V1Pod>,
    ctx: PortContext,
  ): Promise<void> {
    const pod = pods.get(name);
    const c = pod
      ? versionContainer(pod.spec?.containers, this.upgradeResource.spec.target.container)
      : undefined;
    const podTag = c?.image ? imageTag(c.image) : undefined;
    const terminating = !!pod?.metadata?.deletionTimestamp;
    if (pod && !terminating && podTag === version) {
      // Nothing to restart; keep the partition in step when that is possible, never insist.
      if (isRollingUpdate(sts)) await this.lowerPartition(sts, pods, ordinal, ctx, false);
      return;
    }
    if (!isRollingUpdate(sts)) {
      if (pod && !terminating) await this.deletePod(pod, `recreated at ${version} (OnDelete)`, ctx);
      return;
    }
    const updated = await this.lowerPartition(sts, pods, ordinal, ctx);
    if (!pod || terminating) return;
    if (!isReady(pod)) {
      // The controller never replaces a pod that is not Ready (the rollback trap): do it here.
      await this.deletePod(pod, `stuck unready at ${podTag ?? 'an old image'}; recreated at ${version}`, ctx);
    }
    await this.unblockController(updated, pods, name, ctx);
  }

  /**
   * For a cluster target whose owner Baton can pause (a TidbCluster): refuse to touch its
   * StatefulSets unless this Upgrade holds it paused (the runner's take-over step), so its
   * operator cannot undo the roll. A fresh read only while the resolved copy says otherwise.
   */
  private async checkOwnerHeld(ctx: PortContext): Promise<void> {
    const cluster = await this.resolvedCluster(ctx);
    if (!cluster || !(isPausable(cluster.kind) || isCrdbCluster(cluster.kind) || isRecCluster(cluster.kind)))
      return;
    const me = this.upgradeResource.metadata.name;
    const held = (o: { metadata: { annotations?: Record<string, string> } }) =>
      o.metadata.annotations?.[PAUSED_BY_ANNOTATION] === me;
    if (held(cluster.object)) return;
    const name = cluster.object.metadata.name;
    const fresh = await readClusterObject(this.io(ctx), this.upgradeResource, cluster.kind, name);
    if (held(fresh)) {
      cluster.object = fresh;
      return;
    }
    throw new OperationalError(
      'owner-not-held',
      `${cluster.kind.kind} ${name} is not ${isPausable(cluster.kind) ? 'paused' : 'held'} by upgrade ${me}: the take-over step must run before any pod is replaced`,
    );
  }

  /**
   * Step the partition down to `ordinal` when every higher ordinal already runs the template's
   * version, so the controller replaces exactly this pod. Never raises the partition. Otherwise
   * throws `out-of-order`, or (not `strict`) leaves the partition as it is.
   */
  private async lowerPartition(
    sts: V1StatefulSet,
    pods: Map<string, V1Pod>,
    ordinal: number,
    ctx: PortContext,
    strict = true,
  ): Promise<V1StatefulSet> {
    const stsName = sts.metadata!.name!;
    const partition = sts.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
    if (partition <= ordinal) return sts;
    const templateImage = versionContainer(
      sts.spec?.template?.spec?.containers,
      this.upgradeResource.spec.target.container,
    )?.image;
    const want = templateImage ? imageTag(templateImage) : undefined;
    const replicas = sts.spec?.replicas ?? 1;
    const behind: string[] = [];
    for (let o = ordinal + 1; o < Math.min(partition, replicas); o++) {
      const p = pods.get(`${stsName}-${o}`);
      const img = p
        ? versionContainer(p.spec?.containers, this.upgradeResource.spec.target.container)?.image
        : undefined;
      if (!p || !img || imageTag(img) !== want) behind.push(`${stsName}-${o}`);
    }
    if (behind.length > 0) {
      if (!strict) return sts;
      throw new OperationalError(
        'out-of-order',
        `cannot replace ${stsName}-${ordinal} yet: ${behind.join(', ')} must run ${want} first (RollingUpdate replaces the highest ordinal first)`,
      );
    }
    const out = await this.setPartition(sts, ordinal, ctx);
    await this.event(
      'Normal',
      'PartitionLowered',
      `statefulset ${stsName}: partition ${partition} -> ${ordinal}, the controller replaces ${stsName}-${ordinal}`,
      `${stsName}-${ordinal}`,
    );
    return out;
  }

  /**
   * With OrderedReady, any unready pod stops the controller. A pod that is unready at a revision
   * that is neither current nor update was left behind by an abandoned roll and will never be
   * Ready; it is already unavailable, so deleting it (it comes back at a live revision) costs
   * nothing and lets the controller go on with `target`.
   */
  private async unblockController(
    sts: V1StatefulSet,
    seen: Map<string, V1Pod>,
    target: string,
    ctx: PortContext,
  ): Promise<void> {
    const stsName = sts.metadata!.name!;
    let pods = seen;
    const unready = (p: V1Pod) => !p.metadata?.deletionTimestamp && !isReady(p);
    if (![...pods].some(([n, p]) => n !== target && unready(p))) return;
    // Revisions are only meaningful once the controller has seen the latest template.
    const caughtUp = (s: V1StatefulSet) =>
      (s.status?.observedGeneration ?? 0) >= (s.metadata?.generation ?? 0);
    let fresh = sts;
    if (!caughtUp(fresh)) {
      try {
        fresh = await waitUntil(
          `the StatefulSet controller to observe ${stsName}'s template`,
          async () => {
            const s = await this.readStatefulSet(stsName, ctx);
            return caughtUp(s) ? s : undefined;
          },
          {
            clock: ctx.clock,
            deadline: ctx.clock.now() + STATUS_WAIT_MS_TOTAL,
            pollMs: STATUS_WAIT_MS,
            signal: ctx.signal,
          },
        );
      } catch (err) {
        // Not caught up yet: the pod in the way is looked at again when the step is re-decided.
        if (err instanceof OperationalError && err.code === 'wait-timeout') return;
        throw err;
      }
    }
    pods = await this.podsOf(fresh, ctx);
    const live = new Set([fresh.status?.currentRevision, fresh.status?.updateRevision].filter(Boolean));
    for (const [podName, p] of pods) {
      const rev = p.metadata?.labels?.[REVISION_LABEL];
      if (podName === target || !unready(p) || !rev || live.has(rev)) continue;
      await this.deletePod(
        p,
        `stuck unready at abandoned revision ${rev}, blocking the roll of ${target}`,
        ctx,
      );
    }
  }
}
