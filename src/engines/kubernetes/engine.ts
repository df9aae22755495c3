/**
 * The `kubernetes-nodes` engine on a real cluster: what Kubernetes thinks of each node (Ready, what
 * is left on it while Baton drains it, whether the workloads evicted from it are available again,
 * which database members it hosts), the drain (cordon with Baton's annotation, database members
 * handed over by their own engine first, then the Eviction API), the restore (uncordon only Baton's
 * cordon) and the named node prechecks. Members are Node objects; the node a member names is its
 * `endpoint` (a replacement node of a `replace` pool keeps the member name of the node it replaces).
 *
 * Drain semantics follow kubectl drain (staging/src/k8s.io/kubectl/pkg/drain/drain.go,
 * cordon.go): cordon = `spec.unschedulable: true`; pods filtered as in `pods.ts`; each evicted with
 * a policy/v1 Eviction, a 429 (a PodDisruptionBudget refusing) retried later, here by the runner's
 * re-drain back-off rather than kubectl's fixed 5 s loop.
 */
import type { KubeConfig, V1Node, V1Pod } from '@kubernetes/client-node';
import { VersionApi } from '@kubernetes/client-node';
import type {
  DrainResult,
  Engine,
  EngineActionContext,
  EngineObservation,
  HandOverBlocked,
  PortContext,
} from '../../core/ports.js';
import type {
  EngineMemberState,
  HostedMember,
  MemberView,
  PlatformMember,
  PrecheckResult,
  Snapshot,
  UpgradeSpec,
} from '../../core/types.js';
import { membersDownTolerated, type EngineRules } from '../../core/rules.js';
import { OperationalError } from '../../core/errors.js';
import { compareVersions, parseVersion } from '../../core/version.js';
import { largestBatch, batchSize } from '../../plan/batches.js';
import {
  DATABASE_COMPONENT_LABELS,
  DATABASE_ENGINE_LABEL,
  NODE_ANNOTATIONS,
  drainOptions,
  readDrainRecord,
  type DrainOptions,
  type DrainRecord,
  type NodesTarget,
} from '../../api/nodes.js';
import type { NodeInformers } from '../../api/node-informers.js';
import { NodeApi, nodeReady, podReady, workloadUnavailable, type ClusterView } from './cluster.js';
import { JSON_PATCH, MERGE_PATCH, apiMessage, httpStatus, isPreconditionFailed } from '../../api/client.js';
import { blockingBudgets, budgetsOf, controllerOf, keyOf, planPod, type PodPlan } from './pods.js';
import { CONTROL_PLANE, kubernetesNodesRules, MAX_KUBELET_MINORS_BEHIND } from './rules.js';

/**
 * How the engine reaches the database members a node hosts (built by the composition root from the
 * database engines on pods): their own drain before their pod is evicted, and their health and
 * catch-up once the pod is back.
 */
/** A database member whose engine cannot hand it over on Kubernetes, and why. */
export type BlockedPod = HandOverBlocked & { pod: string };

export interface DatabaseDrains {
  /**
   * Hand over what pod `pod` (a member of StatefulSet `namespace/name`, engine `engine`) holds, and
   * say whether it holds nothing now (only then is it evicted). Idempotent.
   */
  drain(engine: string, statefulSet: string, pod: string, ctx: PortContext): Promise<DatabaseHandOver>;
  /**
   * Whether the database is healthy with member `pod` caught up; `detail` says why not. Once the
   * member is back and Ready, first undoes what its drain set up for it (the database engine's
   * restore: Redis Enterprise's maintenance mode off, TiKV's evict-leader scheduler removed), as a
   * roll does after each member; idempotent, so a restarted Baton does it again.
   */
  caughtUp(
    engine: string,
    statefulSet: string,
    pod: string,
    ctx: PortContext,
  ): Promise<{ ok: boolean; detail: string }>;
  /**
   * Of `pods` (members of StatefulSet `namespace/name`, engine `engine`), those whose database
   * cannot hand them over on Kubernetes however often the drain tries (a PostgreSQL primary:
   * `platform-cannot-stop`), with the code and why; asks the database's own engine, changes
   * nothing. Optional: without it no member is known to be blocked.
   */
  blockers?(engine: string, statefulSet: string, pods: string[], ctx: PortContext): Promise<BlockedPod[]>;
  /**
   * Members of the database (of `component` when the StatefulSet names one) that may be down at
   * once (`membersDownTolerated` in core/rules.ts, the one home of the rule).
   */
  tolerates(engine: string, replicas: number, component?: string): number;
  /** Release the database clients. */
  close?(): Promise<void>;
}

