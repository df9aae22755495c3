/**
 * The database drains of a node upgrade (the node engine's {@link DatabaseDrains} port), built from
 * the engines Baton drives on pods: before a node's drain evicts a pod of a StatefulSet labelled
 * `baton.dev/engine: <engine>`, that engine hands over what the pod holds (etcd `move-leader`, a
 * Redis failover, a PostgreSQL switchover) exactly as an upgrade of that database would before
 * stopping the member, and after the pod is back the node waits for the engine's health and
 * catch-up. Composition only: the members and their admin endpoints come from the Kubernetes
 * platform of the StatefulSet (the Upgrade in its namespace that targets it, for its endpoints,
 * port and credentials; else the StatefulSet alone, members reached by pod DNS names), the roles
 * and the hand-over from the database's own engine.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, KIND, type UpgradeResource } from '../api/upgrade.js';
import type { Clock } from '../core/clock.js';
import { describeError, OperationalError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { DrainResult, Engine, PortContext } from '../core/ports.js';
import { membersDownTolerated } from '../core/rules.js';
import { isLeaderRole, type MemberView, type Snapshot } from '../core/types.js';
import { parseVersion } from '../core/version.js';
import type { BlockedPod, DatabaseDrains, DatabaseHandOver } from '../engines/kubernetes/engine.js';
import { engineRegistry, engineRules, knownEngines } from '../engines/registry.js';
import { PLATFORM_CANNOT_STOP } from '../engines/postgres/switchover.js';
import { UpgradeResourceJournal } from '../platforms/kubernetes/journal.js';
import { ordinalOf } from '../platforms/kubernetes/members.js';
import { KubernetesPlatform } from '../platforms/kubernetes/statefulset.js';
import { observe } from '../runner/observe.js';
import { makeSpec } from '../runner/start.js';
import { engineForUpgrade } from './kubernetes.js';

/**
 * Codes of a database drain's errors that retrying cannot change on pods: a PostgreSQL switchover
 * needs the primary stopped without its pod being replaced, and the Kubernetes platform has no
 * such stop (`platform-cannot-stop`, engines/postgres/switchover.ts). The node's drain then fails
 * with the cause (the upgrade pauses) instead of retrying until its timeout.
 */
const CANNOT_HAND_OVER: ReadonlySet<string> = new Set([PLATFORM_CANNOT_STOP]);

/** Options of {@link PodDatabaseDrains}. */
export interface PodDatabaseDrainsOptions {
  kc: KubeConfig;
  clock: Clock;
  logger: Logger;
  /** How long a hand-over may take to show (the member no longer leads) before the drain retries (default 10 s). */
  handOverMs?: number;
}

interface Database {
  platform: KubernetesPlatform;
  engine: Engine;
}

/** Whether a member holds leadership now (a leader role, or leaders of ranges). */
function holds(m: MemberView): boolean {
  return isLeaderRole(m.engine?.role) || (m.engine?.leaderCount ?? 0) > 0;
}

/** Upgrades newest first. */
function newestFirst(all: UpgradeResource[]): UpgradeResource[] {
  return all.sort((a, b) =>
    (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''),
  );
}

/** The Upgrades of `namespace` that target StatefulSet `name` by its name, newest first. */
function referencing(all: UpgradeResource[], name: string): UpgradeResource[] {
  return newestFirst(
    all.filter((u) => {
      const t = u.spec?.target ?? {};
      return t.statefulSet === name || (t.statefulSets ?? []).some((s) => s.name === name);
    }),
  );
}

/** Database drains through the engines on pods (see the module comment). */
export class PodDatabaseDrains implements DatabaseDrains {
  private readonly databases = new Map<string, Promise<Database>>();
  /**
   * Members (`namespace/statefulset/pod`) this process restored since it last drained them: the
   * engine's restore runs once per drain here, and again after a restart (it is idempotent).
   */
  private readonly restored = new Set<string>();

  constructor(private readonly o: PodDatabaseDrainsOptions) {}

  /** The platform and engine of StatefulSet `namespace/name` run by `engine`, built once. */
  private database(engine: string, sts: string, ctx: PortContext): Promise<Database> {
    const key = `${engine}:${sts}`;
    let d = this.databases.get(key);
    if (!d) {
      d = this.build(engine, sts, ctx);
      d.catch(() => this.databases.delete(key));
      this.databases.set(key, d);
    }
    return d;
  }

  private platformOf(upgrade: UpgradeResource, journal: UpgradeResourceJournal): KubernetesPlatform {
    const { kc, clock, logger } = this.o;
    const namespace = upgrade.metadata.namespace!;
    return new KubernetesPlatform({
      kc,
      engines: engineRegistry,
      namespace,
      upgrade,
      journal,
      clock,
      logger,
    });
  }

  /**
   * The newest Upgrade of `engine` that targets its database through a cluster reference (a
   * TidbCluster, CrdbCluster, RedisEnterpriseCluster) whose members include pods of StatefulSet
   * `name`, as the Kubernetes platform resolves that reference.
   */
  private async byClusterReference(
    all: UpgradeResource[],
    engine: string,
    name: string,
    journal: UpgradeResourceJournal,
    ctx: PortContext,
  ): Promise<UpgradeResource | undefined> {
    const candidates = newestFirst(all.filter((u) => u.spec?.target?.cluster && u.spec.engine === engine));
    for (const u of candidates) {
      const members = await this.platformOf(u, journal)
        .listMembers(ctx)
        .catch(() => []);
      if (members.some((m) => ordinalOf(name, m.name) !== undefined)) return u;
    }
    return undefined;
  }

