/**
 * The Redis Enterprise engine, for the three stages of the seed's upgrade: the operator (a
 * Deployment; no REST state, its availability is its health), the cluster (REC pods, one by one),
 * and the databases (REDBs). Through the REST API (client.ts):
 * - before a cluster pod goes (drain): promote the replicas of every primary shard it hosts
 *   (`POST /v1/shards/actions/failover`, one call per database), and put its node in maintenance
 *   mode (`maintenance_on`, replicas kept in place, `demote_node` when it is the cluster's master
 *   node) so that nothing moves back onto it before it restarts; the actions run asynchronously
 *   and the runner waits, observing, until the node holds no primary shard and no master role;
 * - after the pod is back (restore): `maintenance_off`, then the runner waits until the node is
 *   active on the target software and every shard on it is `ok` and in sync;
 * - a database is healthy when its bdb is `active` on the target Redis version and every shard of
 *   it is in sync.
 * Action uids issued by this engine are tracked with `GET /v1/actions/{uid}`: a failed one is
 * shown in the member's detail and makes the runner drain again.
 */
import { OperationalError, describeError } from '../../core/errors.js';
import type {
  DrainResult,
  Engine,
  EngineActionContext,
  EngineObservation,
  PortContext,
} from '../../core/ports.js';
import type {
  EngineMemberState,
  MemberView,
  PlatformMember,
  PrecheckResult,
  Snapshot,
  UpgradeSpec,
} from '../../core/types.js';
import type { EngineRules } from '../../core/rules.js';
import {
  type RedisEnterpriseApi,
  RedisEnterpriseRestClient,
  type RedisEnterpriseRestOptions,
} from './client.js';
import { bdbState, lookAt, nodeOf, recNodeState, type RecView, shardInService } from './observe.js';
import { redisEnterprisePrechecks } from './prechecks.js';
import { redisEnterpriseRules } from './rules.js';

/** Options of {@link RedisEnterpriseEngine}. */
export interface RedisEnterpriseEngineOptions {
  /** The REST client; default a {@link RedisEnterpriseRestClient} over `rest`. */
  client?: RedisEnterpriseApi;
  /**
   * Credentials, CA and deadline of the default client; without `baseUrl`, the API of the first
   * ready REC pod is used (`https://<pod endpoint>`: every node serves the REST API on 9443).
   */
  rest?: Partial<RedisEnterpriseRestOptions>;
  /** The Kubernetes version the cluster runs on (the platform's), for the compatibility precheck. */
  kubernetesVersion?: () => Promise<string | undefined>;
}

/** The REST API's port on every REC node. */
export const REC_API_PORT = 9443;

/** Every call fails: no REC pod to reach the REST API through. */
const unreachableApi: RedisEnterpriseApi = new Proxy({} as RedisEnterpriseApi, {
  get: () => () =>
    Promise.reject(
      new OperationalError(
        'redis-enterprise-unreachable',
        'no REC pod is running to reach the REST API through',
      ),
    ),
});

/** Redis Enterprise for Kubernetes through the cluster's REST API. */
export class RedisEnterpriseEngine implements Engine {
  readonly name = 'redis-enterprise';
  readonly rules: EngineRules = redisEnterpriseRules;
  private readonly fixed?: RedisEnterpriseApi;
  private readonly rest: Partial<RedisEnterpriseRestOptions>;
  private readonly clients = new Map<string, RedisEnterpriseApi>();
  private api: RedisEnterpriseApi;
  private readonly kubernetesVersion?: () => Promise<string | undefined>;
  /** Actions this engine started, per member, newest last (lost on restart: shard roles still tell). */
  private readonly issued = new Map<string, string[]>();
  /** The last `maintenance_on` action per member. */
  private readonly maintenanceOn = new Map<string, string[]>();
  /** The last `maintenance_off` action per member (a restore asked again while it runs waits for it). */
  private readonly maintenanceOff = new Map<string, string[]>();
  /** The last failed action per member, until the member holds nothing. */
  private readonly failures = new Map<string, string>();

  constructor(opts: RedisEnterpriseEngineOptions = {}) {
    this.rest = opts.rest ?? {};
    this.fixed =
      opts.client ??
      (this.rest.baseUrl
        ? new RedisEnterpriseRestClient(this.rest as RedisEnterpriseRestOptions)
        : undefined);
    this.api = this.fixed ?? unreachableApi;
    this.kubernetesVersion = opts.kubernetesVersion;
  }

