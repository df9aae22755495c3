/**
 * Taking a workload over from its owner and handing it back, as the runner's own journalled steps
 * (see `Custody` in core/ports.ts). Observation never writes; these are the only writes besides
 * member replacements:
 * - take over: a RollingUpdate StatefulSet is frozen (`partition = replicas`, its strategy kept in
 *   {@link ORIGINAL_STRATEGY_ANNOTATION}) so the controller restarts nothing by itself; a TidbCluster
 *   is paused (`spec.paused`, see {@link pauseTidbCluster}) so TiDB Operator leaves its StatefulSets
 *   to Baton; a CrdbCluster, which has no pause, is taken into custody (crdb-ref.ts: its spec is
 *   pointed at each version before the StatefulSet changes). OnDelete StatefulSets need nothing. A
 *   RedisEnterpriseCluster's StatefulSet is left to the Redis operator (never frozen): the REC is
 *   only marked as driven by the Upgrade (rec-ref.ts), and its pods move when its versionTag does.
 * - hand back: a StatefulSet whose roll is over (the controller saw the latest template, every pod
 *   Ready at the update revision) gets its strategy back; a TidbCluster gets back the versions it
 *   then runs and `spec.paused` as it was (see {@link handOverTidbCluster}). A cancelled roll left
 *   half-way stays held and the message says why; otherwise a workload not at rest yet is "not
 *   yet", and the runner tries again.
 */
import type { V1Pod, V1StatefulSet, V1StatefulSetUpdateStrategy } from '@kubernetes/client-node';
import type { Custody, HandBackResult, PortContext } from '../../core/ports.js';
import type { PlatformMember, UpgradeSpec } from '../../core/types.js';
import { isReady } from '../../api/conditions.js';
import type { UpgradeResource } from '../../api/upgrade.js';
import { isConflict, MERGE_PATCH, withRetry } from './api.js';
import {
  type ClusterIo,
  handOverTidbCluster,
  intentOfSpec,
  isPausable,
  type ObservedTarget,
  pauseTidbCluster,
  type ResolvedCluster,
} from './cluster-ref.js';
import { crdbDescribe, holdCrdbCluster, isCrdbCluster, releaseCrdbCluster } from './crdb-ref.js';
import { isRollingUpdate, REVISION_LABEL } from './members.js';
import { holdRec, isRecCluster, recDescribe, releaseRec } from './rec-ref.js';

/** Annotation holding the update strategy a StatefulSet had before Baton froze it (JSON). */
export const ORIGINAL_STRATEGY_ANNOTATION = 'baton.dev/original-update-strategy';

const MAX_CONFLICTS = 10;

/** A target StatefulSet as the platform resolves it. */
export interface CustodyTarget {
  name: string;
  component?: string;
}