/** What a database's own drain of a member did. */
export interface DatabaseHandOver {
  /** The member holds nothing now: its pod may be evicted. */
  done: boolean;
  /** What was handed over, or why not yet; absent when there was nothing to hand over. */
  message?: string;
  /**
   * The database cannot hand this member over here, and trying again will not change that (a
   * PostgreSQL switchover needs the member stopped without its pod being replaced, which Kubernetes
   * cannot do: `platform-cannot-stop`): the node's drain fails with this cause, which pauses the
   * upgrade, instead of retrying until the drain timeout.
   */
  blocked?: HandOverBlocked;
}

/** Options of {@link KubernetesNodesEngine}. */
export interface NodesEngineOptions {
  kc: KubeConfig;
  /** `<namespace>/<name>` of the Upgrade: the value of Baton's cordon annotation. */
  upgrade: string;
  target: NodesTarget;
  databases?: DatabaseDrains;
  /**
   * The informers observations read through (shared with the node platform); the engine stops them
   * when closed. Without them every observation lists the cluster.
   */
  informers?: NodeInformers;
}

const MAX_NAMED = 3;

function named(xs: string[]): string {
  return xs.length <= MAX_NAMED
    ? xs.join(', ')
    : `${xs.slice(0, MAX_NAMED).join(', ')} and ${xs.length - MAX_NAMED} more`;
}

/** The database engine of a pod's StatefulSet (label `baton.dev/engine`), if it is one. */
function databaseOf(
  view: ClusterView,
  pod: V1Pod,
): { engine: string; component?: string; sts: string; replicas: number; ready: number } | undefined {
  const owner = controllerOf(pod);
  if (owner?.kind !== 'StatefulSet') return undefined;
  const key = `${pod.metadata?.namespace}/StatefulSet/${owner.name}`;
  const w = view.workloads.get(key);
  if (w?.kind !== 'StatefulSet') return undefined;
  const labels = w.obj.metadata?.labels ?? {};
  const engine = labels[DATABASE_ENGINE_LABEL];
  if (!engine) return undefined;
  const component = DATABASE_COMPONENT_LABELS.map((l) => labels[l]).find((v) => !!v);
  return {
    engine,
    ...(component ? { component } : {}),
    sts: `${pod.metadata?.namespace}/${owner.name}`,
    replicas: w.obj.spec?.replicas ?? 1,
    ready: w.obj.status?.readyReplicas ?? 0,
  };
}

/** Kubernetes nodes: cordon, drain, uncordon and prechecks through the API server. */
export class KubernetesNodesEngine implements Engine {
  readonly name = 'kubernetes-nodes';
  readonly rules: EngineRules;
  private readonly api: NodeApi;
  private readonly version: VersionApi;
  private readonly key: string;
  private readonly opts: DrainOptions;
  private readonly databases?: DatabaseDrains;
  /** The informers observations read through (the platform of the same upgrade shares them). */
  readonly informers?: NodeInformers;
  /**
   * Per node, the drain record whose evicted workloads and databases were all back: not asked again
   * (a database's catch-up is a call to it) until the node is drained again.
   */
  private readonly settled = new Map<string, string>();
  /**
   * Per pod (`namespace/name`) whose database's own drain is not done, why (the database's words),
   * so what is left on a node, and so the drain timeout's cause, names it. Set and cleared by the
   * drain; a restarted Baton knows it again after its next drain attempt.
   */
  private readonly notHandedOver = new Map<string, string>();