  /** Point {@link api} at the REST API: the configured one, else a ready REC pod's. */
  private use(members: PlatformMember[]): void {
    if (this.fixed) return;
    const pod =
      members.find((m) => m.component === 'rec' && m.ready && m.endpoint) ??
      members.find((m) => m.component === 'rec' && m.running && m.endpoint);
    if (!pod) {
      this.api = unreachableApi;
      return;
    }
    const host = pod.endpoint!.replace(/^\w+:\/\//, '');
    const baseUrl = `https://${/:\d+$/.test(host) ? host : `${host}:${REC_API_PORT}`}`;
    let client = this.clients.get(baseUrl);
    if (!client) {
      client = new RedisEnterpriseRestClient({ ...this.rest, baseUrl });
      this.clients.set(baseUrl, client);
    }
    this.api = client;
  }

  private async stateOf(m: PlatformMember, view: RecView): Promise<EngineMemberState | undefined> {
    if (m.component === 'operator') {
      return {
        role: 'none',
        healthy: m.ready,
        caughtUp: m.ready,
        lag: 0,
        detail: m.ready ? 'operator Deployment available' : 'operator Deployment not available',
      };
    }
    if (m.component === 'redb') {
      const bdb = view.bdbs.find((b) => b.name === m.name);
      return bdb ? bdbState(m, bdb, view) : undefined;
    }
    const node = nodeOf(m, view);
    if (!node) return undefined;
    const state = recNodeState(m, node, view);
    const failed = await this.failedAction(m.name);
    // A failed hand-over is drained again at once, and stays in the detail while the node still
    // holds something, so that a pause on the drain timeout names it.
    if (failed) {
      this.failures.set(m.name, failed);
      state.drainInPlace = false;
    }
    if ((state.leaderCount ?? 0) === 0) this.failures.delete(m.name);
    const last = this.failures.get(m.name);
    if (last) state.detail = `${state.detail}; last hand-over: ${last}`;
    return state;
  }

  /** Whether an action of `issued` (per member) for `member` is still running. */
  private async pending(issued: Map<string, string[]>, member: string): Promise<boolean> {
    for (const uid of issued.get(member) ?? []) {
      try {
        const a = await this.api.action(uid);
        if (a.status !== 'completed' && a.status !== 'failed') return true;
      } catch {
        // An action the cluster no longer knows is not running.
      }
    }
    return false;
  }

  /** The last failed action this engine issued for `member`, described, if any. */
  private async failedAction(member: string): Promise<string | undefined> {
    for (const uid of this.issued.get(member) ?? []) {
      try {
        const a = await this.api.action(uid);
        if (a.status === 'failed') {
          this.issued.set(
            member,
            (this.issued.get(member) ?? []).filter((u) => u !== uid),
          );
          return `${a.name} action ${uid} failed${a.error ? `: ${a.error}` : ''}`;
        }
      } catch {
        // An action the cluster no longer knows is no news.
      }
    }
    return undefined;
  }

  /**
   * Per member as described above; the cluster is healthy when a majority of nodes is active, a
   * master node exists, every database is active and no shard is down.
   */
  async observe(members: PlatformMember[], _ctx: PortContext): Promise<EngineObservation> {
    this.use(members);
    let view: RecView;
    try {
      view = await lookAt(this.api);
    } catch (err) {
      // The operator's state needs no REST; everything else is unknown.
      const states: Record<string, EngineMemberState> = {};
      for (const m of members.filter((x) => x.component === 'operator')) {
        states[m.name] = (await this.stateOf(m, { nodes: [], status: {}, shards: [], bdbs: [] }))!;
      }
      return {
        members: states,
        health: { healthy: false, detail: `REST API unreachable: ${describeError(err)}` },
      };
    }
    const states: Record<string, EngineMemberState> = {};
    for (const m of members) {
      const s = await this.stateOf(m, view);
      if (s) states[m.name] = s;
    }
    const active = view.nodes.filter((n) => n.status === 'active').length;
    const master = Object.entries(view.status).find(([, s]) => s.role === 'master');
    const downShards = view.shards.filter((s) => s.status !== 'active');
    const inactiveDbs = view.bdbs.filter((b) => b.status !== 'active');
    const problems = [
      ...(active * 2 > view.nodes.length ? [] : [`only ${active}/${view.nodes.length} nodes active`]),
      ...(master ? [] : ['no master node']),
      ...(downShards.length > 0 ? [`${downShards.length} shard(s) down`] : []),
      ...(inactiveDbs.length > 0
        ? [`databases not active: ${inactiveDbs.map((b) => `${b.name} (${b.status})`).join(', ')}`]
        : []),
    ];
    const syncing = view.shards.filter((s) => s.status === 'active' && !shardInService(s)).length;
    return {
      members: states,
      health: {
        healthy: problems.length === 0,
        detail:
          problems.length > 0
            ? problems.join('; ')
            : `${active}/${view.nodes.length} nodes active, master node ${master![0]}, ${view.bdbs.length} database(s) active` +
              (syncing > 0 ? `, ${syncing} shard(s) syncing` : ''),
        facts: {
          activeNodes: active,
          nodes: view.nodes.length,
          masterNode: master?.[0] ?? '',
          shardsDown: downShards.length,
        },
      },
    };
  }

  async prechecks(snapshot: Snapshot, spec: UpgradeSpec, _ctx: PortContext): Promise<PrecheckResult[]> {
    this.use(snapshot.members);
    const view = await lookAt(this.api);
    const kubernetes = this.kubernetesVersion ? await this.kubernetesVersion() : undefined;
    return redisEnterprisePrechecks(view, snapshot, spec, kubernetes);
  }

  /**
   * Hand over what a cluster pod holds before it goes: fail over its primary shards (one call per
   * database), then maintenance mode (demoting it when it is the master node). Idempotent: a node
   * already holding nothing gets nothing; an action refused because the database is busy (409)
   * leaves the previous one running; shards another party failed over meanwhile, and a node that
   * is down already (its pod going, as in the Redis operator's own roll of a REC), are no error.
   * Operator and database members hold nothing.
   */
  async drain(
    member: MemberView,
    _target: MemberView | undefined,
    _s: Snapshot,
    _ctx: EngineActionContext,
  ): Promise<DrainResult> {
    if (member.component !== 'rec') return { message: `${member.name} holds no shard` };
    // Through another pod's API: this one is about to go.
    this.use(_s.members.filter((m) => m.name !== member.name));
    const view = await lookAt(this.api);
    const node = nodeOf(member, view);
    if (!node)
      throw new OperationalError('redis-enterprise-no-node', `no REC node answers for pod ${member.name}`);
    const st = view.status[String(node.uid)];
    const primaries = view.shards.filter((s) => s.node_uid === String(node.uid) && s.role === 'master');
    const byDb = new Map<number, string[]>();
    for (const s of primaries) byDb.set(s.bdb_uid, [...(byDb.get(s.bdb_uid) ?? []), s.uid]);
    const done: string[] = [];
    const issued = this.issued.get(member.name) ?? [];
    for (const [bdb, uids] of byDb) {
      try {
        const action = await this.api.failoverShards(uids);
        issued.push(action);
        done.push(`failover of bdb ${bdb} shards ${uids.join(', ')} (action ${action})`);
      } catch (err) {
        const why = describeError(err);
        // Someone else (the Redis operator rolling a REC, the cluster's own failover) promoted
        // the replica meanwhile: nothing left to do for these shards.
        if (/shard_is_slave/.test(why)) {
          done.push(`bdb ${bdb} shards ${uids.join(', ')} already failed over`);
          continue;
        }
        if (!/\b409\b|db_busy/.test(why)) throw err;
        done.push(`bdb ${bdb} busy: a failover or upgrade is already running`);
      }
    }
    if (node.status !== 'active') {
      // Its pod is already going (the Redis operator's own roll of a REC): maintenance mode would
      // be refused, and the cluster fails over what the node still holds by itself.
      done.push(`node ${node.uid} is ${node.status}: its pod is already going, no maintenance mode`);
    } else if (!st?.maintenance_snapshot && !(await this.pending(this.maintenanceOn, member.name))) {
      // A drain repeated while its maintenance_on still runs must not activate maintenance mode
      // again (each activation takes a snapshot of its own).
      const demote = st?.role === 'master';
      try {
        const action = await this.api.nodeAction(node.uid, 'maintenance_on', {
          evict_ha_replica: false,
          evict_active_active_replica: false,
          ...(demote ? { demote_node: true } : {}),
        });
        issued.push(action);
        this.maintenanceOn.set(member.name, [action]);
        done.push(
          `maintenance_on node ${node.uid}${demote ? ' (demoting the master node)' : ''} (action ${action})`,
        );
      } catch (err) {
        // Refused because the node went down meanwhile (its pod is being replaced by its owner):
        // as above. Any other refusal is the drain's failure.
        const again = nodeOf(member, await lookAt(this.api));
        if (!again || again.status === 'active') throw err;
        done.push(`node ${node.uid} went ${again.status} meanwhile: no maintenance mode`);
      }
    }
    this.issued.set(member.name, issued);
    return { message: `${member.name}: ${done.length > 0 ? done.join('; ') : 'holds nothing'}` };
  }

  /** After the pod is back: maintenance off (restores the node's snapshot). Idempotent. */
  async restore(member: MemberView, snapshot: Snapshot, _ctx: PortContext): Promise<void> {
    if (member.component !== 'rec') return;
    this.use(snapshot.members);
    const view = await lookAt(this.api);
    const node = nodeOf(member, view);
    if (!node || !view.status[String(node.uid)]?.maintenance_snapshot) return;
    // Asked again while its maintenance_off still runs (the snapshot stays until it is done).
    if (await this.pending(this.maintenanceOff, member.name)) return;
    const action = await this.api.nodeAction(node.uid, 'maintenance_off', {});
    this.issued.set(member.name, [action]);
    this.maintenanceOff.set(member.name, [action]);
  }
}