/** What custody needs from the Kubernetes platform (reads, the cluster target, events). */
export interface CustodyHost {
  readonly namespace: string;
  readonly upgrade: UpgradeResource;
  targets(ctx: PortContext): Promise<CustodyTarget[]>;
  resolvedCluster(ctx: PortContext): Promise<ResolvedCluster | undefined>;
  readStatefulSet(name: string, ctx: PortContext): Promise<V1StatefulSet>;
  podsOf(sts: V1StatefulSet, ctx: PortContext): Promise<Map<string, V1Pod>>;
  membersFrom(
    target: CustodyTarget,
    sts: V1StatefulSet,
    pods: Map<string, V1Pod>,
    ctx: PortContext,
  ): Promise<PlatformMember[]>;
  componentOf(target: CustodyTarget, sts: V1StatefulSet): string;
  /** Components the Upgrade's engine versions on their own line (`ComponentRule.ownVersion`). */
  ownVersionComponents(): string[];
  io(ctx: PortContext): ClusterIo;
  event(type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

/** Why the roll of `sts` is not over yet (so its strategy cannot go back), or undefined. */
export function rollNotOver(sts: V1StatefulSet, pods: Map<string, V1Pod>): string | undefined {
  const name = sts.metadata?.name ?? '?';
  const update = sts.status?.updateRevision;
  if (!update || (sts.status?.observedGeneration ?? 0) < (sts.metadata?.generation ?? 0)) {
    return `statefulset ${name}: the controller has not seen its latest template yet`;
  }
  const behind: string[] = [];
  for (let i = 0; i < (sts.spec?.replicas ?? 1); i++) {
    const p = pods.get(`${name}-${i}`);
    if (!p || p.metadata?.deletionTimestamp || !isReady(p) || p.metadata?.labels?.[REVISION_LABEL] !== update)
      behind.push(`${name}-${i}`);
  }
  return behind.length > 0 ? `${behind.join(', ')} not Ready at the update revision` : undefined;
}

/** The take-over and hand-back steps of the Kubernetes platform. */
export class KubernetesCustody implements Custody {
  constructor(private readonly host: CustodyHost) {}

  async describe(ctx: PortContext): Promise<{ takeOver: string; handBack: string }> {
    const take: string[] = [];
    const back: string[] = [];
    const cluster = await this.host.resolvedCluster(ctx);
    if (cluster && isPausable(cluster.kind)) {
      const name = `${cluster.kind.kind} ${cluster.object.metadata.name}`;
      take.push(`pause ${name} (spec.paused=true) so its operator leaves the StatefulSets to Baton`);
      back.push(`hand ${name} back with the versions it then runs and spec.paused as it was`);
    }
    if (cluster && isCrdbCluster(cluster.kind)) {
      const d = crdbDescribe(cluster.object.metadata.name);
      take.push(d.takeOver);
      back.push(d.handBack);
    }
    if (cluster && isRecCluster(cluster.kind)) {
      const d = recDescribe(cluster.object.metadata.name);
      return { takeOver: d.takeOver, handBack: d.handBack };
    }
    for (const t of await this.host.targets(ctx)) {
      const sts = await this.host.readStatefulSet(t.name, ctx);
      if (!isRollingUpdate(sts)) {
        take.push(`statefulset ${t.name} is OnDelete: nothing to freeze`);
        continue;
      }
      take.push(`freeze statefulset ${t.name} (partition=${sts.spec?.replicas ?? 1})`);
      back.push(
        `restore statefulset ${t.name}'s update strategy once every pod is Ready at the update revision`,
      );
    }
    return {
      takeOver: take.join('; '),
      handBack: back.length > 0 ? `${back.join('; ')} (a cancelled roll stays held)` : 'nothing to give back',
    };
  }

  async takeOver(_spec: UpgradeSpec, ctx: PortContext): Promise<string> {
    const done: string[] = [];
    const cluster = await this.host.resolvedCluster(ctx);
    if (cluster && isPausable(cluster.kind)) {
      const upgrade = this.host.upgrade;
      const name = cluster.object.metadata.name;
      const message = await pauseTidbCluster(this.host.io(ctx), upgrade, cluster.kind, name);
      if (message) await this.host.event('Normal', 'OwnerPaused', message);
      done.push(message ?? `${cluster.kind.kind} ${name} already paused by this upgrade`);
    }
    if (cluster && isCrdbCluster(cluster.kind)) {
      const name = cluster.object.metadata.name;
      const message = await holdCrdbCluster(this.host.io(ctx), this.host.upgrade, cluster.kind, name);
      if (message) await this.host.event('Normal', 'OwnerHeld', message);
      done.push(message ?? `${cluster.kind.kind} ${name} already held by this upgrade`);
    }
    if (cluster && isRecCluster(cluster.kind)) {
      // The Redis operator rolls its StatefulSet itself: nothing of it is frozen.
      const name = cluster.object.metadata.name;
      const message = await holdRec(this.host.io(ctx), this.host.upgrade, cluster.kind, name);
      if (message) await this.host.event('Normal', 'OwnerHeld', message);
      return message ?? `${cluster.kind.kind} ${name} already driven by this upgrade`;
    }
    for (const t of await this.host.targets(ctx)) done.push(await this.freeze(t.name, ctx));
    return done.join('; ');
  }

  /** Freeze a RollingUpdate StatefulSet not frozen by this roll yet. Idempotent. */
  private async freeze(name: string, ctx: PortContext): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      const sts = await this.host.readStatefulSet(name, ctx);
      if (!isRollingUpdate(sts)) return `statefulset ${name} is OnDelete: nothing rolls by itself`;
      // Recorded: frozen by this roll already (its partition may have been stepped down since).
      if (sts.metadata?.annotations?.[ORIGINAL_STRATEGY_ANNOTATION])
        return `statefulset ${name} already frozen`;
      const replicas = sts.spec?.replicas ?? 1;
      const original = JSON.stringify(sts.spec?.updateStrategy ?? { type: 'RollingUpdate' });
      const patch = {
        metadata: {
          resourceVersion: sts.metadata!.resourceVersion,
          annotations: { [ORIGINAL_STRATEGY_ANNOTATION]: original },
        },
        spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: replicas } } },
      };
      try {
        await this.patch(name, patch, ctx);
      } catch (err) {
        if (isConflict(err) && attempt < MAX_CONFLICTS) continue;
        throw err;
      }
      const message = `statefulset ${name} frozen at partition ${replicas} (was ${original})`;
      await this.host.event('Normal', 'RollFrozen', message);
      return message;
    }
  }

  async handBack(spec: UpgradeSpec, ctx: PortContext): Promise<HandBackResult> {
    const lines: string[] = [];
    const observed: ObservedTarget[] = [];
    const restore: V1StatefulSet[] = [];
    for (const t of await this.host.targets(ctx)) {
      const sts = await this.host.readStatefulSet(t.name, ctx);
      const pods = await this.host.podsOf(sts, ctx);
      const members = await this.host.membersFrom(t, sts, pods, ctx);
      observed.push({ component: this.host.componentOf(t, sts), sts, pods, members });
      if (!isRollingUpdate(sts) || !sts.metadata?.annotations?.[ORIGINAL_STRATEGY_ANNOTATION]) continue;
      const why = rollNotOver(sts, pods);
      if (!why) restore.push(sts);
      else if (spec.cancel) lines.push(`statefulset ${t.name} stays frozen: ${why}`);
      else return { done: false, reason: why };
    }
    for (const sts of restore) lines.push(await this.restore(sts, ctx));
    const cluster = await this.host.resolvedCluster(ctx);
    if (cluster && isPausable(cluster.kind)) {
      const name = `${cluster.kind.kind} ${cluster.object.metadata.name}`;
      const decision = await handOverTidbCluster(
        this.host.io(ctx),
        this.host.upgrade,
        async () => intentOfSpec(spec, this.host.ownVersionComponents()),
        cluster.kind,
        cluster.object.metadata.name,
        observed,
        cluster.object,
      );
      const waiting = await this.settle(name, decision, spec.cancel, lines, {
        held: 'held',
        stays: 'paused',
        event: 'OwnerResumed',
      });
      if (waiting) return waiting;
    }
    if (cluster && isCrdbCluster(cluster.kind)) {
      const name = `${cluster.kind.kind} ${cluster.object.metadata.name}`;
      const decision = await releaseCrdbCluster(
        this.host.io(ctx),
        this.host.upgrade,
        cluster.kind,
        cluster.object.metadata.name,
        observed,
      );
      const waiting = await this.settle(name, decision, spec.cancel, lines, {
        held: 'held',
        stays: 'held',
        event: 'OwnerReleased',
      });
      if (waiting) return waiting;
    }
    if (cluster && isRecCluster(cluster.kind)) {
      const name = `${cluster.kind.kind} ${cluster.object.metadata.name}`;
      const decision = await releaseRec(
        this.host.io(ctx),
        this.host.upgrade,
        cluster.kind,
        cluster.object.metadata.name,
        observed,
      );
      const waiting = await this.settle(name, decision, spec.cancel, lines, {
        held: 'driven',
        stays: 'marked',
        event: 'OwnerReleased',
      });
      if (waiting) return waiting;
    }
    return { done: true, message: lines.length > 0 ? lines.join('; ') : 'nothing held' };
  }

  /**
   * An owner's hand-back decision into `lines`: released (with an Event), not held by this upgrade,
   * or not ready yet: the hand-back waits (returned), unless the upgrade is cancelled, when the
   * owner stays as it is and the line says why. `words` are the kind's: held/driven, paused/held/marked.
   */
  private async settle(
    name: string,
    decision: { ready: true; message: string } | { ready: false; reason: string } | undefined,
    cancel: boolean,
    lines: string[],
    words: { held: string; stays: string; event: string },
  ): Promise<{ done: false; reason: string } | undefined> {
    if (!decision) lines.push(`${name} is not ${words.held} by this upgrade`);
    else if (decision.ready) {
      await this.host.event('Normal', words.event, decision.message);
      lines.push(decision.message);
    } else if (cancel) lines.push(`${name} stays ${words.stays}: ${decision.reason}`);
    else return { done: false, reason: decision.reason };
    return undefined;
  }

  /** Give `sts` (its roll over) the strategy recorded before the freeze. */
  private async restore(read: V1StatefulSet, ctx: PortContext): Promise<string> {
    const name = read.metadata!.name!;
    let sts = read;
    for (let attempt = 0; ; attempt++) {
      const text = sts.metadata?.annotations?.[ORIGINAL_STRATEGY_ANNOTATION];
      if (!text) return `statefulset ${name}: update strategy already restored`;
      let original: V1StatefulSetUpdateStrategy;
      try {
        original = JSON.parse(text) as V1StatefulSetUpdateStrategy;
      } catch {
        original = { type: 'RollingUpdate', rollingUpdate: { partition: 0 } };
      }
      const patch = {
        metadata: {
          resourceVersion: sts.metadata!.resourceVersion,
          annotations: { [ORIGINAL_STRATEGY_ANNOTATION]: null },
        },
        spec: { updateStrategy: original },
      };
      try {
        await this.patch(name, patch, ctx);
      } catch (err) {
        if (!isConflict(err) || attempt >= MAX_CONFLICTS) throw err;
        // A status write by the controller moved the resourceVersion: read again and retry.
        sts = await this.host.readStatefulSet(name, ctx);
        continue;
      }
      const message = `statefulset ${name}: roll over, update strategy restored to ${text}`;
      await this.host.event('Normal', 'StrategyRestored', message);
      return message;
    }
  }

  private async patch(name: string, body: object, ctx: PortContext): Promise<void> {
    const io = this.host.io(ctx);
    await withRetry(
      `patch statefulset ${this.host.namespace}/${name}`,
      () => io.apps.patchNamespacedStatefulSet({ namespace: this.host.namespace, name, body }, MERGE_PATCH),
      io.deps,
    );
  }
}