  constructor(o: NodesEngineOptions) {
    this.rules = kubernetesNodesRules(o.target.via);
    this.api = new NodeApi(o.kc, o.informers);
    this.informers = o.informers;
    this.version = o.kc.makeApiClient(VersionApi);
    this.key = o.upgrade;
    this.opts = drainOptions(o.target);
    this.databases = o.databases;
  }

  async observe(members: PlatformMember[], ctx: PortContext): Promise<EngineObservation> {
    const view = await this.api.view(true, ctx.signal);
    const out: Record<string, EngineMemberState> = {};
    let ready = 0;
    for (const m of members) {
      const node = view.nodes.get(m.endpoint ?? m.name);
      if (!node) continue;
      const state = await this.memberState(view, node, ctx);
      if (state.healthy) ready += 1;
      out[m.name] = state;
    }
    return { members: out, health: { healthy: true, detail: `${ready} of ${members.length} nodes Ready` } };
  }

  private async memberState(view: ClusterView, node: V1Node, ctx: PortContext): Promise<EngineMemberState> {
    const name = node.metadata!.name!;
    const ready = nodeReady(node);
    const pods = view.podsByNode.get(name) ?? [];
    const record = readDrainRecord(node.metadata?.annotations);
    const ours = record?.upgrade === this.key;
    const state: EngineMemberState = { role: 'none', healthy: ready, caughtUp: ready, lag: 0 };
    // While cordoned for this upgrade, what is still on the node is what the drain has left to do.
    if (node.spec?.unschedulable && ours) {
      this.settled.delete(name);
      // Pods still terminating count too: the drain is over once they are gone (kubectl waits).
      const left = pods
        .map((p) => planPod(p, this.opts))
        .filter((p) => p.action !== 'skip' || p.pod.metadata?.deletionTimestamp);
      state.leaderCount = left.length;
      if (left.length > 0) {
        state.detail = leftDetail(name, left, view, this.notHandedOver);
        // Only pods already terminating: another drain would evict nothing (it waits for them).
        state.drainInPlace = left.every((p) => !!p.pod.metadata?.deletionTimestamp);
      }
    }
    const hosts: HostedMember[] = [];
    for (const p of pods) {
      const db = databaseOf(view, p);
      if (!db || p.metadata?.deletionTimestamp) continue;
      hosts.push({
        group: db.sts,
        member: p.metadata!.name!,
        // Without the databases' rules, one member at a time (the rule for any database not raft).
        tolerates:
          this.databases?.tolerates(db.engine, db.replicas, db.component) ??
          membersDownTolerated(undefined, db.replicas),
        groupDown: Math.max(0, db.replicas - db.ready),
        healthy: podReady(p),
      });
    }
    if (hosts.length > 0) state.hosts = hosts;
    const drained = node.metadata?.annotations?.[NODE_ANNOTATIONS.drained];
    if (ours && ready && !node.spec?.unschedulable && this.settled.get(name) !== drained) {
      const waits = await this.afterDrain(record, view, ctx);
      if (waits.length > 0) {
        state.caughtUp = false;
        state.detail = `waiting for what was evicted from ${name}: ${named(waits)}`;
      } else if (drained) this.settled.set(name, drained);
    }
    return state;
  }

  /** What the drain of a node took off it and is not back yet: workloads not available, databases not caught up. */
  private async afterDrain(record: DrainRecord, view: ClusterView, ctx: PortContext): Promise<string[]> {
    // Back when no worse than before the drain: a replica unavailable already then is not waited for.
    const waits = record.workloads.filter(
      (w) => workloadUnavailable(view.workloads.get(w)) > (record.unavailableBefore?.[w] ?? 0),
    );
    for (const d of record.databases) {
      const [ns, sts, pod] = d.split('/');
      const w = view.workloads.get(`${ns}/StatefulSet/${sts}`);
      const engine = w?.kind === 'StatefulSet' ? w.obj.metadata?.labels?.[DATABASE_ENGINE_LABEL] : undefined;
      if (!engine || !this.databases) continue;
      const r = await this.databases.caughtUp(engine, `${ns}/${sts}`, pod!, ctx).catch((err: unknown) => ({
        ok: false,
        detail: apiMessage(err),
      }));
      if (!r.ok) waits.push(`${d} (${r.detail})`);
    }
    return waits;
  }

