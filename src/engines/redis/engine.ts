/**
 * The Redis Cluster engine: observes roles, replication lag and cluster health through each
 * node's `CLUSTER NODES`, `CLUSTER INFO` and `INFO replication`, and drains a member by running a
 * coordinated `CLUSTER FAILOVER` on one of its replicas on another member. A former primary that
 * restarts after such a failover rejoins as a replica of the promoted node (Redis does this from
 * the newer config epoch it learns on the cluster bus), so no `restore` step is needed.
 */
import { OperationalError } from '../../core/errors.js';
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
  type RedisConnectionFactory,
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
  type SyncPolicy,
} from './topology.js';

/** Options of {@link RedisEngine}; every field has a default. */
export interface RedisEngineOptions {
  /** How to open a connection to a node; ioredis by default. */
  connect?: RedisConnectionFactory;
  timeouts?: RedisTimeouts;
  sync?: SyncPolicy;
  /** How long `drain` waits for a promotion to be seen before returning. Default 10 s. */
  failoverWaitMs?: number;
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
  private readonly pollMs: number;

  constructor(opts: RedisEngineOptions = {}) {
    this.pool = new RedisClientPool(
      opts.connect ?? ioredisConnectionFactory,
      opts.timeouts ?? DEFAULT_REDIS_TIMEOUTS,
    );
    this.sync = opts.sync ?? DEFAULT_SYNC_POLICY;
    this.failoverWaitMs = opts.failoverWaitMs ?? 10_000;
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
   * else the most caught-up) with `CLUSTER FAILOVER`, then wait up to `failoverWaitMs` until the
   * replica serves the slots and the old primary has stepped down. A member that serves no slots
   * is a no-op. A member that does not answer is left to Redis's automatic failover (a
   * coordinated failover needs the old primary). Throws OperationalError when the member serves
   * slots but has no linked replica to take them.
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
    const started = ctx.clock.now();
    ctx.logger.info('redis failover requested', {
      member: member.name,
      to: choice.replica,
      slots: formatSlots(choice.slots),
    });
    await replica.failover();
    const deadline = started + this.failoverWaitMs;
    for (;;) {
      const promoted = await replica
        .clusterNodes()
        .then((ns) => ns.find((e) => e.flags.includes('myself')))
        .catch(() => undefined);
      const stepped = old
        ? await old
            .clusterNodes()
            .then((ns) => ns.find((e) => e.flags.includes('myself')))
            .catch(() => undefined)
        : undefined;
      if (promoted && isSlotOwner(promoted) && (!stepped || !isSlotOwner(stepped))) {
        const ms = ctx.clock.now() - started;
        return {
          movedTo: choice.replica,
          message: `failed over slots ${formatSlots(choice.slots)} from ${member.name} to ${choice.replica} in ${ms} ms (${choice.reason.replace(/^.*\((.*)\)$/, '$1')})`,
        };
      }
      if (ctx.clock.now() >= deadline) {
        return {
          movedTo: choice.replica,
          message: `requested CLUSTER FAILOVER of ${member.name}'s slots ${formatSlots(choice.slots)} to ${choice.replica}; promotion not yet seen after ${this.failoverWaitMs} ms`,
        };
      }
      await ctx.clock.sleep(this.pollMs, ctx.signal);
    }
  }

  /** Disconnect every node connection. */
  async close(): Promise<void> {
    this.pool.close();
  }
}