  private async build(engineName: string, sts: string, ctx: PortContext): Promise<Database> {
    const { kc, clock, logger } = this.o;
    const [namespace, name] = sts.split('/') as [string, string];
    const journal = new UpgradeResourceJournal({ kc, namespace, clock, logger });
    const all = await journal.listResources();
    const found =
      referencing(all, name)[0] ?? (await this.byClusterReference(all, engineName, name, journal, ctx));
    const base: UpgradeResource = found ?? {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name: `${name}-node-drain`, namespace },
      spec: { engine: engineName, version: '0.0.0', target: { statefulSet: name } },
    };
    // The whole database when its Upgrade names several StatefulSets or the cluster they form: a
    // TiKV store's hand-over goes through PD, the members of another one. Else only this
    // StatefulSet. With the engine its label names either way.
    const t = base.spec.target;
    const whole = !!t.cluster || (t.statefulSets?.length ?? 0) > 1;
    const upgrade: UpgradeResource = {
      ...base,
      spec: {
        ...base.spec,
        engine: engineName,
        target: whole ? t : { ...t, statefulSet: name, statefulSets: undefined, cluster: undefined },
      },
    };
    const engine = await engineForUpgrade(kc, upgrade, 'spec.engine', engineName);
    return { platform: this.platformOf(upgrade, journal), engine };
  }

  async drain(engine: string, sts: string, pod: string, ctx: PortContext): Promise<DatabaseHandOver> {
    const db = await this.database(engine, sts, ctx);
    this.restored.delete(`${sts}/${pod}`);
    const snap = await observe(db.platform, db.engine, ctx);
    const me = snap.members.find((m) => m.name === pod);
    if (!me || !holds(me)) return { done: true };
    const target = successor(snap, me);
    // The spec of an upgrade that keeps the member at its version: only the drain's context.
    const version = (() => {
      try {
        parseVersion(me.version);
        return me.version;
      } catch {
        return '0.0.0';
      }
    })();
    const spec = makeSpec({ name: `${pod}-node-drain`, cluster: sts, engine, version });
    let r: DrainResult;
    try {
      r = await db.engine.drain(me, target, snap, { ...ctx, platform: db.platform, spec });
    } catch (err) {
      if (err instanceof OperationalError && CANNOT_HAND_OVER.has(err.code)) {
        return { done: false, blocked: { code: err.code, message: err.message } };
      }
      throw err;
    }
    // Evict only once the database says the member holds nothing any more.
    const deadline = ctx.clock.now() + (this.o.handOverMs ?? 10_000);
    for (;;) {
      const now = (await observe(db.platform, db.engine, ctx)).members.find((m) => m.name === pod);
      if (!now || !holds(now)) return { done: true, message: `${sts}: ${r.message}` };
      if (ctx.clock.now() >= deadline) {
        return { done: false, message: `${pod} of ${sts} still leads after: ${r.message}` };
      }
      await ctx.clock.sleep(100, ctx.signal);
    }
  }

  async blockers(engine: string, sts: string, pods: string[], ctx: PortContext): Promise<BlockedPod[]> {
    const db = await this.database(engine, sts, ctx);
    if (!db.engine.handOverBlocked) return [];
    // The roles as the drain sees them (the same observation), judged by the engine's own rule.
    const snap = await observe(db.platform, db.engine, ctx);
    return pods.flatMap((pod) => {
      const me = snap.members.find((m) => m.name === pod);
      const b = me && holds(me) ? db.engine.handOverBlocked?.(me, snap, db.platform) : undefined;
      return b ? [{ pod, ...b }] : [];
    });
  }

  async caughtUp(
    engine: string,
    sts: string,
    pod: string,
    ctx: PortContext,
  ): Promise<{ ok: boolean; detail: string }> {
    const db = await this.database(engine, sts, ctx);
    let snap: Snapshot;
    try {
      snap = await observe(db.platform, db.engine, ctx);
    } catch (err) {
      return { ok: false, detail: describeError(err) };
    }
    const me = snap.members.find((m) => m.name === pod);
    if (!me) return { ok: false, detail: `${pod} is not back yet` };
    if (!me.ready) return { ok: false, detail: `${pod} is not ready` };
    const key = `${sts}/${pod}`;
    if (db.engine.restore && !this.restored.has(key)) {
      // Back: undo what its drain set up (maintenance mode, an evict-leader scheduler), as a roll
      // does once a member is back, then judge it on a fresh observation.
      await db.engine.restore(me, snap, ctx);
      this.restored.add(key);
      return { ok: false, detail: `${pod} back: its database's drain undone, checking it again` };
    }
    if (me.engine && (!me.engine.healthy || !me.engine.caughtUp)) {
      return { ok: false, detail: me.engine.detail ?? `${pod} has not caught up` };
    }
    if (!snap.health.healthy) return { ok: false, detail: snap.health.detail };
    return { ok: true, detail: snap.health.detail };
  }

  tolerates(engine: string, replicas: number, component?: string): number {
    const rules = knownEngines().includes(engine) ? engineRules(engine) : undefined;
    return membersDownTolerated(rules, replicas, component);
  }

  async close(): Promise<void> {
    const all = [...this.databases.values()];
    this.databases.clear();
    await Promise.all(all.map(async (d) => (await d.catch(() => undefined))?.engine.close?.()));
  }
}

/** The member to take over: a ready, healthy, caught-up other member of its component, least lagging first. */
function successor(snap: Snapshot, me: MemberView): MemberView | undefined {
  return snap.members
    .filter(
      (m) =>
        m.name !== me.name &&
        m.component === me.component &&
        m.ready &&
        m.engine?.healthy !== false &&
        m.engine?.caughtUp !== false,
    )
    .sort((a, b) => (a.engine?.lag ?? 0) - (b.engine?.lag ?? 0))[0];
}