  /** Stop the informers and release the database clients. */
  async close(): Promise<void> {
    await Promise.all([this.informers?.stop(), this.databases?.close?.()]);
  }

  async prechecks(snapshot: Snapshot, spec: UpgradeSpec, ctx: PortContext): Promise<PrecheckResult[]> {
    // With the workloads: a pod's database is its StatefulSet's label.
    const view = await this.api.view(true, ctx.signal);
    const todo = snapshot.members.filter((m) => compareVersions(m.version, spec.version) < 0);
    return [
      this.readyCheck(todo),
      this.poolCheck(snapshot, todo, spec),
      this.drainSimulation(todo, view),
      this.policyCheck(todo, view),
      await this.handOverCheck(todo, view, ctx),
      await this.skewCheck(snapshot, spec),
    ];
  }

  private readyCheck(todo: MemberView[]): PrecheckResult {
    const notReady = todo.filter((m) => !m.ready).map((m) => m.name);
    return notReady.length === 0
      ? { name: 'nodes-ready', ok: true, reason: `all ${todo.length} nodes to upgrade are Ready` }
      : {
          name: 'nodes-ready',
          ok: false,
          reason: `NotReady: ${named(notReady)}; bring them back or cordon and remove them from the pool`,
        };
  }

  private poolCheck(snapshot: Snapshot, todo: MemberView[], spec: UpgradeSpec): PrecheckResult {
    const problems: string[] = [];
    for (const pool of new Set(todo.map((m) => m.component))) {
      const members = snapshot.members.filter((m) => m.component === pool);
      const policy = pool === CONTROL_PLANE ? ({ kind: 'serial' } as const) : spec.strategy.batch;
      const cap = Math.min(largestBatch(policy, members.length), spec.strategy.maxUnavailable);
      const first = Math.min(batchSize(policy, members.length, 0), members.length);
      const down = members.filter((m) => !m.ready);
      if (down.length + first > Math.max(cap, 1)) {
        problems.push(
          `${pool} can lose ${cap} of ${members.length} nodes and ${down.length} are NotReady (${named(down.map((m) => m.name))}), so a first batch of ${first} would exceed it`,
        );
      }
    }
    return problems.length === 0
      ? { name: 'pool-can-lose-batch', ok: true, reason: 'every pool can lose its first batch' }
      : { name: 'pool-can-lose-batch', ok: false, reason: problems.join('; ') };
  }

  private drainSimulation(todo: MemberView[], view: ClusterView): PrecheckResult {
    const plans = todo.flatMap((m) =>
      (view.podsByNode.get(m.endpoint ?? m.name) ?? []).map((p) => planPod(p, this.opts)),
    );
    const blocking = blockingBudgets(plans, view.pdbs);
    if (blocking.length === 0) {
      return {
        name: 'drain-simulation',
        ok: true,
        reason: `no PodDisruptionBudget refuses an eviction now (${plans.filter((p) => p.action === 'evict').length} pods to evict)`,
      };
    }
    return {
      name: 'drain-simulation',
      ok: false,
      reason: blocking
        .map(
          (b) =>
            `PodDisruptionBudget ${b.budget} allows ${b.allowed} disruptions and would refuse evicting ${named(b.pods)}`,
        )
        .join('; '),
    };
  }

