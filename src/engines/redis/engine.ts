/**
 * The Redis Cluster engine: observes roles, replication lag and cluster health through each
 * node's `CLUSTER NODES`, `CLUSTER INFO` and `INFO replication`, and drains a member by running a
 * coordinated `CLUSTER FAILOVER` on one of its replicas on another member. A former primary that
 * restarts after such a failover rejoins as a replica of the promoted node (Redis does this from
 * the newer config epoch it learns on the cluster bus), so no `restore` step is needed.
 */
import { OperationalError } from '../../core/errors.js';
import { waitUntil, type WaitOptions } from '../../core/wait.js';
import type {
  DrainResult,
  Engine,
  EngineActionContext,
  EngineObservation,
  PortContext,
} from '../../core/ports.js';
import type { MemberView, PlatformMember, PrecheckResult, Snapshot, UpgradeSpec } from '../../core/types.js';
import {
  DEFAULT_REDIS_TIMEOUTS,
  RedisClientPool,
  ioredisConnectionFactory,
  makeIoredisConnectionFactory,
  type RedisAuth,
  type RedisConnectionFactory,
  type RedisNodeClient,
  type RedisTimeouts,
} from './client.js';
import { formatSlots, isSlotOwner } from './parse.js';
import { redisRules } from './rules.js';
import {
  DEFAULT_SYNC_POLICY,
  chooseFailover,
  clusterHealth,
  evaluatePrechecks,
  memberStates,
  readTopology,
  viewsBehind,
  type SyncPolicy,
} from './topology.js';

/** Options of {@link RedisEngine}; every field has a default. */
export interface RedisEngineOptions {
  /** How to open a connection to a node; ioredis by default. */
  connect?: RedisConnectionFactory;
  /** Credentials of the default ioredis connections (ignored with `connect`). */
  auth?: RedisAuth;
  timeouts?: RedisTimeouts;
  sync?: SyncPolicy;
  /** How long `drain` waits for a promotion to be seen before returning. Default 15 s. */
  failoverWaitMs?: number;
  /**
   * How long one `CLUSTER FAILOVER` attempt may take before it is issued again. Default 5.5 s:
   * Redis abandons a manual failover after 5 s.
   */
  attemptMs?: number;
  /** Poll interval while waiting for a promotion. Default 50 ms. */
  pollMs?: number;
}

/** Engine for Redis Cluster (one node per member). */
export class RedisEngine implements Engine {
  readonly name = 'redis';
  readonly rules = redisRules;
  private readonly pool: RedisClientPool;
  private readonly sync: SyncPolicy;
  private readonly failoverWaitMs: number;
  private readonly attemptMs: number;
  private readonly pollMs: number;

  constructor(opts: RedisEngineOptions = {}) {
    this.pool = new RedisClientPool(
      opts.connect ?? (opts.auth ? makeIoredisConnectionFactory(opts.auth) : ioredisConnectionFactory),
      opts.timeouts ?? DEFAULT_REDIS_TIMEOUTS,
    );
    this.sync = opts.sync ?? DEFAULT_SYNC_POLICY;
    this.failoverWaitMs = opts.failoverWaitMs ?? 15_000;
    this.attemptMs = opts.attemptMs ?? 5_500;
    this.pollMs = opts.pollMs ?? 50;
  }

  /** Roles, offsets and lag of every member that answers, and cluster health. Never throws. */
  async observe(members: PlatformMember[], _ctx: PortContext): Promise<EngineObservation> {
    const topo = await readTopology(members, this.pool);
    return { members: memberStates(topo, this.sync), health: clusterHealth(topo) };
  }

  /**
   * Every precheck of `redisRules`, from a fresh read of the topology of the snapshot's members
   * (the snapshot's member states do not carry which replica follows which primary).
   */
  async prechecks(snapshot: Snapshot, _spec: UpgradeSpec, _ctx: PortContext): Promise<PrecheckResult[]> {
    const topo = await readTopology(snapshot.members, this.pool);
    return evaluatePrechecks(topo, snapshot.members, this.sync);
  }