  private policyCheck(todo: MemberView[], view: ClusterView): PrecheckResult {
    const plans = todo.flatMap((m) =>
      (view.podsByNode.get(m.endpoint ?? m.name) ?? []).map((p) => planPod(p, this.opts)),
    );
    const refused = plans.filter((p) => p.action === 'refuse').map((p) => `${keyOf(p.pod)} (${p.reason})`);
    const deleted = plans.filter((p) => p.action === 'delete').map((p) => `${keyOf(p.pod)} (${p.reason})`);
    const lossy = plans
      .filter((p) => p.action === 'evict' && p.reason !== 'evicted')
      .map((p) => keyOf(p.pod));
    const told = [
      deleted.length ? `deleted: ${named(deleted)}` : '',
      lossy.length ? `evicted losing emptyDir data: ${named(lossy)}` : '',
    ].filter(Boolean);
    if (refused.length > 0) {
      return {
        name: 'pods-drain-policy',
        ok: false,
        reason: `the drain would refuse ${named(refused)}; set spec.target.nodes.drain or move them${told.length ? `; ${told.join('; ')}` : ''}`,
      };
    }
    return {
      name: 'pods-drain-policy',
      ok: true,
      reason: told.length ? told.join('; ') : 'every pod to move has a controller and no local storage',
    };
  }

  /**
   * Every database member on a node to upgrade can be handed over by its own engine before the
   * drain evicts it: one that cannot (a PostgreSQL primary) would pause the upgrade when the drain
   * reaches its node, with that node already cordoned; named here before anything moves.
   */
  private async handOverCheck(
    todo: MemberView[],
    view: ClusterView,
    ctx: PortContext,
  ): Promise<PrecheckResult> {
    const name = 'databases-hand-over';
    const byDatabase = new Map<string, { engine: string; sts: string; nodeOf: Map<string, string> }>();
    for (const m of todo) {
      const node = m.endpoint ?? m.name;
      for (const p of view.podsByNode.get(node) ?? []) {
        const db = databaseOf(view, p);
        if (!db || p.metadata?.deletionTimestamp) continue;
        const key = `${db.engine}:${db.sts}`;
        const entry = byDatabase.get(key) ?? { engine: db.engine, sts: db.sts, nodeOf: new Map() };
        entry.nodeOf.set(p.metadata!.name!, node);
        byDatabase.set(key, entry);
      }
    }
    const members = [...byDatabase.values()].reduce((n, d) => n + d.nodeOf.size, 0);
    const problems: string[] = [];
    if (this.databases?.blockers) {
      for (const d of byDatabase.values()) {
        const [ns] = d.sts.split('/');
        try {
          const blocked = await this.databases.blockers(d.engine, d.sts, [...d.nodeOf.keys()], ctx);
          for (const b of blocked) {
            const node = d.nodeOf.get(b.pod) ?? '?';
            problems.push(
              `${node} hosts ${ns}/${b.pod}, which its database (${d.engine} ${d.sts}) cannot hand over before the drain (${b.code}: ${b.message}): switch it over by hand (e.g. with the database's operator) and check again, or leave ${node} out of the upgrade's pools, or force ${name} and the upgrade pauses when the drain reaches ${node}`,
            );
          }
        } catch (err) {
          problems.push(
            `cannot ask ${d.engine} ${d.sts} whether its members on ${named([...new Set(d.nodeOf.values())])} can be handed over: ${apiMessage(err)}`,
          );
        }
      }
    }
    if (problems.length > 0) return { name, ok: false, reason: problems.join('; ') };
    return {
      name,
      ok: true,
      reason:
        members === 0
          ? 'no database member on the nodes to upgrade'
          : `every database member on the nodes to upgrade can be handed over by its database (${members} members of ${byDatabase.size} databases)`,
    };
  }

  private async skewCheck(snapshot: Snapshot, spec: UpgradeSpec): Promise<PrecheckResult> {
    const name = 'version-skew';
    let server: string;
    try {
      server = (await this.version.getCode()).gitVersion;
    } catch (err) {
      return { name, ok: false, reason: `cannot read the API server's /version: ${apiMessage(err)}` };
    }
    const api = parseVersion(server);
    const target = parseVersion(spec.version);
    const problems: string[] = [];
    for (const m of snapshot.members) {
      const v = parseVersion(m.version);
      if (compareVersions(v, api) > 0)
        problems.push(`${m.name} runs kubelet ${m.version}, newer than the API server ${server}`);
      if (api.minor - v.minor > MAX_KUBELET_MINORS_BEHIND)
        problems.push(
          `${m.name} runs kubelet ${m.version}, more than ${MAX_KUBELET_MINORS_BEHIND} minors behind the API server ${server}`,
        );
    }
    if (target.minor - api.minor > 1 && !(this.rules.versions.releases?.length ?? 0)) {
      problems.push(`${spec.version} is more than one minor past the API server ${server}`);
    }
    return problems.length === 0
      ? { name, ok: true, reason: `API server ${server}; every kubelet within the skew policy` }
      : { name, ok: false, reason: named(problems) };
  }

  async drain(
    member: MemberView,
    _t: MemberView | undefined,
    _s: Snapshot,
    ctx: EngineActionContext,
  ): Promise<DrainResult> {
    const node = member.endpoint ?? member.name;
    // The pods first, so that the cordon and the record of what is about to be evicted are one
    // write. A pod bound after this read is not in the plans: it is still on the cordoned node, so
    // the runner drains again, and that drain records and evicts it.
    const pods = await this.api.podsOn(node);
    const plans = pods.map((p) => planPod(p, this.opts));
    const cordon = await this.cordon(node, plans);
    if (cordon === 'gone') return { message: `${node} is gone; nothing to drain` };
    const view = { workloads: new Map(), nodes: new Map(), podsByNode: new Map(), pdbs: [] } as ClusterView;
    const needsView = this.databases && plans.some((p) => controllerOf(p.pod)?.kind === 'StatefulSet');
    const full = needsView ? await this.api.view(true, ctx.signal) : view;
    const force = ctx.timedOut === true;
    let evicted = 0;
    let deleted = 0;
    const refused: string[] = [];
    const handed: string[] = [];
    const blocked: BlockedPod[] = [];
    await Promise.all(
      plans.map(async (p) => {
        if (p.action === 'skip') return;
        if (p.action === 'refuse' && !force) return refused.push(`${keyOf(p.pod)} (${p.reason})`);
        if (p.action === 'delete' || force) {
          await this.deletePod(p.pod);
          deleted += 1;
          return;
        }
        const db = databaseOf(full, p.pod);
        const key = keyOf(p.pod);
        if (db && this.databases) {
          const h: DatabaseHandOver = await this.databases
            .drain(db.engine, db.sts, p.pod.metadata!.name!, ctx)
            .catch((err: unknown) => ({ done: false, message: `${key}: ${apiMessage(err)}` }));
          if (h.blocked) {
            this.notHandedOver.set(key, `${h.blocked.code}: ${h.blocked.message}`);
            return blocked.push({ pod: key, ...h.blocked });
          }
          if (h.message) handed.push(h.message);
          // Still holding: not evicted this time; the runner drains again on its back-off.
          if (!h.done) {
            const why = h.message ?? 'not yet';
            this.notHandedOver.set(key, why);
            return refused.push(`${key} (its database's own drain is not done: ${why})`);
          }
          this.notHandedOver.delete(key);
        }
        const r = await this.evict(p.pod);
        if (r === 'ok') evicted += 1;
        else refused.push(r);
      }),
    );
    if (blocked.length > 0) {
      // Retrying cannot help: fail the drain, so the upgrade pauses with the database's cause.
      const b = blocked[0]!;
      throw new OperationalError(
        b.code,
        `${b.pod} cannot be handed over by its database on Kubernetes (${b.code}: ${b.message}); it stays on the cordoned node: hand it over by hand, then resume`,
      );
    }
    const parts = [
      cordon === 'admin'
        ? `${node} was already cordoned by someone else (it stays cordoned)`
        : `cordoned ${node}`,
      ...handed,
      `evicted ${evicted} pods`,
      ...(deleted ? [`deleted ${deleted} pods${force ? ' (drain timed out, policy delete)' : ''}`] : []),
      ...(refused.length ? [`not yet: ${named(refused)}`] : []),
    ];
    return { message: parts.join('; ') };
  }