  /**
   * Move the primary on `member` to a linked replica on another member (`target` when it is one,
   * else the most caught-up) with `CLUSTER FAILOVER`. Before asking, wait (up to `attemptMs`)
   * until every node sees both in their roles; then wait up to `failoverWaitMs`, capped by the
   * spec's drain timeout, until the replica serves the slots and the old primary has stepped
   * down, asking again after each `attemptMs` without a promotion. Returns a "not yet seen"
   * message when the wait ends first. A member that serves no slots is a no-op. A member that
   * does not answer is left to Redis's automatic failover (a coordinated failover needs the old
   * primary). Throws OperationalError when the member serves slots but has no linked replica.
   */
  async drain(
    member: MemberView,
    target: MemberView | undefined,
    snapshot: Snapshot,
    ctx: EngineActionContext,
  ): Promise<DrainResult> {
    const members = snapshot.members.some((m) => m.name === member.name)
      ? snapshot.members
      : [...snapshot.members, member];
    const topo = await readTopology(members, this.pool);
    const choice = chooseFailover(topo, member.name, target?.name);
    if (choice.kind === 'not-primary' || choice.kind === 'unreachable') return { message: choice.reason };
    if (choice.kind === 'no-replica') {
      throw new OperationalError(
        'redis-no-replica',
        `cannot move primary off ${member.name}: ${choice.reason}`,
      );
    }
    const replica = this.pool.node(choice.replicaEndpoint);
    const old = member.endpoint !== undefined ? this.pool.node(member.endpoint) : undefined;
    const myself = (client: RedisNodeClient | undefined) =>
      client
        ?.clusterNodes()
        .then((ns) => ns.find((e) => e.flags.includes('myself')))
        .catch(() => undefined);
    // Issue the failover only once every node sees the primary and the replica in their roles
    // (bounded by one attempt's time; the attempt loop below copes if they still have not).
    const where = { member: member.name, to: choice.replica };
    let behind: string[] = [];
    let first: typeof topo | undefined = topo;
    try {
      await waitUntil(
        () =>
          `every node to see ${member.name} as primary and ${choice.replica} as its replica (${[...new Set(behind)].join(', ')} not yet)`,
        async () => {
          const t = first ?? (await readTopology(members, this.pool));
          first = undefined;
          const own = (name: string) => t.nodes.find((n) => n.member === name)?.myself;
          const [p, r] = [own(member.name), own(choice.replica)];
          behind = [...(p ? viewsBehind(t, p) : []), ...(r ? viewsBehind(t, r) : [])];
          return behind.length === 0 ? true : undefined;
        },
        this.waitOptions(ctx, this.attemptMs, where, 'redis-views-behind'),
      );
    } catch (err) {
      if (!(err instanceof OperationalError) || err.code !== 'redis-views-behind') throw err;
    }
    const started = ctx.clock.now();
    // Never outwait the runner's own drain bound.
    const drainBoundMs = (ctx.spec.strategy?.timeouts?.drainSeconds ?? Infinity) * 1000;
    const waitMs = Math.min(this.failoverWaitMs, drainBoundMs);
    let attempts = 0;
    let attemptEnds = started;
    try {
      return await waitUntil(
        () =>
          `${choice.replica} to serve ${member.name}'s slots ${formatSlots(choice.slots)} after CLUSTER FAILOVER (attempt ${attempts})`,
        async (): Promise<DrainResult | undefined> => {
          if (ctx.clock.now() >= attemptEnds) {
            // A coordinated failover that does not complete within Redis's manual-failover timeout
            // is abandoned by Redis (e.g. the primaries refused to vote because they voted for this
            // shard less than 2 x cluster-node-timeout ago); asking again then succeeds.
            attempts++;
            ctx.logger.info('redis failover requested', {
              ...where,
              slots: formatSlots(choice.slots),
              attempt: attempts,
            });
            await replica.failover();
            attemptEnds = ctx.clock.now() + this.attemptMs;
          }
          const [promoted, stepped] = await Promise.all([myself(replica), myself(old)]);
          if (!promoted || !isSlotOwner(promoted) || (stepped && isSlotOwner(stepped))) return undefined;
          const ms = ctx.clock.now() - started;
          return {
            movedTo: choice.replica,
            message: `failed over slots ${formatSlots(choice.slots)} from ${member.name} to ${choice.replica} (${choice.why}) in ${ms} ms${attempts > 1 ? ` after ${attempts} CLUSTER FAILOVER attempts` : ''}`,
          };
        },
        this.waitOptions(ctx, waitMs, where, 'redis-promotion-not-seen'),
      );
    } catch (err) {
      if (!(err instanceof OperationalError) || err.code !== 'redis-promotion-not-seen') throw err;
      return {
        movedTo: choice.replica,
        message: `requested CLUSTER FAILOVER of ${member.name}'s slots ${formatSlots(choice.slots)} to ${choice.replica} ${attempts} time(s); promotion not yet seen after ${waitMs} ms`,
      };
    }
  }

  /** Options of one of the drain's waits: `ms` from now on the action's clock, its logger showing why. */
  private waitOptions(
    ctx: EngineActionContext,
    ms: number,
    fields: Record<string, unknown>,
    code: string,
  ): WaitOptions {
    return {
      clock: ctx.clock,
      deadline: ctx.clock.now() + ms,
      pollMs: this.pollMs,
      signal: ctx.signal,
      code,
      logger: ctx.logger,
      fields,
    };
  }

  /** Disconnect every node connection. */
  async close(): Promise<void> {
    this.pool.close();
  }
}