  /**
   * Cordon `node` with Baton's annotation unless it is cordoned already (`admin` when someone
   * else's cordon holds it), and add the controllers and database members of `plans` (the pods
   * about to go) to its drain record, in one write when Baton cordons it. Decided on the informer's
   * copy of the Node when there is one (the patch carries its resourceVersion, so a stale copy only
   * costs a conflict and a read), else on a read.
   */
  private async cordon(node: string, plans: PodPlan[]): Promise<'ours' | 'admin' | 'gone'> {
    for (let attempt = 0; ; attempt++) {
      let n: V1Node | undefined = attempt === 0 ? this.api.cachedNode(node) : undefined;
      try {
        n ??= await this.api.core.readNode({ name: node });
      } catch (err) {
        if (httpStatus(err) === 404) return 'gone';
        throw err;
      }
      const ann = n.metadata?.annotations ?? {};
      const held: 'ours' | 'admin' | undefined =
        ann[NODE_ANNOTATIONS.cordonedBy] === this.key ? 'ours' : n.spec?.unschedulable ? 'admin' : undefined;
      const record = await this.drainRecord(n, plans);
      if (held && !record) return held;
      try {
        const written = await this.api.core.patchNode(
          {
            name: node,
            body: {
              metadata: {
                resourceVersion: n.metadata?.resourceVersion,
                annotations: {
                  ...(held ? {} : { [NODE_ANNOTATIONS.cordonedBy]: this.key }),
                  ...(record ? { [NODE_ANNOTATIONS.drained]: record } : {}),
                },
              },
              ...(held ? {} : { spec: { unschedulable: true } }),
            },
          },
          MERGE_PATCH,
        );
        this.api.wrote(written);
        return held ?? 'ours';
      } catch (err) {
        if (httpStatus(err) === 404) return 'gone';
        if (httpStatus(err) !== 409 || attempt >= 5) throw err;
      }
    }
  }

  /**
   * Node `n`'s drain record with the controllers and database members of the pods about to go
   * added, serialized; undefined when it already holds them. A workload added here records how many
   * of its replicas are unavailable now, before this drain evicts any of its pods.
   */
  private async drainRecord(n: V1Node, plans: PodPlan[]): Promise<string | undefined> {
    const prev = readDrainRecord(n.metadata?.annotations);
    const mine = prev?.upgrade === this.key;
    const rec: DrainRecord = mine ? prev : { upgrade: this.key, workloads: [], databases: [] };
    const before = JSON.stringify(rec);
    for (const p of plans) {
      if (p.action === 'skip') continue;
      const owner = controllerOf(p.pod);
      if (!owner || (owner.kind !== 'ReplicaSet' && owner.kind !== 'StatefulSet')) continue;
      const w = `${p.pod.metadata?.namespace}/${owner.kind}/${owner.name}`;
      if (!rec.workloads.includes(w)) {
        rec.workloads.push(w);
        const down = workloadUnavailable(await this.api.workload(w));
        if (down > 0) rec.unavailableBefore = { ...rec.unavailableBefore, [w]: down };
      }
      if (owner.kind === 'StatefulSet') {
        const d = `${p.pod.metadata?.namespace}/${owner.name}/${p.pod.metadata?.name}`;
        if (!rec.databases.includes(d)) rec.databases.push(d);
      }
    }
    const after = JSON.stringify(rec);
    return mine && after === before ? undefined : after;
  }

  /** Evict a pod: 'ok' (gone or going), or why not (a PodDisruptionBudget's 429). */
  private async evict(pod: V1Pod): Promise<string> {
    const grace = this.opts.gracePeriodSeconds;
    try {
      await this.api.core.createNamespacedPodEviction({
        name: pod.metadata!.name!,
        namespace: pod.metadata!.namespace!,
        body: {
          apiVersion: 'policy/v1',
          kind: 'Eviction',
          metadata: { name: pod.metadata!.name!, namespace: pod.metadata!.namespace! },
          ...(grace !== undefined ? { deleteOptions: { gracePeriodSeconds: grace } } : {}),
        },
      });
      return 'ok';
    } catch (err) {
      const code = httpStatus(err);
      if (code === 404) return 'ok';
      if (code === 429 || code === 500 || code === 503)
        return `${keyOf(pod)} (eviction refused: ${apiMessage(err)})`;
      throw err;
    }
  }

  private async deletePod(pod: V1Pod): Promise<void> {
    const grace = this.opts.gracePeriodSeconds;
    try {
      await this.api.core.deleteNamespacedPod({
        name: pod.metadata!.name!,
        namespace: pod.metadata!.namespace!,
        ...(grace !== undefined ? { gracePeriodSeconds: grace } : {}),
      });
    } catch (err) {
      if (httpStatus(err) !== 404) throw err;
    }
  }

  /**
   * Uncordon the node if Baton's cordon (this upgrade's) holds it; an admin's cordon stays. One JSON
   * patch that tests the cordon is still ours, so the kubelet's status writes (which happen just
   * as a restarted node comes back) cost no conflict and no second read.
   */
  async restore(member: MemberView, _s: Snapshot, _ctx: PortContext): Promise<void> {
    const node = member.endpoint ?? member.name;
    const cordonedBy = `/metadata/annotations/${NODE_ANNOTATIONS.cordonedBy.replaceAll('~', '~0').replaceAll('/', '~1')}`;
    for (let attempt = 0; ; attempt++) {
      // The informer's copy first (a stale one only costs a conflict and a read).
      const cached = attempt === 0 ? this.api.cachedNode(node) : undefined;
      let n: V1Node;
      try {
        n = cached ?? (await this.api.core.readNode({ name: node }));
      } catch (err) {
        if (httpStatus(err) === 404) return;
        throw err;
      }
      if (n.metadata?.annotations?.[NODE_ANNOTATIONS.cordonedBy] !== this.key) {
        if (cached) continue; // the copy may predate the cordon: read it
        return;
      }
      try {
        const written = await this.api.core.patchNode(
          {
            name: node,
            body: [
              { op: 'test', path: cordonedBy, value: this.key },
              { op: 'remove', path: cordonedBy },
              { op: 'add', path: '/spec/unschedulable', value: false },
            ],
          },
          JSON_PATCH,
        );
        this.api.wrote(written);
        return;
      } catch (err) {
        // The cordon changed hands since it was read: read the Node again and decide.
        if (!isPreconditionFailed(err) || attempt >= 5) throw err;
      }
    }
  }
}

/**
 * "2 pods left on n1: app/web-1 (PodDisruptionBudget app/web allows 0 disruptions), db/pg-0 (its
 * database's own drain is not done: ...)": what the drain still waits for, in the words of what
 * holds each pod.
 */
function leftDetail(
  node: string,
  left: PodPlan[],
  view: ClusterView,
  notHandedOver: ReadonlyMap<string, string>,
): string {
  const items = left.map((p) => {
    if (p.action === 'refuse') return `${keyOf(p.pod)} (${p.reason})`;
    const held = notHandedOver.get(keyOf(p.pod));
    if (held && !p.pod.metadata?.deletionTimestamp)
      return `${keyOf(p.pod)} (its database's own drain is not done: ${held})`;
    const b = budgetsOf(p.pod, view.pdbs).find((x) => (x.status?.disruptionsAllowed ?? 0) < 1);
    if (b)
      return `${keyOf(p.pod)} (PodDisruptionBudget ${keyOf(b)} allows ${b.status?.disruptionsAllowed ?? 0} disruptions)`;
    return `${keyOf(p.pod)}${p.pod.metadata?.deletionTimestamp ? ' (terminating)' : ''}`;
  });
  return `${left.length} pods left on ${node}: ${named(items)}`;
}
